package testing

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/agents"
	"github.com/modelgate/modelgate/internal/config"
	"github.com/modelgate/modelgate/tools/model"
)

// logistic is a real predictor: sigmoid(w·(x - center)) of one feature.
type logistic struct {
	feature string
	center  float64
	w       float64
	nan     bool // emit NaN, to exercise the sanity checks
}

func (l logistic) Info() model.Info {
	return model.Info{Name: "logistic", Kind: model.Binary, Features: []string{"mean_radius", "mean_texture", "worst_area"}}
}

func (l logistic) Predict(_ context.Context, b model.Batch) (model.Predictions, error) {
	if err := b.Check(); err != nil {
		return model.Predictions{}, err
	}
	j := -1
	for i, f := range b.Features {
		if f == l.feature {
			j = i
		}
	}
	out := model.Predictions{Kind: model.Binary, Rows: b.Rows, Values: make([]float64, b.Rows)}
	for i := 0; i < b.Rows; i++ {
		out.Values[i] = 1 / (1 + math.Exp(-l.w*(b.Row(i)[j]-l.center)))
		if l.nan && i%10 == 3 {
			out.Values[i] = math.NaN()
		}
	}
	return out, nil
}

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

func TestTestStage(t *testing.T) {
	t.Parallel()
	tests := `tests:
  cases:
    - {name: small-tumour, input: {mean_radius: 8}, class: 0}
    - {name: large-tumour, input: {mean_radius: 25}, min: 0.9}
  invariance:
    - {name: texture-noise, feature: mean_texture, delta: 3}
    - {name: radius-noise, feature: mean_radius, delta: 5, epsilon: 0.01}
  directional:
    - {name: bigger-radius, feature: mean_radius, delta: 1, direction: increase}
    - {name: wrong-way, feature: mean_radius, delta: 1, direction: decrease}
  sanity: {max_latency_per_row: 1s}
`
	good := logistic{feature: "mean_radius", center: 15, w: 1.5}
	a := New(Options{Predictor: func(ctx context.Context, task agents.Task) (model.Predictor, error) { return good, nil }})
	r, err := a.Run(context.Background(), task(t, Stage, strings.ReplaceAll(base, "HOLDOUT", "../../testdata/drift/holdout.csv")+tests))
	require.NoError(t, err)
	require.Equal(t, agents.Fail, r.Verdict)
	require.Equal(t, 9.0, r.Metrics["tests.total"])
	require.Equal(t, 2.0, r.Metrics["tests.failed"], r.Summary)
	require.Equal(t, 1.0, r.Metrics["tests.texture-noise.passed"])
	require.Equal(t, 0.0, r.Metrics["tests.radius-noise.passed"])
	require.Equal(t, 0.0, r.Metrics["tests.wrong-way.passed"])
	require.Equal(t, 1.0, r.Metrics["tests.bigger-radius.passed"])
	require.Equal(t, 1.0, r.Metrics["tests.small-tumour.passed"])
	require.Equal(t, 1.0, r.Metrics["tests.large-tumour.passed"])
	c := codes(r)
	require.Equal(t, 1, c["behaviour.invariance"])
	require.Equal(t, 1, c["behaviour.directional"])
	for _, f := range r.Findings {
		require.NotEmpty(t, f.Evidence["rows"])
	}
	require.FileExists(t, filepath.Join(r.Artifacts[0].Path))

	nan := logistic{feature: "mean_radius", center: 15, w: 1.5, nan: true}
	b := New(Options{Predictor: func(ctx context.Context, task agents.Task) (model.Predictor, error) { return nan, nil }})
	r, err = b.Run(context.Background(), task(t, Stage, strings.ReplaceAll(base, "HOLDOUT", "../../testdata/drift/holdout.csv")))
	require.NoError(t, err)
	require.Equal(t, agents.Fail, r.Verdict)
	require.Equal(t, 0.0, r.Metrics["tests.sanity.finite.passed"])
	require.Equal(t, 1, codes(r)["behaviour.sanity"])

	_, err = New(Options{}).Run(context.Background(), task(t, Stage, strings.ReplaceAll(base, "HOLDOUT", "../../testdata/drift/holdout.csv")))
	require.ErrorContains(t, err, "no predictor")
}

// broken claims to be multiclass but returns no class probabilities.
type broken struct{ logistic }

func (broken) Predict(_ context.Context, b model.Batch) (model.Predictions, error) {
	return model.Predictions{Kind: model.Multiclass, Rows: b.Rows}, nil
}

func TestBrokenPredictorIsAnError(t *testing.T) {
	t.Parallel()
	a := New(Options{Predictor: func(ctx context.Context, task agents.Task) (model.Predictor, error) { return broken{}, nil }})
	_, err := a.Run(context.Background(), task(t, Stage, strings.ReplaceAll(base, "HOLDOUT", "../../testdata/drift/holdout.csv")))
	require.ErrorContains(t, err, "no value per row")
}
