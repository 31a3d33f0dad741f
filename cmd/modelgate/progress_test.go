package main

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/internal/api"
	"github.com/modelgate/modelgate/internal/store"
)

// TestProgressLines: --wait prints a line per rollout step and for the
// other moments of a rollout it is told of.
func TestProgressLines(t *testing.T) {
	t.Parallel()
	tests := []struct {
		audit, data, want string
	}{
		{"deploy.started", `{"strategy":"canary","shadow":true}`, "rollout started (canary, with shadow traffic first)"},
		{"deploy.step", `{"step":2,"weight":25}`, "rollout step 2: 25% of traffic to the candidate"},
		{"deploy.switch", `{"green":"v3"}`, "blue-green: traffic switched to v3"},
		{"deploy.rollback", `{"reason":"shadow agreement 0.51 < 0.95"}`, "rolled back: shadow agreement 0.51 < 0.95"},
		{"deploy.analysed", `{"phase":"canary","step":1,"weight":10,"verdict":"inconclusive","candidate_requests":12,"candidate_errors":0,"checks":[{"check":"error_rate","phase":"successful","value":0},{"check":"score_psi","phase":"inconclusive","value":0.31,"limit":"<= 0.2"}]}`,
			"canary step 1 (10%) window: 12 candidate requests, 0 errors: inconclusive — score_psi inconclusive (0.31, limit <= 0.2)"},
		{"deploy.analysed", `{"phase":"shadow","verdict":"successful","compared":480,"agreement":0.9975,"checks":[{"check":"agreement","phase":"successful","value":0.9975}]}`,
			"shadow window: 480 answers compared, agreement 0.998: successful"},
		{"deploy.analysed", `{"phase":"bluegreen","verdict":"failed","candidate_requests":40,"candidate_errors":9,"checks":[{"check":"error_rate","phase":"failed","value":0.225,"limit":"<= 0.05"},{"check":"latency_p99_ms","phase":"error","value":null}]}`,
			"bluegreen window: 40 candidate requests, 9 errors: failed — error_rate failed (0.225, limit <= 0.05); latency_p99_ms error"},
		{"candidate.recorded", `{}`, ""},
	}
	for _, tc := range tests {
		t.Run(tc.audit, func(t *testing.T) {
			t.Parallel()
			got := progressLine(api.StreamEvent{Audit: tc.audit, Data: json.RawMessage(tc.data)})
			require.Equal(t, tc.want, got)
		})
	}
}

// TestFinalTableHasNoRunningStagesOfAnEndedRun: a stage left running by
// a run that failed or was cancelled is shown as stopped, not running.
func TestFinalTableHasNoRunningStagesOfAnEndedRun(t *testing.T) {
	t.Parallel()
	tests := []struct {
		run  store.RunState
		want string
	}{
		{store.RunFailed, "stopped"},
		{store.RunCancelled, "stopped"},
		{store.RunRunning, "running"},
	}
	for _, tc := range tests {
		t.Run(string(tc.run), func(t *testing.T) {
			t.Parallel()
			v := api.RunView{Run: store.Run{ID: "r", State: tc.run}, Stages: []store.Stage{
				{Name: "validate", State: store.StageSucceeded, Verdict: "pass"},
				{Name: "scan", State: store.StageRunning},
			}}
			var b bytes.Buffer
			printRun(&b, v)
			require.Regexp(t, `scan\s+`+tc.want+`\b`, b.String())
		})
	}
}
