package scan_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/tools/scan"
	"github.com/modelgate/modelgate/tools/scan/pickle"
)

type expectation struct {
	Verdict string `json:"verdict"`
	Why     string `json:"why"`
	Code    string `json:"code"`
}

func loadExpected(t *testing.T, dir string) map[string]expectation {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "expected.json"))
	require.NoError(t, err)
	var exp map[string]expectation
	require.NoError(t, json.Unmarshal(data, &exp))
	require.NotEmpty(t, exp)
	return exp
}

func codes(r scan.Result) []string {
	var out []string
	for _, f := range r.Findings {
		out = append(out, f.Code)
	}
	return out
}

// TestOracleFixtures checks every verdict of the third-party fixtures.
func TestOracleFixtures(t *testing.T) {
	t.Parallel()
	runExpected(t, "../../testdata/scan/fixtures")
}

// TestCorpus checks the bypass corpus (gen_corpus.py): every malicious
// file unsafe with the expected finding code, every benign file safe,
// every malformed file invalid.
func TestCorpus(t *testing.T) {
	t.Parallel()
	runExpected(t, "../../testdata/scan/corpus")
}

func runExpected(t *testing.T, dir string) {
	for rel, want := range loadExpected(t, dir) {
		t.Run(rel, func(t *testing.T) {
			t.Parallel()
			res, err := scan.File(context.Background(), filepath.Join(dir, rel), scan.Options{})
			require.NoError(t, err)
			require.Equal(t, want.Verdict, res.Verdict, "%s (%s): findings %+v", rel, want.Why, res.Findings)
			if want.Code != "" {
				require.Contains(t, codes(res), want.Code, "%s: %+v", rel, res.Findings)
			}
			require.Len(t, res.SHA256, 64)
			if want.Verdict == scan.Safe {
				for _, f := range res.Findings {
					require.NotContains(t, []string{scan.Critical, scan.High}, f.Severity, "benign %s: %+v", rel, f)
				}
			}
			if want.Verdict == scan.Invalid {
				require.NotEmpty(t, res.Findings, "an invalid file must say why")
				require.True(t, slices.ContainsFunc(res.Findings, scan.Finding.Reason))
			}
		})
	}
}

func TestFindingDetails(t *testing.T) {
	t.Parallel()
	dir := "../../testdata/scan"
	tests := []struct {
		file, format, code, module, name, location string
	}{
		{"fixtures/malicious/os-system-p4.pkl", "pickle", "scan.pickle.global", "posix", "system", "offset 28"},
		{"fixtures/malicious/torch-malicious.pt", "pytorch", "scan.pickle.global", "posix", "system", "archive/data.pkl offset 2"},
		{"corpus/malicious/memo-strings.pkl", "pickle", "scan.pickle.global", "posix", "system", ""},
		{"corpus/malicious/memo-overwrite.pkl", "pickle", "scan.pickle.global", "subprocess", "check_output", ""},
		{"corpus/malicious/torch-renamed-folder.pt", "pytorch", "scan.pickle.global", "posix", "system", "totally_not_a_model/data.pkl offset 2"},
		{"corpus/malicious/nested-loads.pkl", "pickle", "scan.pickle.global", "os", "system", ""},
		{"corpus/malicious/object-dtype.npy", "numpy", "scan.pickle.global", "os", "system", ""},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			res, err := scan.File(context.Background(), filepath.Join(dir, tt.file), scan.Options{})
			require.NoError(t, err)
			require.Equal(t, tt.format, res.Format)
			i := slices.IndexFunc(res.Findings, func(f scan.Finding) bool {
				return f.Code == tt.code && f.Module == tt.module && f.Name == tt.name
			})
			require.GreaterOrEqual(t, i, 0, "no %s for %s.%s in %+v", tt.code, tt.module, tt.name, res.Findings)
			require.Equal(t, scan.Critical, res.Findings[i].Severity)
			if tt.location != "" {
				require.Equal(t, tt.location, res.Findings[i].Location)
			}
		})
	}
}

func TestAllowAndDeny(t *testing.T) {
	t.Parallel()
	file := "../../testdata/scan/corpus/malicious/unknown-module.pkl"
	allow := pickle.MustPolicy(pickle.PolicyParams{Allow: []string{"evilpkg.payload.Loader"}})
	res, err := scan.File(context.Background(), file, scan.Options{Policy: allow})
	require.NoError(t, err)
	require.Equal(t, scan.Safe, res.Verdict, "%+v", res.Findings)

	require.True(t, slices.ContainsFunc(res.Findings, func(f scan.Finding) bool {
		return f.Code == "scan.pickle.allowed_by_config" && f.Module == "evilpkg.payload" && f.Name == "Loader"
	}), "every use of an allowlist extension is reported: %+v", res.Findings)

	// wildcards would let in whatever the module re-exports
	_, err = pickle.NewPolicy(pickle.PolicyParams{Allow: []string{"evilpkg.*"}})
	require.ErrorContains(t, err, "exact names")

	deny := pickle.MustPolicy(pickle.PolicyParams{Deny: []string{"collections.OrderedDict"}})
	res, err = scan.File(context.Background(), "../../testdata/scan/fixtures/benign/torch-state-dict.pt", scan.Options{Policy: deny})
	require.NoError(t, err)
	require.Equal(t, scan.Unsafe, res.Verdict)
}

func TestPathsFolder(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	copyFile(t, "../../testdata/scan/fixtures/benign/weights.safetensors", filepath.Join(dir, "w.safetensors"))
	copyFile(t, "../../testdata/scan/fixtures/malicious/builtins-eval.pkl", filepath.Join(dir, "sub", "x.bin"))
	require.NoError(t, os.Symlink("/etc/passwd", filepath.Join(dir, "link")))
	rep, err := scan.Paths(context.Background(), []string{dir}, scan.Options{})
	require.NoError(t, err)
	require.Len(t, rep.Files, 3)
	require.Equal(t, scan.Summary{Safe: 1, Unsafe: 2}, rep.Summary)
	require.False(t, rep.OK())

	_, err = scan.Paths(context.Background(), []string{filepath.Join(dir, "missing")}, scan.Options{})
	require.Error(t, err)
	require.Contains(t, err.Error(), "missing")
}

func TestMaxSizeAndUnknown(t *testing.T) {
	t.Parallel()
	res, err := scan.File(context.Background(), "../../testdata/scan/fixtures/benign/sklearn-logreg.pkl", scan.Options{MaxSize: 100})
	require.NoError(t, err)
	require.Equal(t, scan.Invalid, res.Verdict)
	require.Equal(t, "scan.size", res.Findings[0].Code)

	res, err = scan.File(context.Background(), "../../testdata/scan/corpus/invalid/unknown.bin", scan.Options{AllowUnknown: true})
	require.NoError(t, err)
	require.Equal(t, scan.Safe, res.Verdict)
	require.Equal(t, "scan.unknown_format", res.Findings[0].Code)
}

func TestJSONContract(t *testing.T) {
	t.Parallel()
	rep, err := scan.Paths(context.Background(), []string{"../../testdata/scan/fixtures/malicious/os-system-p0.pkl"}, scan.Options{})
	require.NoError(t, err)
	data, err := json.Marshal(rep)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(data, &m))
	files := m["files"].([]any)
	f := files[0].(map[string]any)
	for _, k := range []string{"path", "format", "sha256", "size", "verdict", "findings"} {
		require.Contains(t, f, k)
	}
	fd := f["findings"].([]any)[0].(map[string]any)
	require.ElementsMatch(t, []string{"severity", "code", "message", "location"}, keys(fd))
	require.Equal(t, map[string]any{"safe": 0.0, "unsafe": 1.0, "invalid": 0.0}, m["summary"])
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(filepath.Dir(to), 0o755))
	require.NoError(t, os.WriteFile(to, data, 0o644))
}

func TestOnnxExternalDataInFolder(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// a Relu graph with one initializer whose data lives in weights.bin
	pb := func(num int, data []byte) []byte { return append([]byte{byte(num<<3 | 2), byte(len(data))}, data...) }
	entry := append(pb(1, []byte("location")), pb(2, []byte("weights.bin"))...)
	tensor := append(append(pb(8, []byte("w")), 0x10, 0x01), pb(13, entry)...)
	tensor = append(tensor, 0x70, 0x01)
	node := append(append(pb(1, []byte("x")), pb(2, []byte("y"))...), pb(4, []byte("Relu"))...)
	graph := append(append(pb(1, node), pb(2, []byte("g"))...), pb(5, tensor)...)
	model := append([]byte{0x08, 0x08}, pb(7, graph)...)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "model.onnx"), model, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "weights.bin"), []byte{0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0}, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "stray.bin"), []byte{0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0}, 0o644))
	rep, err := scan.Paths(context.Background(), []string{dir}, scan.Options{})
	require.NoError(t, err)
	got := map[string]string{}
	for _, f := range rep.Files {
		got[filepath.Base(f.Path)] = f.Format + "/" + f.Verdict
	}
	require.Equal(t, map[string]string{"model.onnx": "onnx/safe", "weights.bin": "onnx-external-data/safe", "stray.bin": "unknown/invalid"}, got)
	require.Equal(t, scan.Summary{Safe: 2, Invalid: 1}, rep.Summary)
}

func TestSymlinkedRoot(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	copyFile(t, "../../testdata/scan/fixtures/benign/weights.safetensors", filepath.Join(dir, "v3", "w.safetensors"))
	require.NoError(t, os.Symlink(filepath.Join(dir, "v3"), filepath.Join(dir, "current")))
	rep, err := scan.Paths(context.Background(), []string{filepath.Join(dir, "current")}, scan.Options{})
	require.NoError(t, err)
	require.Equal(t, scan.Summary{Safe: 1}, rep.Summary)
	require.Equal(t, filepath.Join(dir, "current", "w.safetensors"), rep.Files[0].Path)
}
