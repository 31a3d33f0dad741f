package evaluation

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/agents"
	"github.com/modelgate/modelgate/internal/config"
	"github.com/modelgate/modelgate/tools/model"
)

var fixture, _ = filepath.Abs("../../testdata/eval/binary-breast-cancer")

type setup struct {
	dir  string
	cfg  *config.Pipeline
	task agents.Task
}

func newSetup(t *testing.T, evalYAML string) setup {
	t.Helper()
	dir := t.TempDir()
	y := fmt.Sprintf("model: fraud\ntask: binary\nlabel: target\ndata: {holdout: %s}\ncandidate: {artifact: %s}\n%s",
		filepath.Join(fixture, "holdout.csv"), filepath.Join(fixture, "model-candidate.json"), evalYAML)
	cfg, err := config.Parse("modelgate.yaml", []byte(y))
	require.NoError(t, err)
	return setup{dir: dir, cfg: cfg, task: agents.Task{
		RunID: "r1", Stage: Stage, Model: "fraud", Config: cfg, BaseDir: dir, WorkDir: filepath.Join(dir, "work"),
		Candidate:  agents.Candidate{Version: "v2", ArtifactPath: filepath.Join(fixture, "model-candidate.json")},
		Production: &agents.Production{Version: "v1", ArtifactPath: filepath.Join(fixture, "model-production.json")},
	}}
}

func TestFixtureCandidateBeatsProduction(t *testing.T) {
	t.Parallel()
	s := newSetup(t, `evaluation:
  thresholds: {roc_auc: {min: 0.9, min_delta: -0.005}, recall: {min: 0.8}}
  cost: {fn: 500, fp: 5}
  resamples: 200
`)
	a := New(Options{})
	require.Equal(t, "evaluation", a.Name())
	rep, err := a.Run(context.Background(), s.task)
	require.NoError(t, err)
	require.Equal(t, agents.Pass, rep.Verdict, rep.Summary)
	require.Equal(t, "evaluate", rep.Stage)

	// Native predictions, then scikit-learn's numbers to 1e-9.
	var oracle map[string]json.RawMessage
	b, err := os.ReadFile(filepath.Join(fixture, "metrics-oracle.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &oracle))
	for who, prefix := range map[string]string{"candidate": "candidate.", "production": "production."} {
		var want map[string]any
		require.NoError(t, json.Unmarshal(oracle[who], &want))
		for k, v := range want {
			// log_loss_float64 is for scores read from text; native
			// predictions are float32 and match log_loss.
			if k == "confusion_matrix" || k == "log_loss_float64" {
				continue
			}
			require.InDelta(t, v.(float64), rep.Metrics[prefix+k], 1e-9, prefix+k)
		}
	}
	require.InDelta(t, rep.Metrics["candidate.roc_auc"]-rep.Metrics["production.roc_auc"], rep.Metrics["delta.roc_auc"], 1e-12)
	require.Less(t, rep.Metrics["delta.roc_auc.ci_low"], rep.Metrics["delta.roc_auc"])
	require.Greater(t, rep.Metrics["delta.roc_auc.ci_high"], rep.Metrics["delta.roc_auc"])
	require.Contains(t, rep.Metrics, "delta.roc_auc.p_value")
	require.InDelta(t, 1000*(4*500+2*5)/171.0, rep.Metrics["cost.candidate_per_1000"], 1e-9)
	require.Contains(t, rep.Metrics, "cost.production_per_1000")
	require.Contains(t, rep.Summary, "Candidate roc_auc 0.9975 vs 0.9951 for production v1")

	var details map[string]any
	require.NoError(t, json.Unmarshal(rep.Details, &details))
	for _, k := range []string{"task", "rows", "candidate", "baseline", "comparison", "slices", "verdict"} {
		require.Contains(t, details, k)
	}
	require.Len(t, rep.Artifacts, 1)
	html, err := os.ReadFile(rep.Artifacts[0].Path)
	require.NoError(t, err)
	require.Contains(t, string(html), "ROC curve")
	require.Contains(t, string(html), "Reliability diagram")
}

func TestRegressionFailsWithFinding(t *testing.T) {
	t.Parallel()
	s := newSetup(t, "evaluation: {thresholds: {roc_auc: {min_delta: 0.01}}, resamples: 200}\n")
	// Production is the stronger model here.
	s.task.Candidate, s.task.Production = agents.Candidate{ArtifactPath: s.task.Production.ArtifactPath}, &agents.Production{Version: "v9", ArtifactPath: s.task.Candidate.ArtifactPath}
	rep, err := New(Options{}).Run(context.Background(), s.task)
	require.NoError(t, err)
	require.Equal(t, agents.Fail, rep.Verdict)
	f := findFinding(rep, "eval.regression")
	require.NotNil(t, f)
	require.Equal(t, "roc_auc", f.Subject)
	require.Equal(t, agents.High, f.Severity)
	require.Contains(t, f.Evidence, "ci_high")
}

func findFinding(rep agents.Report, code string) *agents.Finding {
	for i := range rep.Findings {
		if rep.Findings[i].Code == code {
			return &rep.Findings[i]
		}
	}
	return nil
}

func TestFirstModelFloorsOnly(t *testing.T) {
	t.Parallel()
	s := newSetup(t, "evaluation: {thresholds: {recall: {min: 0.99}}}\n")
	s.task.Production = nil
	rep, err := New(Options{}).Run(context.Background(), s.task)
	require.NoError(t, err)
	require.Equal(t, agents.Fail, rep.Verdict)
	f := findFinding(rep, "eval.floor")
	require.NotNil(t, f)
	require.Equal(t, "recall", f.Subject)
	require.NotContains(t, rep.Metrics, "delta.roc_auc")
	require.Contains(t, rep.Summary, "judged on floors alone")
}

func TestProductionOverV2EndpointAndConfiguredBaseline(t *testing.T) {
	t.Parallel()
	prod, err := model.Load(filepath.Join(fixture, "model-production.json"))
	require.NoError(t, err)
	srv := httptest.NewServer(model.NewServer(model.ServerOptions{Models: map[string]model.Predictor{"fraud": prod}}))
	defer srv.Close()

	native := newSetup(t, "evaluation: {resamples: 100}\n")
	want, err := New(Options{}).Run(context.Background(), native.task)
	require.NoError(t, err)

	s := newSetup(t, "evaluation: {resamples: 100}\n")
	s.task.Production = &agents.Production{Version: "v1", Endpoint: srv.URL}
	got, err := New(Options{}).Run(context.Background(), s.task)
	require.NoError(t, err)
	require.Equal(t, want.Metrics, got.Metrics)

	// No production in the registry: the config's baseline is used.
	s2 := newSetup(t, fmt.Sprintf("baseline: {endpoint: %s/v2/models/fraud}\nevaluation: {resamples: 100}\n", srv.URL))
	s2.task.Production = nil
	got, err = New(Options{}).Run(context.Background(), s2.task)
	require.NoError(t, err)
	require.Equal(t, want.Metrics, got.Metrics)
}

func TestOneClassHoldoutIsAFinding(t *testing.T) {
	t.Parallel()
	s := newSetup(t, "evaluation: {resamples: 50}\n")
	src, err := os.ReadFile(filepath.Join(fixture, "holdout.csv"))
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(src)), "\n")
	keep := []string{lines[0]}
	for _, l := range lines[1:] {
		if strings.HasSuffix(l, ",1") {
			keep = append(keep, l)
		}
	}
	p := filepath.Join(s.dir, "positives.csv")
	require.NoError(t, os.WriteFile(p, []byte(strings.Join(keep, "\n")+"\n"), 0o644))
	s.cfg.Data.Holdout = p
	rep, err := New(Options{}).Run(context.Background(), s.task)
	require.NoError(t, err)
	// roc_auc guards the gate by default; a gate that cannot measure it
	// fails (issue 14), and says why.
	require.Equal(t, agents.Fail, rep.Verdict)
	require.Contains(t, string(rep.Details), "guarded metric roc_auc is undefined for the candidate")
	f := findFinding(rep, "eval.undefined_metric")
	require.NotNil(t, f)
	require.Equal(t, "roc_auc", f.Subject)
	require.NotContains(t, rep.Metrics, "candidate.roc_auc")
	require.NotContains(t, string(rep.Details), "NaN")
	out, err := json.Marshal(rep)
	require.NoError(t, err)
	require.NotContains(t, string(out), "NaN")
}

func TestSliceRegressionThroughPredictionFiles(t *testing.T) {
	t.Parallel()
	s := newSetup(t, "evaluation:\n  thresholds: {roc_auc: {min_delta: -0.01}}\n  slices: [{column: segment, min_size: 20}]\n  resamples: 200\n")
	// Holdout with a segment column; the candidate's predictions are the
	// production model's except on segment b, where they are inverted.
	src, err := os.ReadFile(filepath.Join(fixture, "holdout.csv"))
	require.NoError(t, err)
	prodPreds, err := os.ReadFile(filepath.Join(fixture, "predictions-production.csv"))
	require.NoError(t, err)
	hl := strings.Split(strings.TrimSpace(string(src)), "\n")
	pl := strings.Split(strings.TrimSpace(string(prodPreds)), "\n")
	var hold, cand strings.Builder
	hold.WriteString(hl[0] + ",segment\n")
	cand.WriteString("row,score\n")
	for i := 1; i < len(hl); i++ {
		seg := "a"
		if i%3 == 0 {
			seg = "b"
		}
		hold.WriteString(hl[i] + "," + seg + "\n")
		var row int
		var score float64
		fmt.Sscanf(strings.Replace(pl[i], ",", " ", 1), "%d %g", &row, &score)
		if seg == "b" {
			score = 1 - score
		}
		fmt.Fprintf(&cand, "%d,%.9g\n", row, score)
	}
	hp := filepath.Join(s.dir, "holdout.csv")
	cp := filepath.Join(s.dir, "cand.csv")
	require.NoError(t, os.WriteFile(hp, []byte(hold.String()), 0o644))
	require.NoError(t, os.WriteFile(cp, []byte(cand.String()), 0o644))
	s.cfg.Data.Holdout = hp
	s.task.Candidate = agents.Candidate{ArtifactPath: cp}
	s.task.Production = &agents.Production{Version: "v1", ArtifactPath: filepath.Join(fixture, "predictions-production.csv")}
	rep, err := New(Options{}).Run(context.Background(), s.task)
	require.NoError(t, err)
	require.Equal(t, agents.Fail, rep.Verdict)
	f := findFinding(rep, "eval.slice_regression")
	require.NotNil(t, f, "%+v", rep.Findings)
	require.Equal(t, "segment=b", f.Subject)
	require.Contains(t, rep.Metrics, "slice.segment=b.candidate.recall")
	require.Contains(t, rep.Metrics, "slice.segment=a.delta.roc_auc")
	require.Less(t, rep.Metrics["slice.segment=b.delta.roc_auc.ci_high"], -0.01)
}

func TestBadInputAndUnreachableEndpoint(t *testing.T) {
	t.Parallel()
	s := newSetup(t, "")
	s.cfg.Label = "nope"
	_, err := New(Options{}).Run(context.Background(), s.task)
	require.ErrorContains(t, err, `no label column "nope"`)
	require.False(t, agents.IsRetriable(err))

	s = newSetup(t, "")
	s.cfg.Label = "mean_radius"
	_, err = New(Options{}).Run(context.Background(), s.task)
	require.ErrorContains(t, err, "a binary task needs labels 0 and 1")

	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	down := "http://" + l.Addr().String()
	l.Close()
	s = newSetup(t, "")
	s.task.Production = &agents.Production{Version: "v1", Endpoint: down}
	_, err = New(Options{Predictor: func(ctx context.Context, c agents.Candidate, cfg *config.Pipeline) (model.Predictor, error) {
		if c.Endpoint != "" {
			return model.NewV2Client(model.V2ClientOptions{URL: c.Endpoint, Model: "fraud", Retries: -1})
		}
		return DefaultPredictor(ctx, c, cfg)
	}}).Run(context.Background(), s.task)
	require.ErrorContains(t, err, "connection refused")
	require.True(t, agents.IsRetriable(err))
}

func TestConfigValidation(t *testing.T) {
	t.Parallel()
	cases := []struct{ yaml, want string }{
		{"evaluation: {thresholds: {auc: {min: 0.9}}}", "evaluation.thresholds.auc: unknown metric for task binary"},
		{"evaluation: {thresholds: {roc_auc: {}}}", "give at least one of min, max, min_delta, max_delta"},
		{"evaluation: {thresholds: {roc_auc: {min: 0.9, max: 0.8}}}", "min 0.9 is above max 0.8"},
		{"evaluation: {thresholds: {cost_per_1000: {max_delta: 0}}}", "needs evaluation.cost"},
		{"evaluation: {slices: [{bins: [3, 1]}]}", "evaluation.slices[0].column: is required"},
		{"evaluation: {confidence: 95}", "evaluation.confidence: must be strictly between 0 and 1"},
	}
	for _, c := range cases {
		_, err := config.Parse("m.yaml", []byte("model: m\ntask: binary\ncandidate: {artifact: m.json}\n"+c.yaml+"\n"))
		require.ErrorContains(t, err, c.want, c.yaml)
	}
	cfg, err := config.Parse("m.yaml", []byte("model: m\ntask: binary\ncandidate: {artifact: m.json}\nevaluation: {slices: [{column: c}]}\n"))
	require.NoError(t, err)
	require.Equal(t, 1000, cfg.Evaluation.Resamples)
	require.Equal(t, 30, cfg.Evaluation.Slices[0].MinSize)
	require.Equal(t, 0.95, cfg.Evaluation.Confidence)
}

func TestRegressionAndMulticlassMatchOracles(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		dir, task string
		metrics   []string
	}{
		{"regression-diabetes", "regression", []string{"rmse", "mae", "r2", "mape"}},
		{"multiclass-wine", "multiclass", []string{"accuracy", "macro_f1", "log_loss"}},
	} {
		t.Run(c.task, func(t *testing.T) {
			t.Parallel()
			dir, _ := filepath.Abs(filepath.Join("../../testdata/eval", c.dir))
			y := fmt.Sprintf("model: m\ntask: %s\ndata: {holdout: %s}\ncandidate: {artifact: %s}\nevaluation: {resamples: 100}\n",
				c.task, filepath.Join(dir, "holdout.csv"), filepath.Join(dir, "model.json"))
			cfg, err := config.Parse("m.yaml", []byte(y))
			require.NoError(t, err)
			m := filepath.Join(dir, "model.json")
			rep, err := New(Options{}).Run(context.Background(), agents.Task{Config: cfg,
				Candidate: agents.Candidate{ArtifactPath: m}, Production: &agents.Production{Version: "v1", ArtifactPath: m}})
			require.NoError(t, err)
			require.Equal(t, agents.Pass, rep.Verdict, rep.Summary)
			var want map[string]any
			b, err := os.ReadFile(filepath.Join(dir, "metrics-oracle.json"))
			require.NoError(t, err)
			require.NoError(t, json.Unmarshal(b, &want))
			for _, k := range c.metrics {
				w := want[k].(float64)
				require.InDelta(t, w, rep.Metrics["candidate."+k], 1e-9*max(1, w), k)
				// Production is the same model: the comparison is reported, and is 0.
				require.Contains(t, rep.Metrics, "delta."+k)
				require.Equal(t, 0.0, rep.Metrics["delta."+k], k)
			}
		})
	}
}

func TestLLMTaskIsNotApplicable(t *testing.T) {
	t.Parallel()
	// The tabular agent alone (agents/prompt wraps it for task llm) still says it did not evaluate.
	cfg, err := config.Parse("m.yaml", []byte("model: m\ntask: llm\ncandidate: {artifact: prompt.yaml}\nllm: {suite: evals.yaml}\n"))
	require.NoError(t, err)
	rep, err := New(Options{}).Run(context.Background(), agents.Task{Config: cfg})
	require.NoError(t, err)
	require.Equal(t, agents.Warn, rep.Verdict)
	require.Equal(t, "eval.not_applicable", rep.Findings[0].Code)
}
