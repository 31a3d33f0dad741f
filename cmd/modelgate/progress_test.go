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
