package evaluation

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/modelgate/modelgate/agents"
	"github.com/modelgate/modelgate/internal/config"
	"github.com/modelgate/modelgate/tools/compare"
	"github.com/modelgate/modelgate/tools/dataset"
	"github.com/modelgate/modelgate/tools/model"
)

// Stage is the stage the agent runs.
const Stage = "evaluate"

// PredictorFunc opens the predictor of a model version.
type PredictorFunc func(ctx context.Context, c agents.Candidate, cfg *config.Pipeline) (model.Predictor, error)

// Options configure the agent.
type Options struct {
	// Predictor opens a model version; nil = DefaultPredictor (the
	// artifact natively, else the endpoint over V2).
	Predictor PredictorFunc
	Resamples int   // overrides evaluation.resamples when > 0
	Seed      int64 // overrides evaluation.seed when != 0
	Workers   int   // bootstrap goroutines; default GOMAXPROCS
}

// Agent is the evaluation agent: is the candidate better than production,
// on the metrics and KPIs that matter, on every slice, beyond noise?
type Agent struct{ o Options }

// New returns the evaluation agent.
func New(o Options) *Agent {
	if o.Predictor == nil {
		o.Predictor = DefaultPredictor
	}
	return &Agent{o: o}
}

// Name is "evaluation".
func (a *Agent) Name() string { return "evaluation" }

// DefaultPredictor opens an artifact (XGBoost JSON natively, or a
// predictions file) or, without one, the V2 endpoint serving the model.
func DefaultPredictor(ctx context.Context, c agents.Candidate, cfg *config.Pipeline) (model.Predictor, error) {
	kind := kindOf(cfg.Task)
	switch {
	case c.ArtifactPath != "":
		// candidate.missing: the caller puts the model's own section
		// (candidate or baseline) in cfg.Candidate.
		return model.Open(c.ArtifactPath, model.OpenOptions{Kind: kind, Missing: cfg.Candidate.Missing})
	case c.Endpoint != "":
		name := cfg.Candidate.Name
		if name == "" {
			name = cfg.Model
		}
		return model.NewV2Client(model.V2ClientOptions{URL: c.Endpoint, Model: name, Kind: kind})
	}
	return nil, errors.New("the model version has neither an artifact nor an endpoint")
}

func kindOf(task string) model.Kind {
	switch task {
	case "multiclass":
		return model.Multiclass
	case "regression":
		return model.Regression
	case "binary":
		return model.Binary
	}
	return ""
}

// Run evaluates task.Candidate against task.Production (or the
// configured baseline) on the holdout.
func (a *Agent) Run(ctx context.Context, task agents.Task) (agents.Report, error) {
	cfg := task.Config
	if cfg == nil {
		return agents.Report{}, errors.New("evaluation: task has no config")
	}
	lg := task.Log().With("agent", a.Name())
	if cfg.Task == "llm" {
		// Prompts are judged by the testing agent's behavioural suites;
		// there are no scores to compare here. Say so rather than pass
		// silently.
		return agents.Report{Agent: a.Name(), Stage: Stage, Verdict: agents.Warn, Metrics: map[string]float64{},
			Findings: []agents.Finding{{ID: "eval.not_applicable", Severity: agents.Info, Code: "eval.not_applicable",
				Message: "the evaluation agent compares tabular models (binary, multiclass, regression); task llm was not evaluated"}},
			Summary: "Not evaluated: task llm has no scores to compare with production."}, nil
	}
	holdout := task.Path(cfg.Data.Holdout)
	if holdout == "" {
		return agents.Report{}, errors.New("evaluation: data.holdout is not set: the evaluation needs labelled data the candidate never saw")
	}
	var delim rune
	if cfg.Data.Delimiter != "" {
		delim = []rune(cfg.Data.Delimiter)[0]
	}
	candidate := task.Candidate
	if candidate.ArtifactPath == "" && candidate.Endpoint == "" {
		// A task built straight from the config (no registry step).
		candidate.ArtifactPath, candidate.Endpoint = task.Path(cfg.Candidate.Artifact), cfg.Candidate.Endpoint
	}
	cand, err := a.o.Predictor(ctx, candidate, cfg)
	if err != nil {
		return agents.Report{}, fmt.Errorf("evaluation: open candidate: %w", err)
	}
	var base model.Predictor
	baseVersion := ""
	switch {
	case task.Production != nil:
		p := task.Production
		baseVersion = p.Version
		// The production model is not the candidate: candidate.missing
		// is not its missing value; baseline.missing is, when given.
		pcfg := *cfg
		pcfg.Candidate.Missing = nil
		if cfg.Baseline != nil {
			pcfg.Candidate.Missing = cfg.Baseline.Missing
		}
		base, err = a.o.Predictor(ctx, agents.Candidate{Version: p.Version, ArtifactPath: p.ArtifactPath, Digest: p.Digest, Endpoint: p.Endpoint}, &pcfg)
	case cfg.Baseline != nil:
		bc := cfg.Baseline
		baseVersion = bc.Version
		c := agents.Candidate{Version: bc.Version, ArtifactPath: task.Path(bc.Artifact), Endpoint: bc.Endpoint}
		bcfg := *cfg
		if bc.Name != "" {
			bcfg.Candidate.Name = bc.Name
		}
		bcfg.Candidate.Missing = bc.Missing
		base, err = a.o.Predictor(ctx, c, &bcfg)
	}
	if err != nil {
		return agents.Report{}, fmt.Errorf("evaluation: open production model: %w", err)
	}
	// Read after the models are opened: the holdout is then parsed for
	// only the columns they and the evaluation use.
	frame, err := ReadHoldout(holdout, dataset.Options{Delimiter: delim}, HoldoutColumns(cfg.Label, cfg.Evaluation, cand, base))
	if err != nil {
		return agents.Report{}, fmt.Errorf("evaluation: holdout: %w", err)
	}
	ev := cfg.Evaluation
	if a.o.Resamples > 0 {
		ev.Resamples = a.o.Resamples
	}
	if a.o.Seed != 0 {
		ev.Seed = a.o.Seed
	}
	lg.Info("evaluating", "holdout", holdout, "rows", frame.Rows, "baseline", base != nil, "resamples", ev.Resamples)
	out, err := Evaluate(ctx, Input{Holdout: frame, Label: cfg.Label, Task: cfg.Task, Candidate: cand, Baseline: base, Config: ev, Workers: a.o.Workers})
	if err != nil {
		var bi *BadInputError
		if !errors.As(err, &bi) && ctx.Err() == nil {
			// An endpoint that is down or slow may recover.
			return agents.Report{}, agents.Retriable(fmt.Errorf("evaluation: %w", err))
		}
		return agents.Report{}, fmt.Errorf("evaluation: %w", err)
	}
	rep := BuildReport(out, baseVersion)
	rep.Agent, rep.Stage = a.Name(), Stage
	if task.WorkDir != "" {
		ref, err := writeHTMLArtifact(task.WorkDir, out)
		if err != nil {
			lg.Warn("evaluation report not written", "err", err)
		} else {
			rep.Artifacts = append(rep.Artifacts, ref)
		}
	}
	lg.Info("evaluated", "verdict", rep.Verdict, "comparison", out.Result.Verdict)
	return rep, nil
}

func writeHTMLArtifact(dir string, out *Outcome) (agents.ArtifactRef, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return agents.ArtifactRef{}, err
	}
	path := filepath.Join(dir, "evaluation.html")
	var b strings.Builder
	if err := WriteHTML(&b, out); err != nil {
		return agents.ArtifactRef{}, err
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return agents.ArtifactRef{}, err
	}
	sum := sha256.Sum256([]byte(b.String()))
	return agents.ArtifactRef{Name: "evaluation report", Path: path, SHA256: hex.EncodeToString(sum[:]), Size: int64(b.Len()), MediaType: "text/html"}, nil
}

// BuildReport turns an outcome into the agent's report: flat metrics,
// findings, verdict and the full comparison as Details.
func BuildReport(out *Outcome, baseVersion string) agents.Report {
	r := out.Result
	rep := agents.Report{Agent: "evaluation", Stage: Stage, Metrics: map[string]float64{}, Findings: []agents.Finding{}}
	put := func(k string, v float64) {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			rep.Metrics[k] = v
		}
	}
	put("rows", float64(r.Rows))
	for k, v := range r.Candidate.Values {
		put("candidate."+k, v)
	}
	if c := r.Candidate.Confusion; c != nil {
		put("candidate.confusion_matrix.tn", c.TN)
		put("candidate.confusion_matrix.fp", c.FP)
		put("candidate.confusion_matrix.fn", c.FN)
		put("candidate.confusion_matrix.tp", c.TP)
	}
	if r.Baseline != nil {
		for k, v := range r.Baseline.Values {
			put("production."+k, v)
		}
	}
	for k, c := range r.Comparison {
		if c.Delta != nil {
			put("delta."+k, *c.Delta)
		}
		if c.CILow != nil {
			put("delta."+k+".ci_low", *c.CILow)
			put("delta."+k+".ci_high", *c.CIHigh)
		}
		if c.PValue != nil {
			put("delta."+k+".p_value", *c.PValue)
		}
	}
	if c := r.Cost; c != nil {
		put("cost.candidate_per_1000", c.CandidatePer1000)
		put("cost.optimal_threshold", c.CandidateOptimalThreshold)
		put("cost.candidate_optimal_per_1000", c.CandidateOptimalPer1000)
		if c.BaselinePer1000 != nil {
			put("cost.production_per_1000", *c.BaselinePer1000)
			put("cost.delta_per_1000", c.CandidatePer1000-*c.BaselinePer1000)
		}
	}
	for _, s := range r.Slices {
		pre := "slice." + s.Column + "=" + s.Value + "."
		put(pre+"rows", float64(s.Rows))
		for k, v := range s.Candidate.Values {
			put(pre+"candidate."+k, v)
		}
		if s.Baseline != nil {
			for k, v := range s.Baseline.Values {
				put(pre+"production."+k, v)
			}
		}
		for k, c := range s.Comparison {
			if c.Delta != nil {
				put(pre+"delta."+k, *c.Delta)
			}
			if c.CILow != nil {
				put(pre+"delta."+k+".ci_low", *c.CILow)
				put(pre+"delta."+k+".ci_high", *c.CIHigh)
			}
		}
	}
	rep.Findings = findings(r)
	for _, who := range []string{"candidate", "baseline"} {
		if inf, ok := r.Inference[who]; ok {
			rep.Findings = append(rep.Findings, agents.Finding{ID: "eval.inference." + who, Severity: agents.Info, Code: "eval.inference",
				Subject: who, Message: who + " scored with " + inf})
		}
	}
	switch {
	case !r.Passed:
		rep.Verdict = agents.Fail
	case len(r.Undefined) > 0:
		rep.Verdict = agents.Warn
	default:
		rep.Verdict = agents.Pass
	}
	rep.Summary = summary(r, baseVersion)
	det := details{Result: r}
	if r.Task == "binary" {
		var base []float64
		if out.Baseline != nil {
			base = out.Baseline.Values
		}
		det.Curves = NewCurves(out.Labels, out.Candidate.Values, base)
	}
	var err error
	if rep.Details, err = json.Marshal(det); err != nil {
		rep.Details, _ = json.Marshal(r) // the comparison without its curves rather than nothing
	}
	return rep
}

func findings(r *compare.Result) []agents.Finding {
	var fs []agents.Finding
	add := func(sev agents.Severity, code, subject, msg string, ev map[string]any) {
		fs = append(fs, agents.Finding{ID: fmt.Sprintf("%s/%s", code, subject), Severity: sev, Code: code, Subject: subject, Message: msg, Evidence: ev})
	}
	conf := fmt.Sprintf("%.0f%%", r.Confidence*100)
	for _, k := range slices.Sorted(maps.Keys(r.Comparison)) {
		c := r.Comparison[k]
		if c.Verdict != compare.Regressed || !c.Guarded {
			continue
		}
		add(agents.High, "eval.regression", k,
			fmt.Sprintf("%s regressed against production: %.4g → %.4g (delta %.4g, %s interval [%.4g, %.4g], %s)", k, *c.Baseline, *c.Candidate, *c.Delta, conf, num(c.CILow), num(c.CIHigh), allowed(c)),
			comparisonEvidence(c))
	}
	for _, f := range r.Floors {
		if f.Passed {
			continue
		}
		ev := map[string]any{}
		if f.Min != nil {
			ev["min"] = *f.Min
		}
		if f.Max != nil {
			ev["max"] = *f.Max
		}
		if f.Value == nil {
			add(agents.High, "eval.floor", f.Metric, fmt.Sprintf("%s could not be computed on the holdout, so its floor cannot be met", f.Metric), ev)
			continue
		}
		ev["value"] = *f.Value
		add(agents.High, "eval.floor", f.Metric, fmt.Sprintf("candidate %s %.4g misses its bound%s", f.Metric, *f.Value, boundText(f)), ev)
	}
	for _, s := range r.Slices {
		for _, k := range slices.Sorted(maps.Keys(s.Comparison)) {
			c := s.Comparison[k]
			if c.Verdict != compare.Regressed || !c.Guarded {
				continue
			}
			ev := comparisonEvidence(c)
			ev["metric"] = k
			ev["rows"] = s.Rows
			add(agents.High, "eval.slice_regression", s.Column+"="+s.Value,
				fmt.Sprintf("on %s=%s (%d rows) %s regressed: delta %.4g, %s interval [%.4g, %.4g]", s.Column, s.Value, s.Rows, k, *c.Delta, conf, num(c.CILow), num(c.CIHigh)), ev)
		}
	}
	for _, u := range r.Undefined {
		add(agents.Medium, "eval.undefined_metric", u.Metric, fmt.Sprintf("%s is undefined for %s: %s", u.Metric, u.Subject, u.Reason), map[string]any{"for": u.Subject, "reason": u.Reason})
	}
	for _, k := range slices.Sorted(maps.Keys(r.Comparison)) {
		c := r.Comparison[k]
		if c.Verdict == compare.Improved && c.Guarded {
			add(agents.Info, "eval.improved", k, fmt.Sprintf("%s improved beyond noise: delta %.4g, %s interval [%.4g, %.4g]", k, *c.Delta, conf, num(c.CILow), num(c.CIHigh)), comparisonEvidence(c))
		}
	}
	// IDs must be unique within a report.
	seen := map[string]int{}
	for i := range fs {
		seen[fs[i].ID]++
		if n := seen[fs[i].ID]; n > 1 {
			fs[i].ID = fmt.Sprintf("%s#%d", fs[i].ID, n)
		}
	}
	if fs == nil {
		fs = []agents.Finding{}
	}
	return fs
}

func comparisonEvidence(c compare.Comparison) map[string]any {
	ev := map[string]any{}
	set := func(k string, p *float64) {
		if p != nil {
			ev[k] = *p
		}
	}
	set("candidate", c.Candidate)
	set("production", c.Baseline)
	set("delta", c.Delta)
	set("ci_low", c.CILow)
	set("ci_high", c.CIHigh)
	set("p_value", c.PValue)
	set("min_delta", c.MinDelta)
	set("max_delta", c.MaxDelta)
	if c.Test != "" {
		ev["test"] = c.Test
	}
	return ev
}

func allowed(c compare.Comparison) string {
	switch {
	case c.MinDelta != nil && c.MaxDelta != nil:
		return fmt.Sprintf("allowed change [%g, %g]", *c.MinDelta, *c.MaxDelta)
	case c.MinDelta != nil:
		return fmt.Sprintf("min_delta %g", *c.MinDelta)
	case c.MaxDelta != nil:
		return fmt.Sprintf("max_delta %g", *c.MaxDelta)
	}
	return "no allowed change"
}

func boundText(f compare.Floor) string {
	var parts []string
	if f.Min != nil {
		parts = append(parts, fmt.Sprintf("min %g", *f.Min))
	}
	if f.Max != nil {
		parts = append(parts, fmt.Sprintf("max %g", *f.Max))
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

func num(p *float64) float64 {
	if p == nil {
		return math.NaN()
	}
	return *p
}

// summary is written from the evidence only.
func summary(r *compare.Result, baseVersion string) string {
	var b strings.Builder
	primary := map[string]string{"binary": "roc_auc", "multiclass": "log_loss", "regression": "rmse"}[r.Task]
	fmt.Fprintf(&b, "Evaluated on %d holdout rows (%s). ", r.Rows, r.Task)
	if v, ok := r.Candidate.Values[primary]; ok && !math.IsNaN(v) {
		fmt.Fprintf(&b, "Candidate %s %.4g", primary, v)
		if c, ok := r.Comparison[primary]; ok && c.Delta != nil {
			against := "production"
			if baseVersion != "" {
				against = "production " + baseVersion
			}
			fmt.Fprintf(&b, " vs %.4g for %s (delta %+.4g, %.0f%% interval [%.4g, %.4g]): %s", *c.Baseline, against, *c.Delta, r.Confidence*100, num(c.CILow), num(c.CIHigh), strings.ReplaceAll(string(c.Verdict), "_", " "))
		}
		b.WriteString(". ")
	}
	if r.Baseline == nil {
		b.WriteString("Nothing in production: judged on floors alone. ")
	}
	if r.Passed {
		fmt.Fprintf(&b, "Verdict: %s.", strings.ReplaceAll(string(r.Verdict), "_", " "))
	} else {
		fmt.Fprintf(&b, "Failed: %s.", strings.Join(r.Reasons, "; "))
	}
	return b.String()
}
