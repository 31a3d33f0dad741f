package llmeval

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// Verdict is a case's or an assertion's outcome.
type Verdict string

const (
	Pass         Verdict = "pass"
	Fail         Verdict = "fail"
	Inconclusive Verdict = "inconclusive" // the judge's noise cannot separate pass from fail
	Error        Verdict = "error"        // the model could not be asked (after retries)
)

// Reply is a model's answer to one call.
type Reply struct {
	Text             string
	Refusal          string // the API's refusal field, when it gave one
	PromptTokens     int
	CompletionTokens int
	// Latency is the call's wall time; zero lets the runner measure it.
	Latency time.Duration
}

// Completer asks a model. Retries, timeouts and the endpoint are its
// business; an error means the call failed for good.
type Completer func(ctx context.Context, model string, msgs []Message, p Parameters) (Reply, error)

// Price is what a model costs, in US dollars per million tokens.
type Price struct {
	Prompt     float64 `yaml:"prompt" json:"prompt"`
	Completion float64 `yaml:"completion" json:"completion"`
}

// RunParams say what to run.
type RunParams struct {
	Suite  *Suite
	Prompt *Prompt
	Target Completer // answers with the prompt's model
	// Judge answers llm-rubric assertions; nil makes them inconclusive.
	Judge      Completer
	JudgeModel string // default: the suite's judge.model, else the prompt's model
	// Prices by model name; a model without a price has an unknown cost,
	// and a cost assertion on it fails.
	Prices      map[string]Price
	Concurrency int // cases in flight; default 4
}

// AssertionResult is one assertion's outcome on one case.
type AssertionResult struct {
	Type    string      `json:"type"`
	Verdict Verdict     `json:"verdict"`
	Score   float64     `json:"score"`
	Detail  string      `json:"detail,omitempty"`
	Judge   *JudgeStats `json:"judge,omitempty"`
}

// CaseResult is one case's outcome.
type CaseResult struct {
	ID               string            `json:"id"`
	Tags             []string          `json:"tags,omitempty"`
	Verdict          Verdict           `json:"verdict"`
	Score            float64           `json:"score"` // mean of the assertions' scores
	Output           string            `json:"output"`
	Error            string            `json:"error,omitempty"`
	PromptTokens     int               `json:"prompt_tokens"`
	CompletionTokens int               `json:"completion_tokens"`
	CostUSD          float64           `json:"cost_usd"`
	CostKnown        bool              `json:"cost_known"`
	LatencyMS        float64           `json:"latency_ms"`
	JudgeCostUSD     float64           `json:"judge_cost_usd,omitempty"`
	Assertions       []AssertionResult `json:"assertions"`
}

// Summary aggregates a run.
type Summary struct {
	Cases        int     `json:"cases"`
	Passed       int     `json:"passed"`
	Failed       int     `json:"failed"`
	Inconclusive int     `json:"inconclusive"`
	Errors       int     `json:"errors"`
	PassRate     float64 `json:"pass_rate"` // passed / cases: inconclusive and errored cases are not passes
	MeanScore    float64 `json:"mean_score"`
	CostUSD      float64 `json:"cost_usd"`
	CostKnown    bool    `json:"cost_known"` // every case had a price
	PromptTokens int     `json:"prompt_tokens"`
	OutputTokens int     `json:"completion_tokens"`
	LatencyP50MS float64 `json:"latency_p50_ms"`
	LatencyP95MS float64 `json:"latency_p95_ms"`
	// Judge noise over every llm-rubric assertion: the mean agreement rate
	// and the mean variance of the k scores (0 when there was none).
	JudgeAssertions int     `json:"judge_assertions"`
	JudgeAgreement  float64 `json:"judge_agreement"`
	JudgeVariance   float64 `json:"judge_variance"`
	JudgeCostUSD    float64 `json:"judge_cost_usd"`
}

// Result is a suite's outcome for one prompt.
type Result struct {
	Prompt  string       `json:"prompt,omitempty"` // the prompt's name
	Model   string       `json:"model"`
	Judge   string       `json:"judge"` // JudgeVersion and model
	Cases   []CaseResult `json:"cases"`
	Summary Summary      `json:"summary"`
}

// Run runs every case of the suite against the prompt. It returns an
// error only when it could not run (a case's vars do not fill the
// template, the context ended); a failing case is a result.
func Run(ctx context.Context, p RunParams) (*Result, error) {
	if p.Suite == nil || p.Prompt == nil || p.Target == nil {
		return nil, errors.New("llmeval: suite, prompt and target are required")
	}
	conc := p.Concurrency
	if conc <= 0 {
		conc = 4
	}
	judgeModel := cmpOr(p.JudgeModel, p.Suite.Judge.Model, p.Prompt.Model)
	res := &Result{Prompt: p.Prompt.Name, Model: p.Prompt.Model, Judge: JudgeVersion + " " + judgeModel,
		Cases: make([]CaseResult, len(p.Suite.Tests))}
	// Render every case first: a template that a case cannot fill is a
	// broken suite, found before anything is spent.
	msgs := make([][]Message, len(p.Suite.Tests))
	cases := make([]Case, len(p.Suite.Tests))
	for i, c := range p.Suite.Tests {
		cases[i] = p.Suite.Merged(c)
		m, err := p.Prompt.Render(cases[i].Vars)
		if err != nil {
			return nil, fmt.Errorf("case %q (tests[%d]): %w", c.ID, i, err)
		}
		msgs[i] = m
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(conc)
	for i := range cases {
		g.Go(func() error {
			res.Cases[i] = p.runCase(gctx, cases[i], msgs[i], judgeModel)
			return gctx.Err()
		})
	}
	if err := g.Wait(); err != nil {
		return nil, fmt.Errorf("llmeval: %w", err)
	}
	res.Summary = Summarise(res.Cases)
	return res, nil
}

func cmpOr(v ...string) string {
	for _, s := range v {
		if s != "" {
			return s
		}
	}
	return ""
}

func (p RunParams) cost(model string, pt, ct int) (float64, bool) {
	pr, ok := p.Prices[model]
	if !ok {
		return 0, false
	}
	return (float64(pt)*pr.Prompt + float64(ct)*pr.Completion) / 1e6, true
}

func (p RunParams) runCase(ctx context.Context, c Case, msgs []Message, judgeModel string) CaseResult {
	cr := CaseResult{ID: c.ID, Tags: c.Tags, Assertions: []AssertionResult{}}
	start := time.Now()
	rep, err := p.Target(ctx, p.Prompt.Model, msgs, p.Prompt.Parameters)
	lat := rep.Latency
	if lat == 0 {
		lat = time.Since(start)
	}
	cr.LatencyMS = float64(lat) / float64(time.Millisecond)
	if err != nil {
		cr.Verdict, cr.Error = Error, err.Error()
		return cr
	}
	cr.Output = rep.Text
	if cr.Output == "" && rep.Refusal != "" {
		cr.Output = rep.Refusal
	}
	cr.PromptTokens, cr.CompletionTokens = rep.PromptTokens, rep.CompletionTokens
	cr.CostUSD, cr.CostKnown = p.cost(p.Prompt.Model, rep.PromptTokens, rep.CompletionTokens)
	verdict, sum := Pass, 0.0
	for _, a := range c.Assert {
		ar := p.check(ctx, a, c, &cr, judgeModel)
		cr.Assertions = append(cr.Assertions, ar)
		sum += ar.Score
		switch {
		case ar.Verdict == Fail:
			verdict = Fail
		case ar.Verdict == Inconclusive && verdict == Pass:
			verdict = Inconclusive
		}
	}
	if len(c.Assert) > 0 {
		cr.Score = sum / float64(len(c.Assert))
	}
	cr.Verdict = verdict
	return cr
}

func boolResult(t string, ok, negate bool, detail string) AssertionResult {
	if negate {
		ok = !ok
	}
	r := AssertionResult{Type: t, Verdict: Fail, Detail: detail}
	if ok {
		r.Verdict, r.Score, r.Detail = Pass, 1, ""
	}
	return r
}

// check evaluates one assertion on a case's output.
func (p RunParams) check(ctx context.Context, a Assertion, c Case, cr *CaseResult, judgeModel string) AssertionResult {
	out := cr.Output
	t := base(a.Type)
	neg := t != a.Type
	val, _ := a.Value.(string)
	switch t {
	case "equals":
		return boolResult(a.Type, out == val, neg, fmt.Sprintf("output is not equal to %q", val))
	case "contains":
		return boolResult(a.Type, strings.Contains(out, val), neg, fmt.Sprintf("output does not contain %q", val))
	case "icontains":
		return boolResult(a.Type, strings.Contains(strings.ToLower(out), strings.ToLower(val)), neg, fmt.Sprintf("output does not contain %q (any case)", val))
	case "regex":
		return boolResult(a.Type, a.re != nil && a.re.MatchString(out), neg, fmt.Sprintf("output does not match /%s/", val))
	case "is-json", "json-schema":
		v, err := decodeJSON(out)
		if err != nil {
			return boolResult(a.Type, false, false, "output is not JSON: "+err.Error())
		}
		if a.schema != nil {
			if err := a.schema.Validate(v); err != nil {
				return boolResult(a.Type, false, false, "output does not match the schema: "+firstLine(err.Error()))
			}
		}
		return boolResult(a.Type, true, false, "")
	case "latency":
		return boolResult(a.Type, cr.LatencyMS <= *a.Threshold, false, fmt.Sprintf("latency %.0f ms > %.0f ms", cr.LatencyMS, *a.Threshold))
	case "cost":
		if !cr.CostKnown {
			return boolResult(a.Type, false, false, fmt.Sprintf("no price for model %q: the cost cannot be checked", p.Prompt.Model))
		}
		return boolResult(a.Type, cr.CostUSD <= *a.Threshold, false, fmt.Sprintf("cost $%.6f > $%.6f", cr.CostUSD, *a.Threshold))
	case "similar":
		ref := c.Reference
		if val != "" {
			ref = val
		}
		f := TokenF1
		if a.Metric == "rouge_l" {
			f = RougeL
		}
		s := f(out, ref)
		r := boolResult(a.Type, s >= *a.Threshold, false, fmt.Sprintf("%s %.3f < %.3f", a.Metric, s, *a.Threshold))
		r.Score = s
		return r
	case "llm-rubric":
		return p.rubric(ctx, a.Type, val, cr, judgeModel)
	}
	return AssertionResult{Type: a.Type, Verdict: Fail, Detail: "unknown assertion type"}
}

func (p RunParams) rubric(ctx context.Context, typ, rubric string, cr *CaseResult, judgeModel string) AssertionResult {
	k := p.Suite.Judge.Repeats
	threshold := *p.Suite.Judge.Threshold
	if p.Judge == nil {
		st, _ := judgeVerdict(nil, threshold)
		st.Repeats = k
		return AssertionResult{Type: typ, Verdict: Inconclusive, Detail: "no judge is configured", Judge: &st}
	}
	var (
		mu     sync.Mutex
		scores []float64
		errs   []string
	)
	var wg sync.WaitGroup
	for i := 0; i < k; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rep, err := p.Judge(ctx, judgeModel, judgeMessages(rubric, cr.Output), Parameters{})
			var s float64
			if err == nil {
				s, err = ParseJudge(rep.Text)
			}
			mu.Lock()
			defer mu.Unlock()
			if c, ok := p.cost(judgeModel, rep.PromptTokens, rep.CompletionTokens); ok {
				cr.JudgeCostUSD += c
			}
			if err != nil {
				errs = append(errs, firstLine(err.Error()))
				return
			}
			scores = append(scores, s)
		}()
	}
	wg.Wait()
	slices.Sort(scores) // answers arrive in any order; the stats do not depend on it, the record should not either
	slices.Sort(errs)
	st, v := judgeVerdict(scores, threshold)
	st.Repeats, st.Errors = k, errs
	r := AssertionResult{Type: typ, Verdict: v, Score: st.Mean, Judge: &st}
	switch v {
	case Fail:
		r.Detail = fmt.Sprintf("judge mean %.3f, interval [%.3f, %.3f] below %.2f", st.Mean, st.Low, st.High, threshold)
	case Inconclusive:
		r.Detail = fmt.Sprintf("the judge's noise spans the threshold %.2f (%d usable of %d, mean %.3f, interval [%.3f, %.3f])",
			threshold, st.Valid, k, st.Mean, st.Low, st.High)
	}
	return r
}

// decodeJSON reads one JSON value, refusing trailing data.
func decodeJSON(s string) (any, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("trailing data after the JSON value")
	}
	return toFloats(v), nil
}

// toFloats turns json.Number into float64, which the schema validator
// understands.
func toFloats(v any) any {
	switch x := v.(type) {
	case json.Number:
		f, _ := x.Float64()
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = toFloats(e)
		}
	case []any:
		for i, e := range x {
			x[i] = toFloats(e)
		}
	}
	return v
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// Summarise aggregates case results.
func Summarise(cs []CaseResult) Summary {
	s := Summary{Cases: len(cs), CostKnown: len(cs) > 0}
	var lats []float64
	for _, c := range cs {
		switch c.Verdict {
		case Pass:
			s.Passed++
		case Fail:
			s.Failed++
		case Inconclusive:
			s.Inconclusive++
		case Error:
			s.Errors++
		}
		s.MeanScore += c.Score
		s.CostUSD += c.CostUSD
		s.JudgeCostUSD += c.JudgeCostUSD
		if c.Verdict != Error {
			s.CostKnown = s.CostKnown && c.CostKnown
		}
		s.PromptTokens += c.PromptTokens
		s.OutputTokens += c.CompletionTokens
		lats = append(lats, c.LatencyMS)
		for _, a := range c.Assertions {
			if a.Judge != nil && a.Judge.Valid > 0 {
				s.JudgeAssertions++
				s.JudgeAgreement += a.Judge.Agreement
				s.JudgeVariance += a.Judge.Variance
			}
		}
	}
	if len(cs) > 0 {
		s.PassRate = float64(s.Passed) / float64(len(cs))
		s.MeanScore /= float64(len(cs))
		s.LatencyP50MS, s.LatencyP95MS = Quantile(lats, 0.5), Quantile(lats, 0.95)
	}
	if s.JudgeAssertions > 0 {
		s.JudgeAgreement /= float64(s.JudgeAssertions)
		s.JudgeVariance /= float64(s.JudgeAssertions)
	}
	return s
}

// Quantile is numpy.percentile's default (linear interpolation between
// order statistics) at q in [0, 1]; 0 for no values.
func Quantile(v []float64, q float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	pos := q * float64(len(s)-1)
	i := int(math.Floor(pos))
	if i+1 >= len(s) {
		return s[len(s)-1]
	}
	return s[i] + (pos-float64(i))*(s[i+1]-s[i])
}
