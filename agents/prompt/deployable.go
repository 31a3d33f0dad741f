package prompt

import (
	"strings"

	"github.com/modelgate/modelgate/agents"
	"github.com/modelgate/modelgate/tools/llmeval"
)

// deployable says, at validate time rather than mid-rollout, why a prompt
// cannot be rolled out: the gateway puts its system prompt in front of
// live chat requests, which carry no variables to fill one with.
func (r *runner) deployable(p *llmeval.Prompt) *agents.Finding {
	if r.cfg.Skips("deploy") || !strings.Contains(p.System, "{{") {
		return nil
	}
	return &agents.Finding{ID: "llm-not-deployable", Severity: agents.High, Code: "llm.not_deployable", Subject: "candidate.artifact",
		Message: "the system prompt has {{ variables }}: a rollout (deploy:) sends it with live chat requests, which carry no variables to fill them; " +
			"move the variables to the template, or leave deploy: out to promote in the registry only"}
}
