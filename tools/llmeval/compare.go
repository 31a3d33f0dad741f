package llmeval

import (
	"fmt"
	"slices"

	"github.com/modelgate/modelgate/tools/compare"
)

// CompareParams tune the paired statistics.
type CompareParams struct {
	Resamples int     // bootstrap resamples; default 2000
	Seed      int64   // default 1
	Alpha     float64 // default 0.05 (95% intervals)
}

// McNemarResult is the exact McNemar test on per-case pass/fail, over the
// cases decided (pass or fail; an error counts as a fail) on both sides.
type McNemarResult struct {
	Decided        int     `json:"decided"`
	CandidateOnly  int     `json:"candidate_only"`  // b: passed for the candidate only
	ProductionOnly int     `json:"production_only"` // c: passed for production only
	PValue         float64 `json:"p_value"`
}

// TagComparison is the comparison restricted to the cases of one tag.
type TagComparison struct {
	Cases              int           `json:"cases"`
	CandidatePassRate  float64       `json:"candidate_pass_rate"`
	ProductionPassRate float64       `json:"production_pass_rate"`
	DeltaPassRate      float64       `json:"delta_pass_rate"`
	McNemar            McNemarResult `json:"mcnemar"`
}

// Comparison is the candidate's suite result against production's on the
// same cases.
type Comparison struct {
	Cases      int                      `json:"cases"`
	Candidate  Summary                  `json:"candidate"`
	Production Summary                  `json:"production"`
	PassRate   compare.Paired           `json:"pass_rate"` // candidate - production, paired bootstrap over cases
	Score      compare.Paired           `json:"score"`
	McNemar    McNemarResult            `json:"mcnemar"`
	Tags       map[string]TagComparison `json:"tags,omitempty"`
	// CostRatio is candidate cost / production cost over the suite (0
	// when production's cost is 0 or unknown).
	CostDeltaUSD    float64 `json:"cost_delta_usd"`
	CostRatio       float64 `json:"cost_ratio"`
	LatencyP50Delta float64 `json:"latency_p50_delta_ms"`
	LatencyP95Delta float64 `json:"latency_p95_delta_ms"`
}

func passed(v Verdict) float64 {
	if v == Pass {
		return 1
	}
	return 0
}

func decided(v Verdict) bool { return v == Pass || v == Fail || v == Error }

func mcnemar(cand, prod []CaseResult) McNemarResult {
	var m McNemarResult
	for i := range cand {
		if !decided(cand[i].Verdict) || !decided(prod[i].Verdict) {
			continue
		}
		m.Decided++
		cp, pp := cand[i].Verdict == Pass, prod[i].Verdict == Pass
		switch {
		case cp && !pp:
			m.CandidateOnly++
		case pp && !cp:
			m.ProductionOnly++
		}
	}
	m.PValue = compare.McNemar(m.CandidateOnly, m.ProductionOnly)
	return m
}

// Compare pairs the two results by case id (they must come from the same
// suite) and compares them.
func Compare(cand, prod *Result, p CompareParams) (*Comparison, error) {
	if p.Resamples <= 0 {
		p.Resamples = 2000
	}
	if p.Seed == 0 {
		p.Seed = 1
	}
	if p.Alpha <= 0 || p.Alpha >= 1 {
		p.Alpha = 0.05
	}
	byID := map[string]int{}
	for i, c := range prod.Cases {
		byID[c.ID] = i
	}
	if len(cand.Cases) != len(prod.Cases) {
		return nil, fmt.Errorf("compare: the candidate ran %d cases, production %d: not the same suite", len(cand.Cases), len(prod.Cases))
	}
	pc := make([]CaseResult, len(cand.Cases))
	for i, c := range cand.Cases {
		j, ok := byID[c.ID]
		if !ok {
			return nil, fmt.Errorf("compare: case %q has no production result: not the same suite", c.ID)
		}
		pc[i] = prod.Cases[j]
	}
	out := &Comparison{Cases: len(cand.Cases), Candidate: cand.Summary, Production: prod.Summary, Tags: map[string]TagComparison{}}
	a, b := make([]float64, len(pc)), make([]float64, len(pc))
	sa, sb := make([]float64, len(pc)), make([]float64, len(pc))
	for i := range pc {
		a[i], b[i] = passed(cand.Cases[i].Verdict), passed(pc[i].Verdict)
		sa[i], sb[i] = cand.Cases[i].Score, pc[i].Score
	}
	var err error
	if out.PassRate, err = compare.PairedBootstrap(a, b, p.Resamples, p.Seed, p.Alpha); err != nil {
		return nil, err
	}
	if out.Score, err = compare.PairedBootstrap(sa, sb, p.Resamples, p.Seed+1, p.Alpha); err != nil {
		return nil, err
	}
	out.McNemar = mcnemar(cand.Cases, pc)
	var tags []string
	for _, c := range cand.Cases {
		for _, t := range c.Tags {
			if !slices.Contains(tags, t) {
				tags = append(tags, t)
			}
		}
	}
	for _, t := range tags {
		var cs, ps []CaseResult
		for i, c := range cand.Cases {
			if slices.Contains(c.Tags, t) {
				cs, ps = append(cs, c), append(ps, pc[i])
			}
		}
		tc := TagComparison{Cases: len(cs), McNemar: mcnemar(cs, ps)}
		for i := range cs {
			tc.CandidatePassRate += passed(cs[i].Verdict)
			tc.ProductionPassRate += passed(ps[i].Verdict)
		}
		tc.CandidatePassRate /= float64(len(cs))
		tc.ProductionPassRate /= float64(len(cs))
		tc.DeltaPassRate = tc.CandidatePassRate - tc.ProductionPassRate
		out.Tags[t] = tc
	}
	out.CostDeltaUSD = cand.Summary.CostUSD - prod.Summary.CostUSD
	if prod.Summary.CostKnown && prod.Summary.CostUSD > 0 {
		out.CostRatio = cand.Summary.CostUSD / prod.Summary.CostUSD
	}
	out.LatencyP50Delta = cand.Summary.LatencyP50MS - prod.Summary.LatencyP50MS
	out.LatencyP95Delta = cand.Summary.LatencyP95MS - prod.Summary.LatencyP95MS
	return out, nil
}

// Metrics are a result's numbers as flat, dotted names for the policy.
func (s Summary) Metrics(prefix string) map[string]float64 {
	m := map[string]float64{
		prefix + "cases": float64(s.Cases), prefix + "passed": float64(s.Passed), prefix + "failed": float64(s.Failed),
		prefix + "inconclusive": float64(s.Inconclusive), prefix + "errors": float64(s.Errors),
		prefix + "pass_rate": s.PassRate, prefix + "score": s.MeanScore,
		prefix + "latency_p50_ms": s.LatencyP50MS, prefix + "latency_p95_ms": s.LatencyP95MS,
		prefix + "prompt_tokens": float64(s.PromptTokens), prefix + "completion_tokens": float64(s.OutputTokens),
		prefix + "judge_agreement": s.JudgeAgreement, prefix + "judge_variance": s.JudgeVariance,
	}
	if s.Cases > 0 {
		m[prefix+"inconclusive_share"] = float64(s.Inconclusive) / float64(s.Cases)
	}
	if s.CostKnown {
		m[prefix+"cost_usd"] = s.CostUSD
	}
	return m
}

// Metrics are the comparison's numbers for the policy: llm.candidate.*,
// llm.production.*, llm.delta.*, llm.mcnemar.*, llm.tag.<tag>.*.
func (c *Comparison) Metrics() map[string]float64 {
	m := c.Candidate.Metrics("llm.candidate.")
	for k, v := range c.Production.Metrics("llm.production.") {
		m[k] = v
	}
	m["llm.delta.pass_rate"] = c.PassRate.Delta
	if c.PassRate.OK {
		m["llm.delta.pass_rate.ci_low"], m["llm.delta.pass_rate.ci_high"] = c.PassRate.CILow, c.PassRate.CIHigh
		m["llm.delta.pass_rate.p_value"] = c.PassRate.PValue
	}
	m["llm.delta.score"] = c.Score.Delta
	if c.Score.OK {
		m["llm.delta.score.ci_low"], m["llm.delta.score.ci_high"] = c.Score.CILow, c.Score.CIHigh
	}
	m["llm.mcnemar.p_value"] = c.McNemar.PValue
	m["llm.mcnemar.candidate_only"] = float64(c.McNemar.CandidateOnly)
	m["llm.mcnemar.production_only"] = float64(c.McNemar.ProductionOnly)
	m["llm.delta.latency_p50_ms"], m["llm.delta.latency_p95_ms"] = c.LatencyP50Delta, c.LatencyP95Delta
	if c.Candidate.CostKnown && c.Production.CostKnown {
		m["llm.delta.cost_usd"] = c.CostDeltaUSD
		if c.CostRatio > 0 {
			m["llm.cost_ratio"] = c.CostRatio
		}
	}
	for t, tc := range c.Tags {
		if !plainTag(t) {
			continue // a tag is the suite author's text; only plain names become metric names
		}
		m["llm.tag."+t+".candidate.pass_rate"] = tc.CandidatePassRate
		m["llm.tag."+t+".production.pass_rate"] = tc.ProductionPassRate
		m["llm.tag."+t+".delta.pass_rate"] = tc.DeltaPassRate
		m["llm.tag."+t+".mcnemar.p_value"] = tc.McNemar.PValue
	}
	return m
}

func plainTag(t string) bool {
	if t == "" || len(t) > 64 {
		return false
	}
	for _, r := range t {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}
