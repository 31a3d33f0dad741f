package testing

import (
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/modelgate/modelgate/agents"
	"github.com/modelgate/modelgate/internal/config"
	"github.com/modelgate/modelgate/tools/dataset"
	"github.com/modelgate/modelgate/tools/model"
)

// Kinds of behavioural test.
const (
	KindSanity      = "sanity"
	KindCase        = "case"
	KindInvariance  = "invariance"
	KindDirectional = "directional"
)

// TestResult is one behavioural test's outcome.
type TestResult struct {
	Name     string         `json:"name"`
	Kind     string         `json:"kind"`
	Passed   bool           `json:"passed"`
	Message  string         `json:"message"`
	Value    float64        `json:"value"`           // the measured quantity (max change, violations, latency…)
	Limit    float64        `json:"limit,omitempty"` // what it was held to
	Rows     []int          `json:"rows,omitempty"`  // up to five failing holdout rows (1-based)
	Evidence map[string]any `json:"evidence,omitempty"`
}

// testDetails is Report.Details of the test stage.
type testDetails struct {
	Model    model.Info   `json:"model"`
	Data     string       `json:"data"`
	RowsUsed int          `json:"rows_used"`
	Tests    []TestResult `json:"tests"`
}

// suite holds what every test needs.
type suite struct {
	ctx      context.Context
	pred     model.Predictor
	info     model.Info
	base     model.Batch // sampled holdout rows
	baseRows []int       // their 1-based holdout row numbers
	medians  []float64
	baseOut  model.Predictions
	cfg      config.Tests
}

func (a *Agent) runTest(ctx context.Context, task agents.Task) (agents.Report, error) {
	rep := agents.NewReport(Name, Stage)
	cfg := task.Config
	if a.o.Predictor == nil {
		return rep, fmt.Errorf("test: the testing agent has no predictor factory")
	}
	dataPath := cfg.Data.Holdout
	if dataPath == "" {
		dataPath = cfg.Data.Reference
	}
	if dataPath == "" {
		return rep, fmt.Errorf("test: data.holdout (or data.reference) is required for behavioural tests")
	}
	dataPath = task.Path(dataPath)
	pred, err := a.o.Predictor(ctx, task)
	if err != nil {
		return rep, agents.Retriable(fmt.Errorf("test: open the candidate: %w", err))
	}
	delim := ','
	if cfg.Data.Delimiter != "" {
		delim = []rune(cfg.Data.Delimiter)[0]
	}
	f, err := dataset.Read(dataPath, dataset.Options{Delimiter: delim})
	if err != nil {
		return rep, fmt.Errorf("test: %w", err)
	}
	info := pred.Info()
	features := info.Features
	if len(features) == 0 {
		features = model.FeatureColumns(f, cfg.Label)
	}
	full, err := model.BatchFromFrame(f, features)
	if err != nil {
		return rep, fmt.Errorf("test: %w", err)
	}
	s := &suite{ctx: ctx, pred: pred, info: info, cfg: cfg.Tests}
	s.sample(full, cfg.Tests.Rows)
	det := testDetails{Model: info, Data: dataPath, RowsUsed: s.base.Rows}

	var results []TestResult
	sanity, err := s.sanity()
	if err != nil {
		return rep, err
	}
	results = append(results, sanity...)
	if s.baseOut.Rows == s.base.Rows {
		for _, c := range cfg.Tests.Cases {
			r, err := s.runCase(c)
			if err != nil {
				return rep, err
			}
			results = append(results, r)
		}
		for _, t := range cfg.Tests.Invariance {
			r, err := s.invariance(t)
			if err != nil {
				return rep, err
			}
			results = append(results, r)
		}
		for _, t := range cfg.Tests.Directional {
			r, err := s.directional(t)
			if err != nil {
				return rep, err
			}
			results = append(results, r)
		}
	}
	det.Tests = results
	for i, r := range results {
		key := "tests." + r.Name + "."
		rep.Metrics[key+"passed"] = agents.Bool(r.Passed)
		rep.Metrics[key+"value"] = r.Value
		if r.Passed {
			rep.Metrics["tests.passed"]++
			continue
		}
		rep.Metrics["tests.failed"]++
		rep.Verdict = agents.Fail
		ev := map[string]any{"kind": r.Kind, "value": r.Value, "limit": r.Limit}
		if len(r.Rows) > 0 {
			ev["rows"] = r.Rows
		}
		for k, v := range r.Evidence {
			ev[k] = v
		}
		rep.Findings = append(rep.Findings, agents.Finding{ID: fmt.Sprintf("behaviour-%d", i+1), Severity: agents.High,
			Code: "behaviour." + r.Kind, Subject: r.Name, Message: r.Message, Evidence: ev})
	}
	rep.Metrics["tests.total"] = float64(len(results))
	rep.Metrics["tests.passed"] += 0
	rep.Metrics["tests.failed"] += 0
	rep.Details = agents.MustJSON(det)
	if ref, err := agents.WriteArtifact(task, "behaviour.json", "application/json", rep.Details); err != nil {
		return rep, err
	} else if ref != nil {
		rep.Artifacts = append(rep.Artifacts, *ref)
	}
	rep.Summary = testSummary(results)
	return rep, nil
}

// sample keeps up to n rows spread evenly over the data (deterministic,
// so that a rerun tests the same rows).
func (s *suite) sample(full model.Batch, n int) {
	nf := len(full.Features)
	s.medians = make([]float64, nf)
	for j := range nf {
		var vals []float64
		for r := 0; r < full.Rows; r++ {
			if v := full.Values[r*nf+j]; !math.IsNaN(v) {
				vals = append(vals, v)
			}
		}
		s.medians[j] = math.NaN()
		if len(vals) > 0 {
			slices.Sort(vals)
			s.medians[j] = vals[len(vals)/2]
			if len(vals)%2 == 0 {
				s.medians[j] = (vals[len(vals)/2-1] + vals[len(vals)/2]) / 2
			}
		}
	}
	rows := min(n, full.Rows)
	s.base = model.Batch{Features: full.Features, Rows: rows, Values: make([]float64, 0, rows*nf)}
	for i := range rows {
		r := i * full.Rows / max(rows, 1)
		s.baseRows = append(s.baseRows, r+1)
		s.base.Values = append(s.base.Values, full.Row(r)...)
	}
}

func (s *suite) predict(b model.Batch) (model.Predictions, error) {
	p, err := s.pred.Predict(s.ctx, b)
	if err != nil {
		return p, agents.Retriable(fmt.Errorf("test: predict %d rows: %w", b.Rows, err))
	}
	if p.Width() < 1 {
		return p, fmt.Errorf("test: the predictor returned %s predictions with no value per row", p.Kind)
	}
	if p.Rows != b.Rows || len(p.Values) != p.Rows*p.Width() {
		return p, fmt.Errorf("test: the predictor returned %d rows (%d values) for %d rows", p.Rows, len(p.Values), b.Rows)
	}
	return p, nil
}

// score is the watched output of row i.
func score(p model.Predictions, i, class int) float64 {
	if p.Kind == model.Multiclass {
		if class < 0 || class >= p.Classes {
			return math.NaN()
		}
		return p.Row(i)[class]
	}
	return p.Values[i]
}

func (s *suite) sanity() ([]TestResult, error) {
	start := time.Now()
	p, err := s.predict(s.base)
	if err != nil {
		return nil, err
	}
	elapsed := time.Since(start)
	s.baseOut = p
	perRow := elapsed / time.Duration(max(s.base.Rows, 1))
	budget := s.cfg.Sanity.MaxLatencyPerRow.Duration
	var nanRows, rangeRows, sumRows []int
	for i := 0; i < p.Rows; i++ {
		row := p.Row(i)
		sum := 0.0
		for _, v := range row {
			sum += v
			if math.IsNaN(v) || math.IsInf(v, 0) {
				nanRows = append(nanRows, s.baseRows[i])
			} else if p.Kind != model.Regression && (v < 0 || v > 1) {
				rangeRows = append(rangeRows, s.baseRows[i])
			}
		}
		if p.Kind == model.Multiclass && math.Abs(sum-1) > 1e-6 {
			sumRows = append(sumRows, s.baseRows[i])
		}
	}
	check := func(name, okMsg, badMsg string, bad []int) TestResult {
		r := TestResult{Name: name, Kind: KindSanity, Passed: len(bad) == 0, Value: float64(len(bad)), Message: okMsg}
		if len(bad) > 0 {
			r.Message = fmt.Sprintf(badMsg, len(bad), p.Rows)
			r.Rows = bad[:min(5, len(bad))]
		}
		return r
	}
	out := []TestResult{
		check("sanity.finite", "every prediction is a finite number", "%d of %d rows have NaN or infinite predictions", nanRows),
	}
	if p.Kind != model.Regression {
		out = append(out, check("sanity.probability_range", "every probability is in [0, 1]", "%d of %d rows have probabilities outside [0, 1]", rangeRows))
	}
	if p.Kind == model.Multiclass {
		out = append(out, check("sanity.probability_sum", "class probabilities sum to 1", "%d of %d rows have class probabilities that do not sum to 1", sumRows))
	}
	lat := TestResult{Name: "sanity.latency", Kind: KindSanity, Value: float64(perRow) / 1e6, Limit: float64(budget) / 1e6,
		Passed: perRow <= budget, Evidence: map[string]any{"rows": p.Rows, "elapsed_ms": float64(elapsed) / 1e6}}
	lat.Message = fmt.Sprintf("%.3f ms per row over %d rows (budget %.3f ms)", lat.Value, p.Rows, lat.Limit)
	if !lat.Passed {
		lat.Message = "too slow: " + lat.Message
	}
	out = append(out, lat)
	return out, nil
}

func (s *suite) featureIndex(name string) int { return slices.Index(s.base.Features, name) }

func (s *suite) runCase(c config.TestCase) (TestResult, error) {
	r := TestResult{Name: c.Name, Kind: KindCase, Evidence: map[string]any{"input": c.Input}}
	row := make([]float64, len(s.base.Features))
	for j := range row {
		row[j] = math.NaN()
		if c.Fill == "median" {
			row[j] = s.medians[j]
		}
	}
	var unknown []string
	for k, v := range c.Input {
		j := s.featureIndex(k)
		if j < 0 {
			unknown = append(unknown, k)
			continue
		}
		row[j] = v
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		r.Message = fmt.Sprintf("input names features the model does not have: %s", strings.Join(unknown, ", "))
		return r, nil
	}
	p, err := s.predict(model.Batch{Features: s.base.Features, Rows: 1, Values: row})
	if err != nil {
		return r, err
	}
	got := p.Row(0)
	r.Evidence["output"] = got
	var class int
	switch p.Kind {
	case model.Binary:
		if got[0] >= s.cfg.Sanity.Threshold {
			class = 1
		}
	case model.Multiclass:
		class = argmax(got)
	}
	r.Value = got[0]
	if p.Kind == model.Multiclass && c.Class != nil {
		r.Value = float64(class)
	}
	r.Passed = true
	var want []string
	if c.Class != nil {
		want = append(want, fmt.Sprintf("class %d", *c.Class))
		if p.Kind == model.Regression || class != *c.Class {
			r.Passed = false
		}
	}
	sc := got[0]
	if p.Kind == model.Multiclass && c.Class != nil {
		sc = got[*c.Class]
	}
	if c.Min != nil {
		want = append(want, fmt.Sprintf("score >= %g", *c.Min))
		r.Passed = r.Passed && sc >= *c.Min
	}
	if c.Max != nil {
		want = append(want, fmt.Sprintf("score <= %g", *c.Max))
		r.Passed = r.Passed && sc <= *c.Max
	}
	verb := "gave"
	if !r.Passed {
		verb = "expected " + strings.Join(want, " and ") + ", got"
	}
	r.Message = fmt.Sprintf("case %q %s class %d (score %.4g)", c.Name, verb, class, sc)
	return r, nil
}

func argmax(v []float64) int {
	best := 0
	for i := range v {
		if v[i] > v[best] {
			best = i
		}
	}
	return best
}

func (s *suite) rng(name string) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(name))
	return rand.New(rand.NewPCG(s.cfg.Seed, h.Sum64()))
}

// perturbed copies the base batch with fn applied to one feature.
func (s *suite) perturbed(j int, fn func(v float64) float64) model.Batch {
	b := s.base
	b.Values = slices.Clone(s.base.Values)
	nf := len(b.Features)
	for i := 0; i < b.Rows; i++ {
		b.Values[i*nf+j] = fn(b.Values[i*nf+j])
	}
	return b
}

func (s *suite) invariance(t config.InvarianceTest) (TestResult, error) {
	r := TestResult{Name: t.Name, Kind: KindInvariance, Limit: t.Epsilon,
		Evidence: map[string]any{"feature": t.Feature, "delta": t.Delta}}
	j := s.featureIndex(t.Feature)
	if j < 0 {
		r.Message = fmt.Sprintf("feature %q is not a model input (%s)", t.Feature, strings.Join(s.base.Features, ", "))
		return r, nil
	}
	rng := s.rng(t.Name)
	p, err := s.predict(s.perturbed(j, func(v float64) float64 { return v + (rng.Float64()*2-1)*t.Delta }))
	if err != nil {
		return r, err
	}
	var bad []int
	for i := 0; i < p.Rows; i++ {
		d := math.Abs(score(p, i, t.Class) - score(s.baseOut, i, t.Class))
		if math.IsNaN(d) {
			continue
		}
		r.Value = math.Max(r.Value, d)
		if d > t.Epsilon {
			bad = append(bad, s.baseRows[i])
		}
	}
	r.Passed = len(bad) == 0
	r.Evidence["violations"] = len(bad)
	if r.Passed {
		r.Message = fmt.Sprintf("perturbing %s by up to ±%g moved the score by at most %.4g (limit %g)", t.Feature, t.Delta, r.Value, t.Epsilon)
	} else {
		r.Message = fmt.Sprintf("perturbing %s by up to ±%g moved the score by up to %.4g on %d of %d rows (limit %g)", t.Feature, t.Delta, r.Value, len(bad), p.Rows, t.Epsilon)
		r.Rows = bad[:min(5, len(bad))]
	}
	return r, nil
}

func (s *suite) directional(t config.DirectionalTest) (TestResult, error) {
	r := TestResult{Name: t.Name, Kind: KindDirectional, Limit: t.Tolerance,
		Evidence: map[string]any{"feature": t.Feature, "delta": t.Delta, "direction": t.Direction}}
	j := s.featureIndex(t.Feature)
	if j < 0 {
		r.Message = fmt.Sprintf("feature %q is not a model input (%s)", t.Feature, strings.Join(s.base.Features, ", "))
		return r, nil
	}
	p, err := s.predict(s.perturbed(j, func(v float64) float64 { return v + t.Delta }))
	if err != nil {
		return r, err
	}
	var bad []int
	worst := 0.0
	for i := 0; i < p.Rows; i++ {
		d := score(p, i, t.Class) - score(s.baseOut, i, t.Class)
		if math.IsNaN(d) {
			continue
		}
		against := -d // how far the score moved against the expected direction
		if t.Direction == "decrease" {
			against = d
		}
		if against > t.Tolerance {
			bad = append(bad, s.baseRows[i])
			worst = math.Max(worst, against)
		}
	}
	r.Value = float64(len(bad))
	r.Passed = len(bad) == 0
	r.Evidence["worst_move"] = worst
	if r.Passed {
		r.Message = fmt.Sprintf("adding %g to %s never moved the score against %s", t.Delta, t.Feature, t.Direction)
	} else {
		r.Message = fmt.Sprintf("adding %g to %s moved the score the wrong way on %d of %d rows (by up to %.4g)", t.Delta, t.Feature, len(bad), p.Rows, worst)
		r.Rows = bad[:min(5, len(bad))]
	}
	return r, nil
}

func testSummary(rs []TestResult) string {
	var failed []string
	for _, r := range rs {
		if !r.Passed {
			failed = append(failed, r.Name)
		}
	}
	if len(failed) == 0 {
		return fmt.Sprintf("All %d behavioural tests passed.", len(rs))
	}
	return fmt.Sprintf("%d of %d behavioural tests failed: %s.", len(failed), len(rs), strings.Join(failed, ", "))
}
