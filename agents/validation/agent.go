package validation

import (
	"context"
	"fmt"

	"github.com/modelgate/modelgate/agents"
)

// Name is the agent's name in its reports; Stage is the one stage it runs.
const (
	Name  = "validation"
	Stage = "validate"
)

// Agent is the validation agent. It has no options: everything it needs
// is in the task's config.
type Agent struct{}

// New returns the validation agent.
func New() *Agent { return &Agent{} }

// Name is "validation".
func (a *Agent) Name() string { return Name }

// Run validates the task's data. It returns an error only when the stage
// could not run (no config, unreadable data); data that fails its checks
// is a Report with Verdict fail.
func (a *Agent) Run(ctx context.Context, task agents.Task) (agents.Report, error) {
	if task.Config == nil {
		return agents.Report{}, fmt.Errorf("validation agent: task has no pipeline config")
	}
	if task.Stage != Stage {
		return agents.Report{}, fmt.Errorf("validation agent: unknown stage %q (%s)", task.Stage, Stage)
	}
	return a.runValidate(ctx, task)
}
