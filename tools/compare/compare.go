package compare

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sort"
	"sync"

	"github.com/modelgate/modelgate/tools/metrics"
	"github.com/modelgate/modelgate/tools/model"
)

// Verdict is the outcome of one metric, one slice or the whole comparison.
type Verdict string

const (
	Improved     Verdict = "improved"
	NoRegression Verdict = "no_regression"
	Regressed    Verdict = "regressed"
	Undefined    Verdict = "undefined" // the metric cannot be computed (one class, constant target)
)

// Threshold bounds a metric: floors on the candidate's value (Min, Max)
// and bounds on the change against production (MinDelta, MaxDelta).
type Threshold struct {
	Min      *float64 `json:"min,omitempty"`
	Max      *float64 `json:"max,omitempty"`
	MinDelta *float64 `json:"min_delta,omitempty"`
	MaxDelta *float64 `json:"max_delta,omitempty"`
}

func (t Threshold) hasDelta() bool { return t.MinDelta != nil || t.MaxDelta != nil }

// SliceInput is one slice column already cut into groups.
type SliceInput struct {
	Column string
	Groups []metrics.Group
}

// Params is one comparison. Labels are 0/1 (binary), class indices
// (multiclass) or targets (regression).
type Params struct {
	Task       string // binary | multiclass | regression
	Labels     []float64
	Candidate  model.Predictions
	Baseline   *model.Predictions // nil: the first model of a name, judged on floors alone
	Threshold  float64            // binary decision threshold; default 0.5
	Cost       *metrics.CostMatrix
	Thresholds map[string]Threshold // empty: the task's primary metric must not significantly regress
	Slices     []SliceInput
	Resamples  int     // paired bootstrap resamples; default 1000
	Seed       int64   // the same seed gives the same intervals
	Confidence float64 // default 0.95
	Workers    int     // default GOMAXPROCS
}

// Comparison is one metric of the candidate against the baseline.
type Comparison struct {
	Candidate *float64 `json:"candidate,omitempty"`
	Baseline  *float64 `json:"baseline,omitempty"`
	Delta     *float64 `json:"delta,omitempty"`
	CILow     *float64 `json:"ci_low,omitempty"`
	CIHigh    *float64 `json:"ci_high,omitempty"`
	PValue    *float64 `json:"p_value,omitempty"`
	Test      string   `json:"test,omitempty"` // delong | mcnemar | bootstrap
	Verdict   Verdict  `json:"verdict"`
	Guarded   bool     `json:"guarded"` // a threshold bounds its change; a regression fails the comparison
	MinDelta  *float64 `json:"min_delta,omitempty"`
	MaxDelta  *float64 `json:"max_delta,omitempty"`
}

// Floor is one absolute bound on the candidate's value.
type Floor struct {
	Metric string   `json:"metric"`
	Value  *float64 `json:"value,omitempty"`
	Min    *float64 `json:"min,omitempty"`
	Max    *float64 `json:"max,omitempty"`
	Passed bool     `json:"passed"`
}

// CostResult is the business KPI of a cost matrix.
type CostResult struct {
	Matrix                    metrics.CostMatrix `json:"matrix"`
	CandidatePer1000          float64            `json:"candidate_per_1000"`
	BaselinePer1000           *float64           `json:"baseline_per_1000,omitempty"`
	CandidateOptimalThreshold float64            `json:"candidate_optimal_threshold"`
	CandidateOptimalPer1000   float64            `json:"candidate_optimal_per_1000"`
}

// SliceResult is the comparison restricted to one slice.
type SliceResult struct {
	Column     string                `json:"column"`
	Value      string                `json:"value"`
	Rows       int                   `json:"rows"`
	Candidate  MetricSet             `json:"candidate"`
	Baseline   *MetricSet            `json:"baseline,omitempty"`
	Comparison map[string]Comparison `json:"comparison,omitempty"`
	Verdict    Verdict               `json:"verdict"`
}

// UndefinedMetric records a metric that could not be computed and why.
type UndefinedMetric struct {
	Metric  string `json:"metric"`
	Subject string `json:"subject"` // candidate, baseline, or slice col=value
	Reason  string `json:"reason"`
}

// Result is the whole comparison, the JSON of `modelgate evaluate --json`.
type Result struct {
	Task       string                `json:"task"`
	Rows       int                   `json:"rows"`
	Threshold  float64               `json:"threshold,omitempty"`
	Candidate  MetricSet             `json:"candidate"`
	Baseline   *MetricSet            `json:"baseline,omitempty"`
	Comparison map[string]Comparison `json:"comparison,omitempty"`
	Floors     []Floor               `json:"floors,omitempty"`
	Cost       *CostResult           `json:"cost,omitempty"`
	Slices     []SliceResult         `json:"slices"`
	Undefined  []UndefinedMetric     `json:"undefined,omitempty"`
	Resamples  int                   `json:"resamples"`
	Seed       int64                 `json:"seed"`
	Confidence float64               `json:"confidence"`
	Verdict    Verdict               `json:"verdict"` // improved | no_regression | regressed
	Passed     bool                  `json:"passed"`  // no guarded regression and every floor met
	Reasons    []string              `json:"reasons,omitempty"`
	// Inference is how each native model scored the rows (its missing
	// value, the trees used), by "candidate" / "baseline"; set by callers
	// that opened the models.
	Inference map[string]string `json:"inference,omitempty"`
}

// MetricSet is one model's metrics. NaN (undefined) values are left out of
// its JSON and listed in Result.Undefined instead.
type MetricSet struct {
	Values    map[string]float64
	Confusion *metrics.Confusion
}

// MarshalJSON writes the metrics flat, with confusion_matrix beside them.
func (m MetricSet) MarshalJSON() ([]byte, error) {
	out := make(map[string]any, len(m.Values)+1)
	for k, v := range m.Values {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			out[k] = v
		}
	}
	if m.Confusion != nil {
		out["confusion_matrix"] = m.Confusion
	}
	return json.Marshal(out)
}

// UnmarshalJSON reads what MarshalJSON wrote.
func (m *MetricSet) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	m.Values = map[string]float64{}
	for k, v := range raw {
		if k == "confusion_matrix" {
			m.Confusion = &metrics.Confusion{}
			if err := json.Unmarshal(v, m.Confusion); err != nil {
				return fmt.Errorf("confusion_matrix: %w", err)
			}
			continue
		}
		var f float64
		if err := json.Unmarshal(v, &f); err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
		m.Values[k] = f
	}
	return nil
}

// LowerIsBetter reports whether a smaller value of metric is better.
func LowerIsBetter(metric string) bool {
	switch metric {
	case "log_loss", "brier", "ece", "rmse", "mae", "mape", "cost_per_1000":
		return true
	}
	return false
}

// Metrics lists the metrics of a task, in report order.
func Metrics(task string, withCost bool) []string {
	switch task {
	case "binary":
		m := []string{"roc_auc", "pr_auc", "accuracy", "precision", "recall", "f1", "log_loss", "brier", "ece"}
		if withCost {
			m = append(m, "cost_per_1000")
		}
		return m
	case "multiclass":
		return []string{"accuracy", "macro_f1", "log_loss"}
	case "regression":
		return []string{"rmse", "mae", "r2", "mape"}
	}
	return nil
}

// DefaultThresholds guards the task's primary metric when the config
// names none: it must not get significantly worse than production.
func DefaultThresholds(task string) map[string]Threshold {
	zero := 0.0
	switch task {
	case "binary":
		return map[string]Threshold{"roc_auc": {MinDelta: &zero}}
	case "multiclass":
		return map[string]Threshold{"log_loss": {MaxDelta: &zero}}
	case "regression":
		return map[string]Threshold{"rmse": {MaxDelta: &zero}}
	}
	return nil
}

// scorer computes every metric of one model on a set of rows under
// bootstrap weights.
type scorer interface {
	score(w []float64) map[string]float64
	correct(i int) bool // for McNemar; false for regression
	confusion() *metrics.Confusion
}

type binaryScorer struct {
	d         *metrics.BinaryData
	threshold float64
	cost      *metrics.CostMatrix
	// whole is the confusion matrix of the last unweighted score, which
	// summarise asks for right after it: one pass over the rows fewer.
	whole *metrics.Confusion
}

func (s *binaryScorer) score(w []float64) map[string]float64 {
	m := s.d.Binary(s.threshold, w)
	if w == nil {
		c := m.Confusion
		s.whole = &c
	}
	out := m.Map()
	if s.cost != nil {
		out["cost_per_1000"] = s.cost.PerThousand(m.Confusion)
	}
	return out
}

func (s *binaryScorer) correct(i int) bool {
	return (s.d.P[i] >= s.threshold) == (s.d.Y[i] == 1)
}

func (s *binaryScorer) confusion() *metrics.Confusion {
	if s.whole != nil {
		c := *s.whole
		return &c
	}
	c := s.d.ConfusionAt(s.threshold, nil)
	return &c
}

type multiScorer struct{ d *metrics.MulticlassData }

func (s *multiScorer) score(w []float64) map[string]float64 { return s.d.Multiclass(w) }
func (s *multiScorer) correct(i int) bool                   { return s.d.Argmax(i) == int(s.d.Y[i]) }
func (s *multiScorer) confusion() *metrics.Confusion        { return nil }

type regScorer struct{ d *metrics.RegressionData }

func (s *regScorer) score(w []float64) map[string]float64 { return s.d.Regression(w) }
func (s *regScorer) correct(int) bool                     { return false }
func (s *regScorer) confusion() *metrics.Confusion        { return nil }

// InputError is bad input to a comparison (labels, scores), naming what.
type InputError struct {
	Subject string // candidate, baseline, labels
	Err     error
}

func (e *InputError) Error() string { return e.Subject + ": " + e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

func newScorer(p *Params, pred model.Predictions, rows []int, subject string) (scorer, error) {
	y := p.Labels
	vals := pred.Values
	w := pred.Width()
	if rows != nil {
		y = make([]float64, len(rows))
		vals = make([]float64, len(rows)*w)
		for j, i := range rows {
			y[j] = p.Labels[i]
			copy(vals[j*w:(j+1)*w], pred.Values[i*w:(i+1)*w])
		}
	}
	var s scorer
	var err error
	switch p.Task {
	case "binary":
		if pred.Kind != model.Binary {
			return nil, &InputError{subject, fmt.Errorf("a binary task needs one probability per row, the model gives %s output", pred.Kind)}
		}
		var d *metrics.BinaryData
		if pred.Float32 {
			d, err = metrics.NewBinaryDataFloat32(y, vals)
		} else {
			d, err = metrics.NewBinaryData(y, vals)
		}
		s = &binaryScorer{d: d, threshold: p.Threshold, cost: p.Cost}
	case "multiclass":
		if pred.Kind != model.Multiclass {
			return nil, &InputError{subject, fmt.Errorf("a multiclass task needs class probabilities, the model gives %s output", pred.Kind)}
		}
		var d *metrics.MulticlassData
		if pred.Float32 {
			d, err = metrics.NewMulticlassDataFloat32(y, vals, pred.Classes)
		} else {
			d, err = metrics.NewMulticlassData(y, vals, pred.Classes)
		}
		s = &multiScorer{d}
	case "regression":
		if pred.Kind != model.Regression && pred.Kind != model.Binary {
			return nil, &InputError{subject, fmt.Errorf("a regression task needs one value per row, the model gives %s output", pred.Kind)}
		}
		var d *metrics.RegressionData
		d, err = metrics.NewRegressionData(y, vals)
		s = &regScorer{d}
	default:
		return nil, fmt.Errorf("task %q: comparison supports binary, multiclass and regression", p.Task)
	}
	if err != nil {
		return nil, &InputError{subject, err}
	}
	return s, nil
}

// group is the whole holdout or one slice, with the scorers of both models.
type group struct {
	name       string
	rows       []int // nil = all rows
	cand, base scorer
	metrics    []string
	// deltas[k][b]: resample b's delta of metrics[k]; cands likewise for
	// the candidate alone (its interval, when there is no baseline).
	deltas [][]float64
}

// Run compares the candidate with the baseline on the same rows.
func Run(ctx context.Context, p Params) (*Result, error) {
	if err := p.defaults(); err != nil {
		return nil, err
	}
	n := len(p.Labels)
	if p.Candidate.Rows != n {
		return nil, &InputError{"candidate", fmt.Errorf("%d predictions for %d labelled rows", p.Candidate.Rows, n)}
	}
	if p.Baseline != nil && p.Baseline.Rows != n {
		return nil, &InputError{"baseline", fmt.Errorf("%d predictions for %d labelled rows", p.Baseline.Rows, n)}
	}
	names := Metrics(p.Task, p.Cost != nil)
	res := &Result{Task: p.Task, Rows: n, Resamples: p.Resamples, Seed: p.Seed, Confidence: p.Confidence, Slices: []SliceResult{}}
	if p.Task == "binary" {
		res.Threshold = p.Threshold
	}
	all, err := p.newGroup("", nil, names)
	if err != nil {
		return nil, err
	}
	groups := []*group{all}
	for _, sl := range p.Slices {
		for _, g := range sl.Groups {
			sg, err := p.newGroup(g.Column+"="+g.Value, g.Rows, names)
			if err != nil {
				return nil, fmt.Errorf("slice %s=%s: %w", g.Column, g.Value, err)
			}
			groups = append(groups, sg)
		}
	}
	if p.Baseline != nil {
		if err := p.bootstrap(ctx, groups); err != nil {
			return nil, err
		}
	}
	res.Candidate, res.Baseline, res.Comparison = p.summarise(all, res, "")
	res.Floors = p.floors(res.Candidate, res)
	if p.Cost != nil && p.Task == "binary" {
		bs := all.cand.(*binaryScorer)
		cr := &CostResult{Matrix: *p.Cost, CandidatePer1000: res.Candidate.Values["cost_per_1000"]}
		cr.CandidateOptimalThreshold, cr.CandidateOptimalPer1000 = bs.d.OptimalThreshold(*p.Cost)
		if res.Baseline != nil {
			v := res.Baseline.Values["cost_per_1000"]
			cr.BaselinePer1000 = &v
		}
		res.Cost = cr
	}
	idx := 1
	for _, sl := range p.Slices {
		for _, g := range sl.Groups {
			sg := groups[idx]
			idx++
			sr := SliceResult{Column: g.Column, Value: g.Value, Rows: len(g.Rows)}
			cs, bs, cmp := p.summarise(sg, res, "slice "+sg.name)
			sr.Candidate, sr.Baseline, sr.Comparison = cs, bs, cmp
			sr.Verdict = overall(cmp)
			res.Slices = append(res.Slices, sr)
		}
	}
	res.decide()
	res.gateUndefined(p.Thresholds)
	return res, nil
}

// gateUndefined fails a comparison whose guarded metric the candidate or
// baseline could not measure (undefined, or infinite after overflow): a
// gate that cannot measure its metric must not pass by default, as an
// rmse that vanished from the JSON once did.
func (r *Result) gateUndefined(th map[string]Threshold) {
	for _, k := range slices.Sorted(maps.Keys(th)) {
		if !th[k].hasDelta() {
			continue // a floor alone is judged by floors
		}
		for _, who := range []struct {
			name string
			set  *MetricSet
		}{{"candidate", &r.Candidate}, {"baseline", r.Baseline}} {
			if who.set == nil {
				continue
			}
			v, ok := who.set.Values[k]
			if ok && !math.IsNaN(v) && !math.IsInf(v, 0) {
				continue
			}
			why := "it could not be computed"
			for _, u := range r.Undefined {
				if u.Metric == k && u.Subject == who.name {
					why = u.Reason
				}
			}
			r.Passed = false
			r.Reasons = append(r.Reasons, fmt.Sprintf("guarded metric %s is undefined for the %s, so the gate cannot pass: %s", k, who.name, why))
		}
	}
}

func (p *Params) defaults() error {
	if p.Threshold == 0 {
		p.Threshold = 0.5
	}
	if p.Resamples == 0 {
		p.Resamples = 1000
	}
	if p.Resamples < 0 || p.Resamples > 1_000_000 {
		return fmt.Errorf("resamples %d out of range [1, 1000000]", p.Resamples)
	}
	if p.Confidence == 0 {
		p.Confidence = 0.95
	}
	if !(p.Confidence > 0 && p.Confidence < 1) {
		return fmt.Errorf("confidence %g must be in (0, 1)", p.Confidence)
	}
	if p.Workers <= 0 {
		p.Workers = runtime.GOMAXPROCS(0)
	}
	if len(p.Thresholds) == 0 {
		p.Thresholds = DefaultThresholds(p.Task)
	}
	known := Metrics(p.Task, p.Cost != nil)
	for k := range p.Thresholds {
		if !slices.Contains(known, k) {
			return fmt.Errorf("threshold on %q: not a %s metric (known: %v)", k, p.Task, known)
		}
	}
	if len(p.Labels) == 0 {
		return &InputError{"labels", errors.New("no rows")}
	}
	return nil
}

func (p *Params) newGroup(name string, rows []int, names []string) (*group, error) {
	g := &group{name: name, rows: rows, metrics: names}
	var err error
	if g.cand, err = newScorer(p, p.Candidate, rows, "candidate"); err != nil {
		return nil, err
	}
	if p.Baseline != nil {
		if g.base, err = newScorer(p, *p.Baseline, rows, "baseline"); err != nil {
			return nil, err
		}
	}
	return g, nil
}

// bootstrap draws paired resamples of the rows (the same rows for both
// models, so that their correlation narrows the interval of the delta)
// and records every metric's delta in every group. Resample b uses its
// own generator seeded from (Seed, b), so results do not depend on how
// resamples are spread over workers.
func (p *Params) bootstrap(ctx context.Context, groups []*group) error {
	B := p.Resamples
	for _, g := range groups {
		g.deltas = make([][]float64, len(g.metrics))
		for k := range g.deltas {
			g.deltas[k] = make([]float64, B)
		}
	}
	n := len(p.Labels)
	var next int
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := 0; w < min(p.Workers, B); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			counts := make([]float64, n)
			var sub []float64
			for ctx.Err() == nil {
				mu.Lock()
				b := next
				next++
				mu.Unlock()
				if b >= B {
					return
				}
				rng := rand.New(rand.NewPCG(uint64(p.Seed), uint64(b)))
				clear(counts)
				for i := 0; i < n; i++ {
					counts[rng.IntN(n)]++
				}
				for _, g := range groups {
					w := counts
					if g.rows != nil {
						sub = slices.Grow(sub[:0], len(g.rows))[:len(g.rows)]
						for j, i := range g.rows {
							sub[j] = counts[i]
						}
						w = sub
					}
					cm := g.cand.score(w)
					bm := g.base.score(w)
					for k, name := range g.metrics {
						g.deltas[k][b] = cm[name] - bm[name]
					}
				}
			}
		}()
	}
	wg.Wait()
	return ctx.Err()
}

// summarise computes point estimates, intervals, p-values and verdicts
// for one group, and records undefined metrics.
func (p *Params) summarise(g *group, res *Result, where string) (MetricSet, *MetricSet, map[string]Comparison) {
	label := func(s string) string {
		if where == "" {
			return s
		}
		return where + " " + s
	}
	cm := g.cand.score(nil)
	cand := MetricSet{Values: cm, Confusion: g.cand.confusion()}
	for _, k := range g.metrics {
		if math.IsNaN(cm[k]) || math.IsInf(cm[k], 0) {
			res.Undefined = append(res.Undefined, UndefinedMetric{Metric: k, Subject: label("candidate"), Reason: undefinedReason(p.Task, k, cm[k])})
		}
	}
	if g.base == nil {
		return cand, nil, nil
	}
	bm := g.base.score(nil)
	base := &MetricSet{Values: bm, Confusion: g.base.confusion()}
	for _, k := range g.metrics {
		if math.IsNaN(bm[k]) || math.IsInf(bm[k], 0) {
			res.Undefined = append(res.Undefined, UndefinedMetric{Metric: k, Subject: label("baseline"), Reason: undefinedReason(p.Task, k, bm[k])})
		}
	}
	cmp := make(map[string]Comparison, len(g.metrics))
	alpha := 1 - p.Confidence
	for k, name := range g.metrics {
		c := Comparison{}
		th, guarded := p.Thresholds[name]
		c.Guarded = guarded && th.hasDelta()
		c.MinDelta, c.MaxDelta = th.MinDelta, th.MaxDelta
		cv, bv := cm[name], bm[name]
		if math.IsNaN(cv) || math.IsNaN(bv) || math.IsInf(cv, 0) || math.IsInf(bv, 0) {
			c.Verdict = Undefined
			cmp[name] = c
			continue
		}
		delta := cv - bv
		c.Candidate, c.Baseline, c.Delta = ptr(cv), ptr(bv), ptr(delta)
		lo, hi, pv, ok := interval(g.deltas[k], alpha)
		if ok {
			c.CILow, c.CIHigh = ptr(lo), ptr(hi)
			c.PValue, c.Test = ptr(pv), "bootstrap"
		}
		switch {
		case name == "roc_auc":
			bsc := g.base.(*binaryScorer)
			csc := g.cand.(*binaryScorer)
			if r, ok := DeLong(csc.d.Y, csc.d.P, bsc.d.P); ok {
				c.PValue, c.Test = ptr(r.PValue), "delong"
			}
		case name == "accuracy":
			var b01, b10 int
			for i := 0; i < rowsOf(g, len(p.Labels)); i++ {
				cc, bc := g.cand.correct(i), g.base.correct(i)
				if cc && !bc {
					b01++
				} else if bc && !cc {
					b10++
				}
			}
			c.PValue, c.Test = ptr(McNemar(b01, b10)), "mcnemar"
		}
		c.Verdict = verdict(name, c, th)
		cmp[name] = c
	}
	return cand, base, cmp
}

func rowsOf(g *group, n int) int {
	if g.rows != nil {
		return len(g.rows)
	}
	return n
}

func ptr(v float64) *float64 { return &v }

func undefinedReason(task, metric string, v float64) string {
	switch {
	case math.IsInf(v, 0):
		return fmt.Sprintf("%s is %g: the values are too large to compute it in float64", metric, v)
	case metric == "roc_auc":
		return "the labels hold one class only: roc_auc needs positives and negatives"
	case metric == "pr_auc":
		return "the labels hold no positive: pr_auc needs at least one"
	case metric == "r2":
		return "the target is constant: r2 is undefined"
	}
	return "not computable on these rows"
}

// interval is the percentile bootstrap interval of the deltas (linear
// interpolation between order statistics, as numpy.percentile) and the
// bootstrap p-value of "no change": twice the smaller tail share of
// resamples on either side of zero, (count+1)/(B+1). Resamples where the metric was
// undefined are dropped; when more than half are, there is no interval.
func interval(d []float64, alpha float64) (lo, hi, p float64, ok bool) {
	v := make([]float64, 0, len(d))
	for _, x := range d {
		if !math.IsNaN(x) {
			v = append(v, x)
		}
	}
	if len(v) == 0 || len(v)*2 < len(d) {
		return 0, 0, 0, false
	}
	sort.Float64s(v)
	q := func(f float64) float64 {
		pos := f * float64(len(v)-1)
		i := int(pos)
		if i+1 >= len(v) {
			return v[len(v)-1]
		}
		return v[i] + (pos-float64(i))*(v[i+1]-v[i])
	}
	var le, ge int
	for _, x := range v {
		if x <= 0 {
			le++
		}
		if x >= 0 {
			ge++
		}
	}
	// +1 in numerator and denominator: with B resamples a p-value below
	// 1/(B+1) cannot be resolved, and 0 would overstate the evidence.
	p = min(1, 2*float64(min(le, ge)+1)/float64(len(v)+1))
	return q(alpha / 2), q(1 - alpha/2), p, true
}

// verdict decides one metric from its interval. A change counts only
// beyond noise: the metric regressed when the whole interval of the delta
// lies outside the allowed change (below min_delta or above max_delta;
// for an unguarded metric, on the wrong side of zero), and improved when
// the whole interval lies on the good side of zero. Without an interval
// (resamples undefined) the point estimate decides.
func verdict(name string, c Comparison, th Threshold) Verdict {
	lo, hi := *c.Delta, *c.Delta
	if c.CILow != nil {
		lo, hi = *c.CILow, *c.CIHigh
	}
	lower := LowerIsBetter(name)
	minD, maxD := th.MinDelta, th.MaxDelta
	if !th.hasDelta() {
		zero := 0.0
		if lower {
			maxD = &zero
		} else {
			minD = &zero
		}
	}
	if (minD != nil && hi < *minD) || (maxD != nil && lo > *maxD) {
		return Regressed
	}
	if (!lower && lo > 0) || (lower && hi < 0) {
		return Improved
	}
	return NoRegression
}

func overall(cmp map[string]Comparison) Verdict {
	v := NoRegression
	for _, c := range cmp {
		if !c.Guarded {
			continue
		}
		switch c.Verdict {
		case Regressed:
			return Regressed
		case Improved:
			v = Improved
		}
	}
	return v
}

func (p *Params) floors(cand MetricSet, res *Result) []Floor {
	var out []Floor
	for _, k := range slices.Sorted(maps.Keys(p.Thresholds)) {
		th := p.Thresholds[k]
		if th.Min == nil && th.Max == nil {
			continue
		}
		f := Floor{Metric: k, Min: th.Min, Max: th.Max}
		v := cand.Values[k]
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			f.Value = ptr(v)
			// An undefined value fails its floor: a gate cannot pass
			// what it could not measure.
			f.Passed = (th.Min == nil || v >= *th.Min) && (th.Max == nil || v <= *th.Max)
		}
		out = append(out, f)
	}
	return out
}

// decide sets the overall verdict and whether the comparison passed.
func (r *Result) decide() {
	r.Verdict = overall(r.Comparison)
	r.Passed = true
	for _, k := range slices.Sorted(maps.Keys(r.Comparison)) {
		c := r.Comparison[k]
		if c.Guarded && c.Verdict == Regressed {
			r.Passed = false
			r.Reasons = append(r.Reasons, fmt.Sprintf("%s regressed: delta %.4g, %.0f%% interval [%.4g, %.4g]", k, *c.Delta, r.Confidence*100, deref(c.CILow), deref(c.CIHigh)))
		}
	}
	for _, f := range r.Floors {
		if !f.Passed {
			r.Passed = false
			if f.Value == nil {
				r.Reasons = append(r.Reasons, fmt.Sprintf("%s is undefined, so its floor cannot be met", f.Metric))
			} else {
				r.Reasons = append(r.Reasons, fmt.Sprintf("%s %.4g is outside its bounds%s", f.Metric, *f.Value, bounds(f)))
			}
		}
	}
	for _, s := range r.Slices {
		if s.Verdict == Regressed {
			r.Passed = false
			r.Verdict = Regressed
			for _, k := range slices.Sorted(maps.Keys(s.Comparison)) {
				c := s.Comparison[k]
				if c.Guarded && c.Verdict == Regressed {
					r.Reasons = append(r.Reasons, fmt.Sprintf("slice %s=%s: %s regressed: delta %.4g, interval [%.4g, %.4g]", s.Column, s.Value, k, *c.Delta, deref(c.CILow), deref(c.CIHigh)))
				}
			}
		}
	}
}

func deref(p *float64) float64 {
	if p == nil {
		return math.NaN()
	}
	return *p
}

func bounds(f Floor) string {
	s := ""
	if f.Min != nil {
		s += fmt.Sprintf(" (min %g", *f.Min)
	}
	if f.Max != nil {
		if s == "" {
			s += " ("
		} else {
			s += ", "
		}
		s += fmt.Sprintf("max %g", *f.Max)
	}
	if s != "" {
		s += ")"
	}
	return s
}
