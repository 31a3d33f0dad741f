package store

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/internal/pipeline"
)

func TestAgentReport(t *testing.T) {
	t.Parallel()
	want := pipeline.NewReport("evaluation", "evaluate")
	want.Metrics["candidate.roc_auc"] = 0.9975
	want.Findings = append(want.Findings, pipeline.Finding{ID: "f1", Severity: pipeline.High, Code: "eval.regression", Message: "worse"})
	raw, err := json.Marshal(want)
	require.NoError(t, err)

	got, err := Stage{Name: "evaluate", Report: raw}.AgentReport()
	require.NoError(t, err)
	require.Equal(t, want, got)

	_, err = Stage{Name: "evaluate"}.AgentReport()
	require.True(t, errors.Is(err, ErrNoReport))

	_, err = Stage{Name: "scan", Report: json.RawMessage(`{"verdict":`)}.AgentReport()
	require.ErrorContains(t, err, "scan stage's report")
}
