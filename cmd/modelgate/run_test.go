package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/charmbracelet/log"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/internal/api"
	"github.com/modelgate/modelgate/internal/app"
	"github.com/modelgate/modelgate/internal/store"
)

// cli runs the entry point in-process; not parallel, as the root keeps
// its global flags in package variables.
func cli(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := execute(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestRunBadInput(t *testing.T) {
	t.Setenv("MODELGATE_TOKEN", "")
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("model: m\ntask: binary\ncandidate: {artifact: m.json}\ntreshold: 1\n"), 0o644))
	cases := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"no -f", []string{"run"}, 2, "-f modelgate.yaml is required"},
		{"missing file", []string{"run", "-f", filepath.Join(dir, "nope.yaml")}, 2, "no such file"},
		{"unknown key with position", []string{"run", "-f", bad, "--local"}, 2, "line 4 column 1"},
		{"unknown flag", []string{"run", "--bogus"}, 2, "unknown flag"},
		{"unknown command", []string{"frobnicate"}, 2, "unknown command"},
		{"server unreachable", []string{"runs", "list", "--server", "http://127.0.0.1:1", "--token", "x"}, 1, "reach modelgate server"},
		{"no token", []string{"runs", "list", "--server", "http://127.0.0.1:1", "--token", ""}, 2, "no token"},
		{"bad server URL", []string{"runs", "show", "x", "--server", "ftp://x", "--token", "t"}, 2, "not an http(s) URL"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := cli(tc.args...)
			require.Equal(t, tc.code, code, stderr)
			require.Contains(t, stderr, tc.msg)
		})
	}
}

// TestRunLocal runs the bundled example in-process: every agent and the
// policy decision, no server.
func TestRunLocal(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole pipeline")
	}
	code, stdout, stderr := cli("run", "--local", "-f", "../../internal/app/demo/example/modelgate.yaml", "--json")
	require.Equal(t, 0, code, stderr)
	var v api.RunView
	require.NoError(t, json.Unmarshal([]byte(stdout), &v))
	// production environment at full traffic: the policy asks for reviewers
	require.Equal(t, store.RunAwaitingApproval, v.State, v.Error)
	names := map[string]bool{}
	for _, s := range v.Stages {
		names[s.Name] = true
	}
	for _, s := range []string{"validate", "test", "scan", "evaluate", "decide"} {
		require.True(t, names[s], "stage %s missing", s)
	}
}

// TestRunAgainstServer submits through the API and follows the event
// stream to the end, as CI does.
func TestRunAgainstServer(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole pipeline")
	}
	dir, ws := t.TempDir(), t.TempDir()
	t.Setenv("MODELGATE_UPLOAD_CACHE", t.TempDir())
	ctx := context.Background()
	// No --workspace: the server shares no folder with the CI job, which
	// uploads what the run needs.
	s, err := app.Build(ctx, app.Options{DataDir: dir, NoDeploy: true, Logger: log.NewWithOptions(io.Discard, log.Options{})})
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, s.Start(ctx))
	var puts, putBytes atomic.Int64
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut || (r.Method == http.MethodPost && r.URL.Path == "/v1/blobs") {
			puts.Add(1)
			putBytes.Add(r.ContentLength)
		}
		s.Handler.ServeHTTP(w, r)
	}))
	defer web.Close()
	var ci string
	for _, tok := range s.Tokens {
		if tok.Name == "ci" {
			ci = tok.Token
		}
	}
	// staging at a 25% canary: low enough risk to pass without reviewers.
	// The config's paths are relative to its folder, as a server requires.
	cfg := filepath.Join(ws, "modelgate.yaml")
	example, _ := filepath.Abs("../../internal/app/demo/example")
	src, err := os.ReadFile(filepath.Join(example, "modelgate.yaml"))
	require.NoError(t, err)
	text := strings.Replace(string(src), "environment: production", "environment: staging", 1)
	require.NoError(t, os.WriteFile(cfg, []byte(text), 0o644))
	for _, f := range []string{"train.csv", "holdout.csv", "model-candidate.json"} {
		b, err := os.ReadFile(filepath.Join(example, f))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(ws, f), b, 0o644))
	}

	code, stdout, stderr := cli("run", "-f", cfg, "--wait", "--server", web.URL, "--token", ci, "--idempotency-key", "build-1")
	require.Contains(t, stderr, "inputs: 3 files, 3 uploaded")
	require.Contains(t, stderr, "; follow it at "+web.URL+"/ui/runs/", "--wait says where the run's page is")
	require.Equal(t, int64(3), puts.Load())
	var sent int64
	for _, f := range []string{"train.csv", "holdout.csv", "model-candidate.json"} {
		st, err := os.Stat(filepath.Join(ws, f))
		require.NoError(t, err)
		sent += st.Size()
	}
	require.Equal(t, sent, putBytes.Load())
	require.Contains(t, stderr, "evaluate")
	require.Contains(t, stdout, "STAGE")
	code2, stdout2, _ := cli("runs", "list", "--server", web.URL, "--token", ci, "--json")
	require.Equal(t, 0, code2)
	var list struct{ Runs []store.Run }
	require.NoError(t, json.Unmarshal([]byte(stdout2), &list))
	require.Len(t, list.Runs, 1)
	r := list.Runs[0]
	if r.State == store.RunSucceeded {
		require.Equal(t, 0, code)
	} else {
		require.Equal(t, 1, code, "a run that did not succeed exits 1: %s %s", r.State, r.Error)
	}
	// the same key again returns the same run
	// and a second upload of the same files sends no bytes
	code3, stdout3, stderr3 := cli("run", "-f", cfg, "--server", web.URL, "--token", ci, "--idempotency-key", "build-1", "--json")
	require.Equal(t, 0, code3, stderr3)
	require.Contains(t, stdout3, r.ID)
	require.Contains(t, stderr3, "inputs: 3 files, 0 uploaded (0 B), 3 already on the server")
	require.Equal(t, int64(3), puts.Load(), "no PUT the second time")
	// a server path instead of uploads is refused without a workspace
	code6, _, stderr6 := cli("run", "-f", cfg, "--server", web.URL, "--token", ci, "--base-dir", ws)
	require.Equal(t, 2, code6)
	require.Contains(t, stderr6, "--workspace")
	// a reviewer token may not start runs: refused (403), its own exit code
	var reviewer string
	for _, tok := range s.Tokens {
		if tok.Name == "reviewer" {
			reviewer = tok.Token
		}
	}
	code4, _, stderr4 := cli("run", "-f", cfg, "--server", web.URL, "--token", reviewer)
	require.Equal(t, 3, code4)
	require.Contains(t, stderr4, "403")
	// a token that is not one is the caller's mistake: exit 2
	code5, _, stderr5 := cli("runs", "list", "--server", web.URL, "--token", "not-a-token-at-all")
	require.Equal(t, 2, code5)
	require.Contains(t, stderr5, "401")
}

// TestRunLocalUsesPipelinePolicy: policy.bundle of the config judges a
// local run (here a bundle that asks three reviewers, not two).
func TestRunLocalUsesPipelinePolicy(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole pipeline")
	}
	dir := t.TempDir()
	example, err := filepath.Abs("../../internal/app/demo/example")
	require.NoError(t, err)
	pol := filepath.Join(dir, "policies")
	require.NoError(t, os.MkdirAll(pol, 0o755))
	for _, f := range []string{"promotion.rego", "authz.rego"} {
		b, err := os.ReadFile(filepath.Join("../../policies", f))
		require.NoError(t, err)
		text := strings.Replace(string(b), `"critical_min_approvers": 2`, `"critical_min_approvers": 3`, 1)
		require.NoError(t, os.WriteFile(filepath.Join(pol, f), []byte(text), 0o644))
	}
	src, err := os.ReadFile(filepath.Join(example, "modelgate.yaml"))
	require.NoError(t, err)
	text := strings.ReplaceAll(string(src), "train.csv", filepath.Join(example, "train.csv"))
	text = strings.ReplaceAll(text, "holdout.csv", filepath.Join(example, "holdout.csv"))
	text = strings.ReplaceAll(text, "model-candidate.json", filepath.Join(example, "model-candidate.json"))
	text += "policy: {bundle: policies}\n"
	// a first model (nothing in production) at full traffic in production: critical risk
	cfg := filepath.Join(dir, "modelgate.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte(text), 0o644))
	code, stdout, stderr := cli("run", "--local", "-f", cfg, "--json")
	require.Equal(t, 0, code, stderr)
	var v api.RunView
	require.NoError(t, json.Unmarshal([]byte(stdout), &v))
	require.Len(t, v.Approvals, 1)
	require.Equal(t, 3, v.Approvals[0].Min, "the pipeline's bundle decided")
}
