package prompt

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/modelgate/modelgate/agents"
	"github.com/modelgate/modelgate/tools/llmeval"
)

// EvaluateDetails is the evaluate report's Details for a prompt.
type EvaluateDetails struct {
	PromptDigest     string              `json:"prompt_digest"`
	ProductionDigest string              `json:"production_digest,omitempty"`
	ProductionVer    string              `json:"production_version,omitempty"`
	SuiteDigest      string              `json:"suite_digest"`
	Candidate        *llmeval.Result     `json:"candidate"`
	Production       *llmeval.Result     `json:"production,omitempty"`
	Comparison       *llmeval.Comparison `json:"comparison,omitempty"`
}

// significance is the level below which the agent calls a pass-rate drop
// significant in its own verdict; the policy applies its own setting.
const significance = 0.05

// evaluate runs the suite against the candidate and, when there is one,
// the prompt in production, and compares them case by case.
func (r *runner) evaluate(ctx context.Context, rep *agents.Report) error {
	p, pf, err := r.loadPrompt()
	if err != nil {
		rep.Findings = append(rep.Findings, badInput("llm-prompt", "llm.prompt_invalid", "candidate.artifact", err))
		return nil
	}
	suite, sf, err := r.loadSuite("llm.suite", r.llm.Suite)
	if err != nil {
		rep.Findings = append(rep.Findings, badInput("llm-suite", "llm.suite_invalid", "llm.suite", err))
		return nil
	}
	det := EvaluateDetails{PromptDigest: pf.SHA256, SuiteDigest: sf.SHA256}
	var judge llmeval.Completer
	judgeModel := ""
	if needsJudge(suite) {
		ep, m := judgeOf(suite, p)
		var nf *agents.Finding
		if judge, nf = r.chat("judge", ep); nf != nil {
			rep.Findings = append(rep.Findings, *nf)
			return nil
		}
		judgeModel = m
	}
	run := func(role string, pr *llmeval.Prompt) (*llmeval.Result, *agents.Finding, error) {
		target, nf := r.chat(role, pr.Endpoint)
		if nf != nil {
			return nil, nf, nil
		}
		res, err := llmeval.Run(ctx, llmeval.RunParams{Suite: suite, Prompt: pr, Target: target, Judge: judge, JudgeModel: judgeModel,
			Prices: r.o.Prices, Concurrency: r.llm.Concurrency})
		if err != nil {
			return nil, nil, fmt.Errorf("evaluate: %s: %w", role, err)
		}
		return res, nil, nil
	}
	cand, nf, err := run("prompt", p)
	if err != nil {
		return err
	}
	if nf != nil {
		rep.Findings = append(rep.Findings, *nf)
		return nil
	}
	det.Candidate = cand
	for k, v := range cand.Summary.Metrics("llm.candidate.") {
		rep.Metrics[k] = v
	}
	if pr := r.task.Production; pr != nil && pr.ArtifactPath != "" {
		det.ProductionDigest, det.ProductionVer = pr.Digest, pr.Version
		pf, err := readFile("production", pr.ArtifactPath)
		if err != nil {
			return fmt.Errorf("evaluate: production prompt %s: %w", pr.Version, err)
		}
		pp, err := llmeval.ParsePrompt("production "+pr.Version, pf.data)
		if err != nil {
			return fmt.Errorf("evaluate: production prompt %s: %w", pr.Version, err)
		}
		prod, nf, err := run("production", pp)
		if err != nil {
			return err
		}
		if nf != nil {
			rep.Findings = append(rep.Findings, *nf)
		} else {
			det.Production = prod
			cmp, err := llmeval.Compare(cand, prod, llmeval.CompareParams{Resamples: r.o.Resamples})
			if err != nil {
				return fmt.Errorf("evaluate: %w", err)
			}
			det.Comparison = cmp
			for k, v := range cmp.Metrics() {
				rep.Metrics[k] = v
			}
		}
	}
	r.judgeFindings(cand, rep)
	raw, err := json.Marshal(det)
	if err != nil {
		return fmt.Errorf("evaluate: details: %w", err)
	}
	rep.Details = raw
	rep.Summary = summary(det)
	if c := det.Comparison; c != nil && c.McNemar.PValue < significance && c.PassRate.Delta < 0 {
		rep.Findings = append(rep.Findings, agents.Finding{ID: "llm-pass-rate-drop", Severity: agents.Medium, Code: "llm.pass_rate_drop", Subject: "pass_rate",
			Message: fmt.Sprintf("the pass rate fell from %.3f to %.3f (McNemar p = %.4g, %d case(s) pass only in production, %d only for the candidate)",
				c.Production.PassRate, c.Candidate.PassRate, c.McNemar.PValue, c.McNemar.ProductionOnly, c.McNemar.CandidateOnly),
			Evidence: map[string]any{"p_value": c.McNemar.PValue, "delta": c.PassRate.Delta}})
	}
	return nil
}

// judgeFindings say where the judge could not decide or the endpoint failed.
func (r *runner) judgeFindings(res *llmeval.Result, rep *agents.Report) {
	if n := res.Summary.Inconclusive; n > 0 {
		rep.Findings = append(rep.Findings, agents.Finding{ID: "llm-inconclusive", Severity: agents.Medium, Code: "llm.inconclusive", Subject: "judge",
			Message: fmt.Sprintf("%d case(s) are inconclusive: the judge's own noise spans the threshold (mean agreement %.2f, mean variance %.3f)",
				n, res.Summary.JudgeAgreement, res.Summary.JudgeVariance),
			Evidence: map[string]any{"cases": n, "judge_agreement": res.Summary.JudgeAgreement, "judge_variance": res.Summary.JudgeVariance}})
	}
	if n := res.Summary.Errors; n > 0 {
		rep.Findings = append(rep.Findings, agents.Finding{ID: "llm-errors", Severity: agents.Medium, Code: "llm.call_errors", Subject: "prompt",
			Message: fmt.Sprintf("%d case(s) got no answer from the endpoint after retries", n), Evidence: map[string]any{"cases": n}})
	}
}

func summary(d EvaluateDetails) string {
	c := d.Candidate.Summary
	s := fmt.Sprintf("Candidate passed %d of %d case(s) (%.1f%%), %d inconclusive, %d error(s).", c.Passed, c.Cases, 100*c.PassRate, c.Inconclusive, c.Errors)
	if cmp := d.Comparison; cmp != nil {
		s += fmt.Sprintf(" Production %s passed %.1f%%: delta %+.3f (95%% CI %+.3f to %+.3f), McNemar p = %.4g.",
			d.ProductionVer, 100*cmp.Production.PassRate, cmp.PassRate.Delta, cmp.PassRate.CILow, cmp.PassRate.CIHigh, cmp.McNemar.PValue)
		if cmp.CostRatio > 0 {
			s += fmt.Sprintf(" Cost ×%.2f.", cmp.CostRatio)
		}
	} else {
		s += " Nothing in production to compare with."
	}
	return s
}
