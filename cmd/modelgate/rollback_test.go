package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRollbackCommand(t *testing.T) {
	t.Parallel()
	var got struct {
		path, auth string
		body       map[string]string
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.path, got.auth = r.URL.Path, r.Header.Get("Authorization")
		raw, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(raw, &got.body)
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/v1/models/fraud/rollback":
			_, _ = w.Write([]byte(`{"model":"fraud","environment":"staging","version":"v1","previous":"v2"}`))
		case "/v1/models/lonely/rollback":
			w.WriteHeader(http.StatusConflict)
			_, _ = w.Write([]byte(`{"error":{"code":"no_previous","message":"no previous production version"}}`))
		case "/v1/runs/run-1/abort":
			_, _ = w.Write([]byte(`{"phase":"canary"}`))
		default:
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"error":{"code":"not_found","message":"no such model"}}`))
		}
	}))
	defer srv.Close()
	tests := []struct {
		name string
		args []string
		code int
		out  string
	}{
		{"rolled back", []string{"rollback", "fraud", "--env", "staging", "--reason", "bad", "--server", srv.URL, "--token", "T"}, 0, "fraud in staging rolled back to v1 (was v2)\n"},
		{"no previous", []string{"rollback", "lonely", "--server", srv.URL, "--token", "T"}, 1, ""},
		{"unknown model", []string{"rollback", "nope", "--server", srv.URL, "--token", "T"}, 2, ""},
		{"no token", []string{"rollback", "fraud", "--server", srv.URL, "--token", ""}, 2, ""},
		{"bad model name", []string{"rollback", "a/b", "--server", srv.URL, "--token", "T"}, 2, ""},
		{"no model", []string{"rollback", "--server", srv.URL, "--token", "T"}, 2, ""},
		{"abort", []string{"rollout", "abort", "run-1", "--reason", "why", "--server", srv.URL, "--token", "T"}, 0, "abort requested for run run-1\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "no token" && os.Getenv("MODELGATE_TOKEN") != "" {
				t.Skip("MODELGATE_TOKEN is set in this environment")
			}
			var stdout, stderr bytes.Buffer
			code := execute(tc.args, &stdout, &stderr)
			require.Equal(t, tc.code, code, stderr.String())
			if tc.out != "" {
				require.Equal(t, tc.out, stdout.String())
			}
		})
	}
	// the request carried what the API expects
	var stdout, stderr bytes.Buffer
	require.Equal(t, 0, execute([]string{"rollback", "fraud", "--env", "staging", "--reason", "bad", "--server", srv.URL, "--token", "T", "--json"}, &stdout, &stderr))
	require.Equal(t, "/v1/models/fraud/rollback", got.path)
	require.Equal(t, "Bearer T", got.auth)
	require.Equal(t, map[string]string{"environment": "staging", "reason": "bad"}, got.body)
	var prod map[string]any
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &prod))
	require.Equal(t, "v1", prod["version"])
}
