package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

const scanTD = "../../testdata/scan/"

// The CLI tests run one after another: execute shares the package-level
// logging flags.
func runScanCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := execute(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestScanCLI(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		out  string
		err  string
	}{
		{"benign folder", []string{"scan", scanTD + "fixtures/benign"}, 0, "6 safe, 0 unsafe, 0 invalid", ""},
		{"malicious", []string{"scan", scanTD + "fixtures/malicious/os-system-p4.pkl"}, 1, "scan.pickle.global", ""},
		{"invalid", []string{"scan", scanTD + "fixtures/invalid/truncated.pkl"}, 1, "truncated", ""},
		{"allow flag", []string{"scan", "--allow", "evilpkg.payload.Loader", scanTD + "corpus/malicious/unknown-module.pkl"}, 0, "1 safe", ""},
		{"bad allow entry", []string{"scan", "--allow", "nodot", scanTD + "fixtures/benign"}, 2, "", "nodot"},
		{"missing path", []string{"scan", scanTD + "nope.pkl"}, 2, "", "nope.pkl"},
		{"no args", []string{"scan"}, 2, "", ""},
		{"bad max size", []string{"scan", "--max-size", "huge", scanTD + "fixtures/benign"}, 2, "", "--max-size"},
		{"max size", []string{"scan", "--max-size", "100B", scanTD + "fixtures/benign/sklearn-logreg.pkl"}, 1, "over the limit", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := runScanCLI(t, tt.args...)
			require.Equal(t, tt.code, code, "stdout: %s\nstderr: %s", out, errs)
			require.Contains(t, out, tt.out)
			require.Contains(t, errs, tt.err)
		})
	}
}

func TestScanCLIJSON(t *testing.T) {
	code, out, _ := runScanCLI(t, "scan", "--json", scanTD+"fixtures/malicious/torch-malicious.pt", scanTD+"fixtures/benign/weights.safetensors")
	require.Equal(t, 1, code)
	var rep struct {
		Files []struct {
			Path, Format, SHA256, Verdict string
			Size                          int64
			Findings                      []struct{ Severity, Code, Message, Location string }
		}
		Summary struct{ Safe, Unsafe, Invalid int }
	}
	require.NoError(t, json.Unmarshal([]byte(out), &rep))
	require.Len(t, rep.Files, 2)
	require.Equal(t, "unsafe", rep.Files[0].Verdict)
	require.Equal(t, "critical", rep.Files[0].Findings[0].Severity)
	require.Equal(t, "archive/data.pkl offset 2", rep.Files[0].Findings[0].Location)
	require.Equal(t, 1, rep.Summary.Safe)
	require.Equal(t, 1, rep.Summary.Unsafe)
}

func TestSignCLI(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "model")
	require.NoError(t, os.MkdirAll(model, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(model, "w.bin"), []byte("weights"), 0o644))
	key := filepath.Join(dir, "k")

	code, _, errs := runScanCLI(t, "sign", "keygen", "--out", key)
	require.Equal(t, 0, code, errs)
	code, out, errs := runScanCLI(t, "sign", "--key", key, model)
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, "signed 1 file(s)")
	code, out, _ = runScanCLI(t, "sign", "verify", "--key", key+".pub", model)
	require.Equal(t, 0, code)
	require.Contains(t, out, "verified")
	code, out, _ = runScanCLI(t, "sign", "manifest", model)
	require.Equal(t, 0, code)
	require.Contains(t, out, `"path":"w.bin"`)

	require.NoError(t, os.WriteFile(filepath.Join(model, "w.bin"), []byte("WEIGHTS"), 0o644))
	code, _, errs = runScanCLI(t, "sign", "verify", "--key", key+".pub", model)
	require.Equal(t, 1, code)
	require.Contains(t, errs, "w.bin changed")
	code, out, _ = runScanCLI(t, "sign", "verify", "--json", "--key", key+".pub", model)
	require.Equal(t, 1, code)
	require.Contains(t, out, `"verified": false`)

	code, _, _ = runScanCLI(t, "sign", "verify", "--key", key, model) // private key given as public
	require.Equal(t, 2, code)
	code, _, _ = runScanCLI(t, "sign", model) // no --key
	require.Equal(t, 2, code)
	code, _, _ = runScanCLI(t, "sign", "keygen", "--out", key) // exists
	require.Equal(t, 2, code)

	// several paths: -o is required, and verify needs the same paths
	other := filepath.Join(dir, "tokenizer.json")
	require.NoError(t, os.WriteFile(other, []byte(`{}`), 0o644))
	code, _, _ = runScanCLI(t, "sign", "--key", key, model, other)
	require.Equal(t, 2, code)
	sig := filepath.Join(dir, "release.sig")
	code, _, errs = runScanCLI(t, "sign", "--key", key, "-o", sig, model, other)
	require.Equal(t, 0, code, errs)
	code, _, errs = runScanCLI(t, "sign", "verify", "--key", key+".pub", "--signature", sig, model, other)
	require.Equal(t, 0, code, errs)
	code, _, _ = runScanCLI(t, "sign", "verify", "--key", key+".pub", "--signature", sig, model)
	require.Equal(t, 1, code)
}
