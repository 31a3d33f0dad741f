package llmeval

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const oraclePrompt = `
name: terse
endpoint: http://127.0.0.1:1/v1
model: m1
system: You are terse.
template: "Q: {{ q }}"
parameters: {temperature: 0, max_tokens: 64}
`

const oracleSuite = `
description: fixed suite whose results are computed by hand below
judge: {model: judge, repeats: 3, threshold: 0.5}
tests:
  - id: capital
    tags: [geo]
    vars: {q: capital}
    assert:
      - {type: equals, value: Paris}
      - {type: icontains, value: paris}
  - id: json
    tags: [format]
    vars: {q: json}
    assert:
      - type: json-schema
        value: {type: object, required: [answer], properties: {answer: {type: integer}}}
      - {type: regex, value: '"answer":\s*\d+'}
  - id: summary
    tags: [geo, text]
    vars: {q: summary}
    reference: the cat sat on the mat
    assert:
      - {type: similar, threshold: 0.8}
      - {type: similar, metric: rouge_l, threshold: 0.9}
  - id: rubric
    tags: [text]
    vars: {q: rubric}
    assert:
      - {type: llm-rubric, value: explains why the sky is blue}
  - id: noisy
    tags: [text]
    vars: {q: noisy}
    assert:
      - {type: llm-rubric, value: is polite}
      - {type: latency, threshold: 100}
  - id: slow
    vars: {q: slow}
    assert:
      - {type: latency, threshold: 100}
      - {type: cost, threshold: 0.0001}
  - id: down
    vars: {q: down}
    assert:
      - {type: not-contains, value: x}
`

// oracleTarget answers each case with a fixed output and latency.
func oracleTarget(_ context.Context, model string, msgs []Message, _ Parameters) (Reply, error) {
	q := strings.TrimPrefix(msgs[len(msgs)-1].Content, "Q: ")
	out := map[string]struct {
		text string
		ms   int
	}{
		"capital": {"Paris", 10}, "json": {`{"answer": 42}`, 20}, "summary": {"a cat sat on a red mat", 30},
		"rubric": {"Because of Rayleigh scattering.", 40}, "noisy": {"Fine.", 50}, "slow": {"ok", 250},
	}[q]
	if q == "down" {
		return Reply{Latency: 60 * time.Millisecond}, errors.New("endpoint down")
	}
	if model != "m1" || msgs[0].Content != "You are terse." {
		return Reply{}, errors.New("wrong model or system prompt")
	}
	return Reply{Text: out.text, PromptTokens: 10, CompletionTokens: 5, Latency: time.Duration(out.ms) * time.Millisecond}, nil
}

// oracleJudge gives the rubric case the scores {0.9, 0.8, 0.9} and the
// noisy case {1, 1, 0}, whatever order the concurrent calls come in.
func oracleJudge() Completer {
	var sky, polite atomic.Int32
	return func(_ context.Context, model string, msgs []Message, _ Parameters) (Reply, error) {
		if model != "judge" {
			return Reply{}, errors.New("wrong judge model")
		}
		u := msgs[1].Content
		var s string
		switch {
		case strings.Contains(u, "sky is blue"):
			s = []string{"0.9", "0.8", "0.9"}[sky.Add(1)-1]
		case strings.Contains(u, "polite"):
			s = []string{"1", "1", "0"}[polite.Add(1)-1]
		}
		return Reply{Text: "```json\n{\"score\": " + s + ", \"reason\": \"r\"}\n```", PromptTokens: 20, CompletionTokens: 10}, nil
	}
}

func TestRunMatchesHandComputedOracle(t *testing.T) {
	t.Parallel()
	p, err := ParsePrompt("prompt.yaml", []byte(oraclePrompt))
	require.NoError(t, err)
	s, err := ParseSuite("suite.yaml", []byte(oracleSuite))
	require.NoError(t, err)
	res, err := Run(context.Background(), RunParams{Suite: s, Prompt: p, Target: oracleTarget, Judge: oracleJudge(),
		Prices: map[string]Price{"m1": {Prompt: 1, Completion: 2}, "judge": {Prompt: 0.5, Completion: 0.5}}, Concurrency: 3})
	require.NoError(t, err)

	byID := map[string]CaseResult{}
	for _, c := range res.Cases {
		byID[c.ID] = c
	}
	// Per case, by hand:
	//   capital: equals and icontains hold: pass, score 1.
	//   json: {"answer": 42} matches the schema and the regex: pass, score 1.
	//   summary: tokens (articles dropped) answer [cat sat on red mat], reference
	//     [cat sat on mat]; 4 shared, P = 4/5, R = 4/4, F1 = 2·0.8·1/1.8 = 0.888889 >= 0.8;
	//     the LCS is also 4, so ROUGE-L = 0.888889 < 0.9: fail, score 0.888889.
	//   rubric: scores {0.9, 0.8, 0.9}: mean 0.866667, sample variance
	//     (0.0333²+0.0667²+0.0333²)/2 = 0.003333, s/√3 = 0.033333, t(0.975, 2) = 4.302653
	//     (scipy.stats.t.ppf), half-width 0.143422: [0.723245, 1.010088] >= 0.5: pass.
	//   noisy: scores {1, 1, 0}: mean 0.666667, variance (0.1111+0.1111+0.4444)/2 = 0.333333,
	//     s/√3 = 0.333333, half-width 1.434218: [-0.767551, 2.100884] spans 0.5: inconclusive;
	//     agreement 2/3; latency 50 <= 100 passes; score (0.666667+1)/2 = 0.833333.
	//   slow: latency 250 > 100 fails; cost (10·1 + 5·2)/1e6 = 2e-5 <= 1e-4 passes: fail, score 0.5.
	//   down: the endpoint fails: error, score 0.
	want := map[string]struct {
		v     Verdict
		score float64
	}{"capital": {Pass, 1}, "json": {Pass, 1}, "summary": {Fail, 0.888889}, "rubric": {Pass, 0.866667},
		"noisy": {Inconclusive, 0.833333}, "slow": {Fail, 0.5}, "down": {Error, 0}}
	for id, w := range want {
		require.Equal(t, w.v, byID[id].Verdict, id)
		require.InDelta(t, w.score, byID[id].Score, 1e-6, id)
	}
	rj := byID["rubric"].Assertions[0].Judge
	require.InDelta(t, 0.003333333, rj.Variance, 1e-8)
	require.InDelta(t, 0.723245, rj.Low, 1e-6)
	require.InDelta(t, 1.010088, rj.High, 1e-6)
	nj := byID["noisy"].Assertions[0].Judge
	require.InDelta(t, 2.0/3, nj.Agreement, 1e-12)
	require.InDelta(t, -0.767551, nj.Low, 1e-6)
	require.InDelta(t, 2.100884, nj.High, 1e-6)
	require.InDelta(t, 0.888889, byID["summary"].Assertions[0].Score, 1e-6)
	require.Equal(t, Fail, byID["summary"].Assertions[1].Verdict)

	// Summary: 3 passed (capital, json, rubric), 2 failed (summary, slow),
	// 1 inconclusive, 1 error; pass rate 3/7; mean score
	// (1+1+0.888889+0.866667+0.833333+0.5+0)/7 = 0.726984.
	// Latencies sorted [10 20 30 40 50 60 250] ms: p50 at position 3 = 40;
	// p95 at 0.95·6 = 5.7: 60 + 0.7·190 = 193. Cost 6 answered cases · 2e-5 =
	// 1.2e-4. Judge: 6 calls · (20·0.5 + 10·0.5)/1e6 = 9e-5; agreement
	// (1 + 2/3)/2 = 0.833333; variance (0.003333 + 0.333333)/2 = 0.168333.
	sm := res.Summary
	require.Equal(t, [4]int{3, 2, 1, 1}, [4]int{sm.Passed, sm.Failed, sm.Inconclusive, sm.Errors})
	require.InDelta(t, 3.0/7, sm.PassRate, 1e-12)
	require.InDelta(t, 0.726984, sm.MeanScore, 1e-6)
	require.InDelta(t, 40, sm.LatencyP50MS, 1e-9)
	require.InDelta(t, 193, sm.LatencyP95MS, 1e-9)
	require.InDelta(t, 1.2e-4, sm.CostUSD, 1e-15)
	require.True(t, sm.CostKnown)
	require.Equal(t, 60, sm.PromptTokens)
	require.InDelta(t, 9e-5, sm.JudgeCostUSD, 1e-15)
	require.InDelta(t, 0.833333, sm.JudgeAgreement, 1e-6)
	require.InDelta(t, 0.168333, sm.JudgeVariance, 1e-6)

	// Against production verdicts P F P P P P P (capital..down), by hand:
	// McNemar over the cases decided on both sides (noisy is inconclusive
	// for the candidate, so 6): json passes for the candidate only (b = 1);
	// summary, slow and down pass for production only (c = 3).
	// p = 2·P(X <= 1), X ~ Bin(4, 1/2) = 2·5/16 = 0.625 (scipy binomtest(1, 4) = 0.625).
	// Pass rates 3/7 against 6/7: delta -3/7. Tags: geo {capital, summary} 1/2 vs 2/2
	// (-0.5); text {summary, rubric, noisy} 1/3 vs 3/3 (-2/3); format {json} 1 vs 0 (+1).
	prod := &Result{Model: "m0"}
	for _, c := range res.Cases {
		pc := CaseResult{ID: c.ID, Tags: c.Tags, Verdict: Pass, Score: 1, CostKnown: true, CostUSD: 1e-5, LatencyMS: 20}
		if c.ID == "json" {
			pc.Verdict, pc.Score = Fail, 0
		}
		prod.Cases = append(prod.Cases, pc)
	}
	prod.Summary = Summarise(prod.Cases)
	cmp, err := Compare(res, prod, CompareParams{Resamples: 1000, Seed: 7})
	require.NoError(t, err)
	require.Equal(t, McNemarResult{Decided: 6, CandidateOnly: 1, ProductionOnly: 3, PValue: 0.625}, cmp.McNemar)
	require.InDelta(t, -3.0/7, cmp.PassRate.Delta, 1e-12)
	require.True(t, cmp.PassRate.OK)
	require.LessOrEqual(t, cmp.PassRate.CILow, cmp.PassRate.Delta)
	require.GreaterOrEqual(t, cmp.PassRate.CIHigh, cmp.PassRate.Delta)
	require.InDelta(t, -0.5, cmp.Tags["geo"].DeltaPassRate, 1e-12)
	require.InDelta(t, -2.0/3, cmp.Tags["text"].DeltaPassRate, 1e-12)
	require.InDelta(t, 1, cmp.Tags["format"].DeltaPassRate, 1e-12)
	// Cost 1.2e-4 against 7·1e-5 = 7e-5: ratio 12/7; p95 latency 193 against 20.
	require.InDelta(t, 12.0/7, cmp.CostRatio, 1e-9)
	require.InDelta(t, 173, cmp.LatencyP95Delta, 1e-9)
	m := cmp.Metrics()
	require.InDelta(t, 0.625, m["llm.mcnemar.p_value"], 1e-12)
	require.InDelta(t, -0.5, m["llm.tag.geo.delta.pass_rate"], 1e-12)
	require.InDelta(t, 1.0/7, m["llm.candidate.inconclusive_share"], 1e-12)
}

func TestMcNemarOnSuitesMatchesScipy(t *testing.T) {
	t.Parallel()
	// scipy.stats.binomtest(min(b, c), b + c, 0.5).pvalue
	for _, c := range []struct {
		b, c int
		p    float64
	}{{1, 3, 0.625}, {0, 6, 0.03125}, {2, 10, 0.03857421875}, {7, 3, 0.34375}, {25, 10, 0.016673847800120715}} {
		var cand, prod []CaseResult
		add := func(n int, cv, pv Verdict) {
			for range n {
				cand, prod = append(cand, CaseResult{Verdict: cv}), append(prod, CaseResult{Verdict: pv})
			}
		}
		add(c.b, Pass, Fail)
		add(c.c, Fail, Pass)
		add(4, Pass, Pass)         // concordant pairs do not count
		add(3, Inconclusive, Pass) // nor undecided ones
		m := mcnemar(cand, prod)
		require.InDelta(t, c.p, m.PValue, 1e-12, "b=%d c=%d", c.b, c.c)
		require.Equal(t, c.b+c.c+4, m.Decided)
	}
}
