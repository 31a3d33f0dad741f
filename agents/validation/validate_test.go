package validation

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/agents"
	"github.com/modelgate/modelgate/internal/config"
)

const base = `model: breast-cancer
task: binary
label: target
data: {reference: ../../testdata/drift/train.csv, holdout: HOLDOUT}
candidate: {artifact: model.json}
`

func task(t *testing.T, stage, yaml string) agents.Task {
	t.Helper()
	cfg, err := config.Parse("modelgate.yaml", []byte(yaml))
	require.NoError(t, err)
	wd, err := os.Getwd()
	require.NoError(t, err)
	return agents.Task{RunID: "r1", Stage: stage, Model: cfg.Model, Config: cfg, BaseDir: wd, WorkDir: t.TempDir()}
}

func codes(r agents.Report) map[string]int {
	out := map[string]int{}
	for _, f := range r.Findings {
		out[f.Code]++
	}
	return out
}

func TestValidateStage(t *testing.T) {
	t.Parallel()
	a := New()
	require.Equal(t, "validation", a.Name())

	clean, err := a.Run(context.Background(), task(t, Stage, strings.ReplaceAll(base, "HOLDOUT", "../../testdata/drift/holdout.csv")))
	require.NoError(t, err)
	require.Equal(t, agents.Pass, clean.Verdict, clean.Summary)
	require.Equal(t, 0.0, clean.Metrics["validation.failures"])
	require.Equal(t, 0.0, clean.Metrics["drift.columns_drifted"])
	require.Equal(t, 171.0, clean.Metrics["data.holdout.rows"])
	require.Len(t, clean.Artifacts, 2)

	drifted, err := a.Run(context.Background(), task(t, Stage, strings.ReplaceAll(base, "HOLDOUT", "../../testdata/drift/holdout-drifted.csv")))
	require.NoError(t, err)
	require.Equal(t, agents.Fail, drifted.Verdict, "the emptied column fails completeness")
	c := codes(drifted)
	require.Equal(t, 1, c["validate.completeness"])
	require.Equal(t, 3, c["drift.column"])
	require.Zero(t, c["drift.dataset"])
	require.Equal(t, 3.0, drifted.Metrics["drift.columns_drifted"])
	require.InDelta(t, 0.6268036086867084, drifted.Metrics["drift.mean_radius.ks_statistic"], 1e-12)
	require.InDelta(t, 0.1, drifted.Metrics["drift.share"], 1e-12)
	var det validateDetails
	require.NoError(t, json.Unmarshal(drifted.Details, &det))
	require.Len(t, det.Validation, 2)
	require.Equal(t, "holdout", det.DriftOf)
	for _, f := range drifted.Findings {
		if f.Code == "drift.column" {
			require.Contains(t, []string{"mean_radius", "mean_texture", "worst_area"}, f.Subject)
		}
	}

	// Dataset drift with a low share threshold; serving data without a label.
	cfg := strings.ReplaceAll(base, "HOLDOUT", "../../testdata/drift/holdout.csv") +
		"validation: {drift: {share: 0.1}}\n"
	cfg = strings.ReplaceAll(cfg, "holdout: ../../testdata/drift/holdout.csv}", "holdout: ../../testdata/drift/holdout.csv, current: ../../testdata/validate/serving-drifted.csv}")
	r, err := a.Run(context.Background(), task(t, Stage, cfg))
	require.NoError(t, err)
	require.Equal(t, agents.Fail, r.Verdict)
	require.Equal(t, 1, codes(r)["drift.dataset"])
	require.Zero(t, codes(r)["validate.label"], "serving data may lack the label")
	// The scaled columns fall outside the inferred ranges; nothing else fails.
	require.Greater(t, r.Metrics["validation.current.failures"], 0.0)
	for _, f := range r.Findings {
		if f.Evidence["dataset"] == "current" && f.Evidence["rule"] != nil {
			require.Equal(t, "validate.range", f.Code, f.Message)
		}
	}

	_, err = a.Run(context.Background(), task(t, "deploy", strings.ReplaceAll(base, "HOLDOUT", "x.csv")))
	require.ErrorContains(t, err, "unknown stage")
	_, err = a.Run(context.Background(), task(t, Stage, strings.ReplaceAll(base, "HOLDOUT", "missing.csv")))
	require.ErrorContains(t, err, "missing.csv")
}
