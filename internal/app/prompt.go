package app

import (
	"github.com/modelgate/modelgate/agents"
	"github.com/modelgate/modelgate/agents/prompt"
	"github.com/modelgate/modelgate/coordinator"
)

// wrapPromptStages puts the prompt stages (task: llm) in front of the
// tabular agents of validate, test, scan and evaluate.
func wrapPromptStages(as map[string]agents.Agent, o prompt.Options) {
	for _, stage := range []string{coordinator.StageValidate, coordinator.StageTest, coordinator.StageScan, coordinator.StageEvaluate} {
		if a, ok := as[stage]; ok {
			as[stage] = prompt.Wrap(stage, a, o)
		}
	}
}
