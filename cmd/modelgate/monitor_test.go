package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestMonitorStatusCommand: the exit codes and the table. The answers
// are the JSON the server's endpoint returns (its end-to-end test is
// internal/app's TestMonitorRollsBackADriftingModel).
func TestMonitorStatusCommand(t *testing.T) {
	t.Parallel()
	over := `{"model":"fraud","environment":"production","version":"v2","since":"2026-12-07T10:00:00Z",
	  "baseline":{"at":"2026-12-07T10:01:00Z","requests":600,"error_rate":0.001,"scores":null},
	  "consecutive":2,"alerted":true,"history":[
	   {"at":"2026-12-07T10:01:00Z","version":"v2","rows":60,"drift_share":0.1,"requests":600,"scores":600,"consecutive":0,"notes":["baseline taken"]},
	   {"at":"2026-12-07T10:02:00Z","version":"v2","rows":60,"drift_share":1,"score_psi":5.03,"error_rate":0,"requests":600,"scores":600,
	    "over":["input drift: 30 of 30 columns drifted"],"consecutive":2,"alert":true,"action":"rollback","result":"rolled back from v2 to v1"}],
	  "settings":{"environment":"production","every":"1m0s","consecutive":2,"drift_share":0.5,"score_psi":0.2,"error_rate":0.05,"min_samples":100,"action":"rollback"}}`
	calm := `{"model":"churn","environment":"production","version":"v1","since":"2026-12-07T10:00:00Z","consecutive":0,"alerted":false,
	  "history":[{"at":"2026-12-07T10:01:00Z","version":"v1","rows":60,"drift_share":0.05,"requests":10,"scores":10,"consecutive":0}],
	  "settings":{"environment":"production","every":"5m0s","consecutive":3,"drift_share":0.5,"score_psi":0.2,"error_rate":0.05,"min_samples":100,"action":"notify"}}`
	var gotPath string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotPath = r.URL.RequestURI()
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/v1/models/fraud/monitor":
			_, _ = w.Write([]byte(over))
		case "/v1/models/churn/monitor":
			_, _ = w.Write([]byte(calm))
		case "/v1/models/secret/monitor":
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`{"error":{"code":"forbidden","message":"vic may not read model secret"}}`))
		default:
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"error":{"code":"not_monitored","message":"no monitor settings"}}`))
		}
	}))
	defer srv.Close()
	for _, tc := range []struct {
		name string
		args []string
		code int
		out  []string
	}{
		{"over", []string{"monitor", "status", "fraud"}, 1, []string{"fraud in production: v2", "streak: 2 over (alert raised)", "ALERT rollback: rolled back from v2 to v1", "5.030"}},
		{"calm", []string{"monitor", "status", "churn"}, 0, []string{"churn in production: v1", "action notify", "baseline: not taken yet", "ok"}},
		{"unmonitored", []string{"monitor", "status", "nope"}, 2, nil},
		{"forbidden", []string{"monitor", "status", "secret"}, 3, nil},
		{"bad name", []string{"monitor", "status", "a/b"}, 2, nil},
		{"bad last", []string{"monitor", "status", "fraud", "--last", "0"}, 2, nil},
		{"no model", []string{"monitor", "status"}, 2, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := execute(append(tc.args, "--server", srv.URL, "--token", "T"), &stdout, &stderr)
			require.Equal(t, tc.code, code, stderr.String())
			for _, want := range tc.out {
				require.Contains(t, stdout.String(), want)
			}
		})
	}
	var stdout, stderr bytes.Buffer
	require.Equal(t, 0, execute([]string{"monitor", "status", "churn", "--env", "production", "--json", "--server", srv.URL, "--token", "T"}, &stdout, &stderr), stderr.String())
	require.Equal(t, "/v1/models/churn/monitor?environment=production", gotPath)
	require.True(t, strings.HasPrefix(strings.TrimSpace(stdout.String()), "{"))
}
