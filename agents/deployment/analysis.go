package deployment

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/modelgate/modelgate/internal/config"
	"github.com/modelgate/modelgate/tools/gateway"
	"github.com/modelgate/modelgate/tools/stats"
)

// Phase is the outcome of a check, ranked as Argo Rollouts ranks analysis
// phases: Successful < Inconclusive < Error < Failed. The worst check is
// the analysis's phase.
type Phase int

const (
	Successful Phase = iota
	Inconclusive
	Errored
	Failed
)

var phaseNames = []string{"successful", "inconclusive", "error", "failed"}

func (p Phase) String() string {
	if p >= 0 && int(p) < len(phaseNames) {
		return phaseNames[p]
	}
	return fmt.Sprintf("phase(%d)", int(p))
}

// MarshalJSON writes the phase by name.
func (p Phase) MarshalJSON() ([]byte, error) { return json.Marshal(p.String()) }

// UnmarshalJSON reads a phase name.
func (p *Phase) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	i := slices.Index(phaseNames, s)
	if i < 0 {
		return fmt.Errorf("unknown analysis phase %q", s)
	}
	*p = Phase(i)
	return nil
}

// Measurement is one check's result: what was measured, against what, and
// the verdict. Stable is the baseline's value when the check compares.
type Measurement struct {
	Check   string   `json:"check"`
	Value   float64  `json:"value"`
	Stable  *float64 `json:"stable,omitempty"`
	Limit   string   `json:"limit,omitempty"`
	Phase   Phase    `json:"phase"`
	Message string   `json:"message"`
	// NeedMore marks an inconclusive check that more of the same traffic
	// would decide (too few requests or scores, not a missing baseline).
	NeedMore bool `json:"need_more,omitempty"`
}

// Analysis is one window's verdict.
type Analysis struct {
	Phase        Phase         `json:"phase"`
	Measurements []Measurement `json:"measurements"`
	Candidate    WindowCounts  `json:"candidate"`
	Stable       WindowCounts  `json:"stable"`
}

// WindowCounts summarises a version's traffic in a window.
type WindowCounts struct {
	Requests  uint64 `json:"requests"`
	Errors    uint64 `json:"errors"`
	Fallbacks uint64 `json:"fallbacks,omitempty"`
	Scores    int    `json:"scores"`
}

func (a *Analysis) add(m Measurement) {
	a.Measurements = append(a.Measurements, m)
	if m.Phase > a.Phase {
		a.Phase = m.Phase
	}
}

// needsMore reports whether every inconclusive measurement would be
// decided by more of the same traffic.
func (a Analysis) needsMore() bool {
	any := false
	for _, m := range a.Measurements {
		if m.Phase == Inconclusive {
			if !m.NeedMore {
				return false
			}
			any = true
		}
	}
	return any
}

// Failures lists the failed measurements.
func (a Analysis) Failures() []Measurement {
	var out []Measurement
	for _, m := range a.Measurements {
		if m.Phase == Failed {
			out = append(out, m)
		}
	}
	return out
}

// Metric returns a measurement's value by check name.
func (a Analysis) Metric(check string) (float64, bool) {
	for _, m := range a.Measurements {
		if m.Check == check {
			return m.Value, true
		}
	}
	return 0, false
}

// CanaryParams is what AnalyzeCanary judges: the candidate against stable
// over the same window.
type CanaryParams struct {
	Checks      config.CanaryChecks
	MinRequests int
	Candidate   gateway.VersionStats
	Stable      gateway.VersionStats
	HasStable   bool // false when stable serves nothing in the window (a 100% step, after a blue-green switch)
}

// AnalyzeCanary runs the configured checks. Too little candidate traffic
// makes every check Inconclusive (no data) rather than passing an
// unobserved version; a stable baseline with too little traffic makes the
// comparative checks (ratios, PSI, KS, Mann-Whitney) Inconclusive while
// the absolute bounds still apply.
func AnalyzeCanary(p CanaryParams) Analysis {
	c, s := p.Candidate, p.Stable
	a := Analysis{
		Candidate: WindowCounts{c.Requests, c.Errors, c.Fallbacks, len(c.Scores)},
		Stable:    WindowCounts{s.Requests, s.Errors, s.Fallbacks, len(s.Scores)},
	}
	if c.Requests < uint64(p.MinRequests) {
		a.add(Measurement{Check: "requests", Value: float64(c.Requests), Limit: fmt.Sprintf(">= %d", p.MinRequests), Phase: Inconclusive,
			NeedMore: c.Requests > 0,
			Message:  fmt.Sprintf("no data: the candidate answered %d requests in the window, %d needed", c.Requests, p.MinRequests)})
		return a
	}
	baseline := p.HasStable && s.Requests >= uint64(p.MinRequests)
	ck := p.Checks
	var stErr, stLat *float64
	if baseline {
		stErr, stLat = &s.ErrorRate, &s.LatencyP99Ms
	}
	if ck.ErrorRate.Set() {
		a.add(bound("error_rate", c.ErrorRate, stErr, ck.ErrorRate))
	}
	if ck.LatencyP99Ms.Set() {
		a.add(bound("latency_p99_ms", c.LatencyP99Ms, stLat, ck.LatencyP99Ms))
	}
	distribution := ck.ScorePSI.Set() || ck.ScoreKS.Set() || ck.MannWhitney != nil
	if !distribution || !p.HasStable {
		// At 100% (and after a blue-green switch) stable serves nothing in
		// the window: the distributions were compared at the earlier steps.
		return a
	}
	if !baseline || len(s.Scores) < p.MinRequests || len(c.Scores) < p.MinRequests {
		a.add(Measurement{Check: "score_distribution", Phase: Inconclusive,
			Message: fmt.Sprintf("no baseline: %d stable and %d candidate scores in the window, %d each needed to compare distributions",
				len(s.Scores), len(c.Scores), p.MinRequests)})
		return a
	}
	if n := nonFinite(c.Scores); n > 0 {
		a.add(Measurement{Check: "score_finite", Value: float64(n), Limit: "0", Phase: Failed,
			Message: fmt.Sprintf("the candidate returned %d NaN or infinite scores", n)})
		return a
	}
	if ck.ScorePSI.Set() {
		psi := PSI(s.Scores, c.Scores)
		m := bound("score_psi", psi, nil, ck.ScorePSI)
		if m.Phase == Failed && ck.ScorePSI.Max != nil {
			if noise := psiNoise(s.Scores, c.Scores); psi <= noise {
				m = underpowered(m, noise, *ck.ScorePSI.Max, scoresNeeded(min(len(s.Scores), len(c.Scores)), noise, *ck.ScorePSI.Max, false))
			}
		}
		a.add(m)
	}
	if ck.ScoreKS.Set() {
		ks, _ := stats.KS2Samp(s.Scores, c.Scores) // both samples are non-empty here
		d, pv := ks.Statistic, ks.PValue
		m := bound("score_ks", d, nil, ck.ScoreKS)
		m.Message += fmt.Sprintf(" (p=%.3g)", pv)
		if m.Phase == Failed && ck.ScoreKS.Max != nil {
			if noise := ksNoise(len(s.Scores), len(c.Scores)); d <= noise {
				m = underpowered(m, noise, *ck.ScoreKS.Max, scoresNeeded(min(len(s.Scores), len(c.Scores)), noise, *ck.ScoreKS.Max, true))
			}
		}
		a.add(m)
	}
	if mw := ck.MannWhitney; mw != nil {
		r := stats.MannWhitneyU(c.Scores, s.Scores)
		m := Measurement{Check: "mann_whitney_effect", Value: math.Abs(r.Effect),
			Limit: fmt.Sprintf("p >= %g or |effect| <= %g", mw.Alpha, mw.MaxEffect)}
		if r.PValue < mw.Alpha && math.Abs(r.Effect) > mw.MaxEffect {
			m.Phase = Failed
			m.Message = fmt.Sprintf("candidate scores differ from stable's: Mann-Whitney p=%.3g < %g with effect size %.3f > %g", r.PValue, mw.Alpha, math.Abs(r.Effect), mw.MaxEffect)
		} else {
			m.Message = fmt.Sprintf("Mann-Whitney p=%.3g, effect size %.3f", r.PValue, math.Abs(r.Effect))
		}
		a.add(m)
	}
	return a
}

// underpowered turns a failed distribution check into an inconclusive
// one when the value it failed on is one that identical models reach at
// this sample size (it is above the limit but within chance), saying how
// many scores the limit needs; the rollout then widens the window. A value
// above both the limit and chance still fails.
func underpowered(m Measurement, noise, limit float64, need int) Measurement {
	m.Phase = Inconclusive
	m.NeedMore = true
	m.Message = fmt.Sprintf("too few scores to judge %s: %.3g is above %g, but identical models reach %.3g at this sample size (0.1%% of the time); about %d scores per version needed",
		m.Check, m.Value, limit, noise, need)
	return m
}

// ShadowParams is what AnalyzeShadow judges.
type ShadowParams struct {
	Checks      config.ShadowChecks
	MinRequests int
	Summary     gateway.ShadowSummary
}

// AnalyzeShadow judges the shadow phase from the paired comparison.
func AnalyzeShadow(p ShadowParams) Analysis {
	s := p.Summary
	a := Analysis{Candidate: WindowCounts{Requests: s.Compared + s.Errors, Errors: s.Errors, Scores: int(s.Rows)}}
	if n := s.Compared + s.Errors; n < uint64(p.MinRequests) {
		a.add(Measurement{Check: "requests", Value: float64(n), Limit: fmt.Sprintf(">= %d", p.MinRequests), Phase: Inconclusive,
			Message: fmt.Sprintf("no data: %d shadow requests completed (%d dropped), %d needed", n, s.Dropped, p.MinRequests)})
		return a
	}
	ck := p.Checks
	if ck.ErrorRate.Set() {
		a.add(bound("error_rate", s.ErrorRate, nil, ck.ErrorRate))
	}
	if ck.Agreement.Set() {
		if s.Rows == 0 {
			a.add(Measurement{Check: "agreement", Phase: Inconclusive, Message: "no comparable rows: the answers carry no V2 outputs to compare"})
		} else {
			a.add(bound("agreement", s.Agreement, nil, ck.Agreement))
		}
	}
	if ck.LatencyP99Ms.Set() {
		p := s.PrimaryP99Ms
		a.add(bound("latency_p99_ms", s.ShadowP99Ms, &p, ck.LatencyP99Ms))
	}
	if ck.ScoreDelta.Set() && s.Rows > 0 {
		a.add(bound("score_delta", s.MeanAbsDelta, nil, ck.ScoreDelta))
	}
	return a
}

// bound checks a value against min, max and max_ratio (value / stable).
// A zero or missing stable value leaves the ratio undefined: it is then
// skipped and said so, and the absolute bounds decide alone.
func bound(check string, v float64, stable *float64, b config.Bound) Measurement {
	m := Measurement{Check: check, Value: v, Stable: stable, Phase: Successful}
	var limits []string
	fail := func(msg string) {
		if m.Phase != Failed {
			m.Phase = Failed
			m.Message = msg
		}
	}
	if math.IsNaN(v) {
		fail(check + " is NaN")
	}
	if b.Min != nil {
		limits = append(limits, fmt.Sprintf(">= %g", *b.Min))
		if v < *b.Min {
			fail(fmt.Sprintf("%s %.4g is below the minimum %g", check, v, *b.Min))
		}
	}
	if b.Max != nil {
		limits = append(limits, fmt.Sprintf("<= %g", *b.Max))
		if v > *b.Max {
			fail(fmt.Sprintf("%s %.4g is above the maximum %g", check, v, *b.Max))
		}
	}
	note := ""
	if b.MaxRatio != nil {
		limits = append(limits, fmt.Sprintf("<= %g × stable", *b.MaxRatio))
		switch {
		case stable == nil:
			note = "; no stable baseline in the window, ratio not checked"
		case *stable == 0:
			note = "; stable's value is 0, ratio undefined, absolute bounds only"
		case v / *stable > *b.MaxRatio:
			fail(fmt.Sprintf("%s %.4g is %.2f× stable's %.4g, above the allowed %g×", check, v, v / *stable, *stable, *b.MaxRatio))
		}
	}
	m.Limit = strings.Join(limits, ", ")
	if m.Phase != Failed {
		m.Message = fmt.Sprintf("%s %.4g within %s%s", check, v, m.Limit, note)
	}
	return m
}

func nonFinite(v []float64) int {
	n := 0
	for _, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			n++
		}
	}
	return n
}

// PSI is the rollout's population stability index of actual against
// expected: tools/stats' equal-width PSI with Evidently's ten bins over
// both samples' joint range.
func PSI(expected, actual []float64) float64 { return stats.PSIEqualWidth(expected, actual, 10) }
