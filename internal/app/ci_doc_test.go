package app_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/modelgate/modelgate/internal/auth"
)

// ciScript is the curl sequence of docs/ci.md, between its markers.
func ciScript(t *testing.T) string {
	t.Helper()
	doc, err := os.ReadFile("../../docs/ci.md")
	require.NoError(t, err)
	_, rest, ok := strings.Cut(string(doc), "<!-- ci-script:begin -->")
	require.True(t, ok, "docs/ci.md has no ci-script:begin marker")
	block, _, ok := strings.Cut(rest, "<!-- ci-script:end -->")
	require.True(t, ok, "docs/ci.md has no ci-script:end marker")
	block = strings.TrimSpace(block)
	block = strings.TrimPrefix(block, "```sh")
	block = strings.TrimSuffix(block, "```")
	return block
}

// TestCISequenceFromTheDoc runs the documented curl sequence with bash
// against a real server, as a CI job with a ci-role token would: an
// allowed candidate passes the job (0), one the policy denies for a
// regression fails it (1), and the token's limits hold (a ci token
// cannot start a training run).
func TestCISequenceFromTheDoc(t *testing.T) {
	t.Parallel()
	for _, tool := range []string{"bash", "curl", "jq", "sha256sum"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("MODELGATE_CI") == "1" {
				t.Fatalf("%s is not installed but MODELGATE_CI=1", tool)
			}
			t.Skipf("%s is not installed", tool)
		}
	}
	ts := newTrigServer(t)
	const ciToken = "ci-token-0123456789abcdefg"
	b, err := os.ReadFile(ts.s.TokensFile)
	require.NoError(t, err)
	var f auth.File
	require.NoError(t, yaml.Unmarshal(b, &f))
	f.Tokens = append(f.Tokens, auth.Token{Token: ciToken, Name: "ci-bot", Roles: []string{"ci"}})
	b, err = yaml.Marshal(f)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(ts.s.TokensFile, b, 0o600))
	require.NoError(t, ts.s.ReloadTokens(t.Context()))

	script := filepath.Join(t.TempDir(), "gate.sh")
	require.NoError(t, os.WriteFile(script, []byte(ciScript(t)), 0o700))
	repo := t.TempDir()
	for _, name := range []string{"train.csv", "holdout.csv", "model-candidate.json", "model-production.json"} {
		data, err := os.ReadFile(filepath.Join(ts.example, name))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(repo, name), data, 0o600))
	}
	base := "model: cancer\ntask: binary\nlabel: target\nenvironment: staging\n" +
		"data: {reference: train.csv, holdout: holdout.csv}\ncandidate: {artifact: model-candidate.json}\n"
	cases := []struct {
		name, config, files string
		code                int
		out                 string
	}{
		{"allowed", base + "evaluation: {thresholds: {roc_auc: {min: 0.9}}}\n", "train.csv holdout.csv model-candidate.json", 0, "allowed"},
		{"regression", base + "evaluation: {thresholds: {roc_auc: {min: 0.9999}}}\n", "train.csv holdout.csv model-candidate.json", 1, "modelgate says no (failed)"},
		{"ci may not train", base + "train: {command: [cp, model-candidate.json, '{{.ArtifactDir}}/m.json'], artifact: m.json}\n", "train.csv holdout.csv model-candidate.json", 22, "403"},
	}
	for i, tc := range cases {
		cfg := filepath.Join(repo, "modelgate-"+string(rune('a'+i))+".yaml")
		require.NoError(t, os.WriteFile(cfg, []byte(tc.config), 0o600))
		cmd := exec.CommandContext(t.Context(), "bash", script)
		cmd.Env = append(os.Environ(), "MODELGATE_SERVER="+ts.api.URL, "MODELGATE_TOKEN="+ciToken, "CONFIG="+cfg,
			"FILES="+tc.files, "MODELGATE_POLL=0.1", "MODELGATE_TIMEOUT=60", "GITHUB_RUN_ID=", "GITHUB_SHA=")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else {
			require.NoError(t, err)
		}
		t.Logf("%s: exit %d\n%s", tc.name, code, out.String())
		require.Equal(t, tc.code, code, "%s: %s", tc.name, out.String())
		require.Contains(t, out.String(), tc.out, tc.name)
	}
}
