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
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/charmbracelet/log"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/internal/app"
	"github.com/modelgate/modelgate/internal/llm"
	"github.com/modelgate/modelgate/internal/llm/llmtest"
	"github.com/modelgate/modelgate/internal/store"
)

// askServer is a real modelgate server whose LLM is scripted, behind a
// proxy that counts the rollbacks that reach the API.
func askServer(t *testing.T, script ...llmtest.Responder) (url, token string, rollbacks *atomic.Int32) {
	t.Helper()
	ctx := context.Background()
	cfg := llm.Config{}
	if len(script) > 0 {
		cfg = llm.Config{BaseURL: llmtest.New(t, script...).BaseURL(), Model: "test-model", MaxRetries: -1}
	}
	s, err := app.Build(ctx, app.Options{DataDir: t.TempDir(), NoDeploy: true, LLM: cfg, Logger: log.NewWithOptions(io.Discard, log.Options{})})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	require.NoError(t, s.Store.ModelVersionPut(ctx, store.ModelVersion{Model: "fraud-detector", Version: "v1", Digest: "sha256:" + strings.Repeat("a", 64), CreatedAt: time.Now()}))
	for _, tk := range s.Tokens {
		if slices.Contains(tk.Roles, "admin") {
			token = tk.Token
		}
	}
	require.NotEmpty(t, token)
	rollbacks = &atomic.Int32{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "POST" && strings.HasSuffix(r.URL.Path, "/rollback") {
			rollbacks.Add(1)
		}
		s.Handler.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, token, rollbacks
}

func TestAsk(t *testing.T) {
	t.Parallel()
	sentence := "roll fraud-detector in prod back to last week's version"
	for _, tc := range []struct {
		name      string
		script    []llmtest.Responder
		stdin     string
		yes, json bool
		wantOut   []string
		wantErr   bool
		rollbacks int32
	}{
		{name: "rule parser, declined", stdin: "n\n", wantErr: true,
			wantOut: []string{"Proposed (template, rule-ask@v1): roll fraud-detector in production back to the version that was in production before the current one", "Run it? [y/N] not run"}},
		{name: "the LLM calls rollback itself: nothing runs", stdin: "\n", wantErr: true,
			script:  []llmtest.Responder{llmtest.Call("rollback", `{"model":"fraud-detector","environment":"production"}`)},
			wantOut: []string{`note: the LLM tried to call "rollback", which it cannot: it only proposes`, "not run"}},
		{name: "--json shows the proposal and runs nothing", json: true,
			script:  []llmtest.Responder{llmtest.Call("propose_command", `{"action":"rollback","model":"fraud-detector","environment":"prod","version":"last week's"}`)},
			wantOut: []string{`"source": "llm"`, `"environment": "production"`}},
		{name: "the LLM proposes a model not in the registry: refused", stdin: "n\n", wantErr: true,
			script:  []llmtest.Responder{llmtest.Call("propose_command", `{"action":"rollback","model":"payments"}`)},
			wantOut: []string{`the LLM's proposal was refused (model "payments" is not in the registry`}},
		{name: "confirmed: sent to the ordinary endpoint", stdin: "y\n", wantErr: true, rollbacks: 1, // no production yet: the API refuses with 409
			script:  []llmtest.Responder{llmtest.Call("propose_command", `{"action":"rollback","model":"fraud-detector","environment":"production"}`)},
			wantOut: []string{"Proposed (llm, ask@v1)", "Run it? [y/N]"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			url, token, rollbacks := askServer(t, tc.script...)
			var out bytes.Buffer
			err := runAsk(context.Background(), strings.NewReader(tc.stdin), &out, askFlags{server: url, token: token, yes: tc.yes, jsonOut: tc.json}, sentence)
			if tc.wantErr {
				require.Error(t, err)
			} else {
				require.NoError(t, err)
			}
			for _, w := range tc.wantOut {
				require.Contains(t, out.String(), w)
			}
			require.Equal(t, tc.rollbacks, rollbacks.Load())
			if tc.json {
				var p map[string]any
				require.NoError(t, json.Unmarshal(out.Bytes(), &p))
			}
		})
	}
}

// TestRunLocalAssist: run --local with an assist: section asks the
// pipeline's endpoint for the brief and prints it with the run; without
// one (TestRunLocal) the brief is the template's.
func TestRunLocalAssist(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole pipeline")
	}
	endpoint := llmtest.New(t, llmtest.Text("Candidate v2 of tumor-classifier awaits review [change:candidate]."))
	dir := t.TempDir()
	example, err := filepath.Abs("../../internal/app/demo/example")
	require.NoError(t, err)
	src, err := os.ReadFile(filepath.Join(example, "modelgate.yaml"))
	require.NoError(t, err)
	text := string(src)
	for _, f := range []string{"train.csv", "holdout.csv", "model-candidate.json"} {
		text = strings.ReplaceAll(text, f, filepath.Join(example, f))
	}
	text += "assist: {base_url: '" + endpoint.BaseURL() + "', model: test-model, token_budget: 5000, max_retries: 1}\n"
	cfg := filepath.Join(dir, "modelgate.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte(text), 0o644))
	code, stdout, stderr := cli("run", "--local", "-f", cfg)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "brief (llm, brief@v1):\n  Candidate v2 of tumor-classifier awaits review [change:candidate].")
	require.Contains(t, stdout, "LLM: 1 call(s), 100 prompt + 20 completion tokens of 5000")
	require.Len(t, endpoint.Bodies(), 1)
}
