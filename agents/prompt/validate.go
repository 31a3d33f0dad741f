package prompt

import (
	"context"
	"fmt"

	"github.com/modelgate/modelgate/agents"
	"github.com/modelgate/modelgate/tools/llmeval"
)

// validateDetails is the validate report's Details for a prompt.
type validateDetails struct {
	Files []file   `json:"files"`
	Vars  []string `json:"template_vars"`
	Cases int      `json:"cases"`
}

// validate checks that the prompt, the suite and the probes are well
// formed, that every case fills the template, and that every endpoint they
// name may be called. Nothing is sent to a model.
func (r *runner) validate(_ context.Context, rep *agents.Report) error {
	var det validateDetails
	fail := func(f agents.Finding) {
		rep.Findings = append(rep.Findings, f)
		rep.Metrics["validation.failures"]++
	}
	rep.Metrics["validation.failures"] = 0
	p, pf, err := r.loadPrompt()
	if pf.SHA256 != "" {
		det.Files = append(det.Files, pf)
	}
	if err != nil {
		fail(badInput("llm-prompt", "llm.prompt_invalid", "candidate.artifact", err))
	} else {
		det.Vars = p.Vars()
		if f := r.allowed("prompt", p.Endpoint); f != nil {
			fail(*f)
		}
		if f := r.deployable(p); f != nil {
			fail(*f)
		}
	}
	check := func(field, path string) *llmeval.Suite {
		if path == "" {
			return nil
		}
		s, sf, err := r.loadSuite(field, path)
		if sf.SHA256 != "" {
			det.Files = append(det.Files, sf)
		}
		if err != nil {
			fail(badInput("llm-"+field, "llm.suite_invalid", field, err))
			return nil
		}
		if p == nil {
			return s
		}
		for i, c := range s.Tests {
			if _, err := p.Render(s.Merged(c).Vars); err != nil {
				fail(agents.Finding{ID: fmt.Sprintf("llm-%s-%d", field, i), Severity: agents.High, Code: "llm.case_vars", Subject: fmt.Sprintf("%s: tests[%d]", field, i),
					Message: fmt.Sprintf("%s: case %q (tests[%d]): %v", path, c.ID, i, err)})
			}
			for k, para := range c.Paraphrases {
				if _, err := p.Render(mergeVars(s.Merged(c).Vars, para)); err != nil {
					fail(agents.Finding{ID: fmt.Sprintf("llm-%s-%d-para-%d", field, i, k), Severity: agents.High, Code: "llm.case_vars",
						Subject: fmt.Sprintf("%s: tests[%d].paraphrases[%d]", field, i, k), Message: fmt.Sprintf("%s: case %q paraphrase %d: %v", path, c.ID, k, err)})
				}
			}
		}
		if needsJudge(s) {
			ep, _ := judgeOf(s, p)
			if f := r.allowed("judge", ep); f != nil {
				fail(*f)
			}
		}
		return s
	}
	if s := check("llm.suite", r.llm.Suite); s != nil {
		det.Cases = len(s.Tests)
		rep.Metrics["llm.suite.cases"] = float64(len(s.Tests))
	}
	check("llm.probes", r.llm.Probes)
	rep.Details = mustJSON(det)
	if len(rep.Findings) == 0 {
		rep.Summary = fmt.Sprintf("The prompt, the suite (%d cases) and the probes are well formed, and every endpoint is allowed.", det.Cases)
	} else {
		rep.Summary = fmt.Sprintf("%d problem(s) in the prompt candidate's inputs.", len(rep.Findings))
	}
	return nil
}

func (r *runner) allowed(role, endpoint string) *agents.Finding {
	if err := r.o.Allow.Check(endpoint); err != nil {
		return &agents.Finding{ID: "llm-endpoint-" + role, Severity: agents.Critical, Code: "llm.endpoint_not_allowed", Subject: role,
			Message: fmt.Sprintf("the %s endpoint may not be called: %v", role, err), Evidence: map[string]any{"endpoint": endpoint}}
	}
	return nil
}

func mergeVars(base, over map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		out[k] = v
	}
	return out
}
