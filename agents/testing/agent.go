package testing

import (
	"context"
	"fmt"

	"github.com/modelgate/modelgate/agents"
	"github.com/modelgate/modelgate/tools/model"
)

// Name is the agent's name in its reports; Stage is the one stage it runs.
const (
	Name  = "testing"
	Stage = "test"
)

// PredictorFunc opens the candidate's predictor for a task.
type PredictorFunc func(ctx context.Context, task agents.Task) (model.Predictor, error)

// Options configure the agent.
type Options struct {
	// Predictor opens the candidate for the "test" stage (the coordinator
	// supplies one that loads XGBoost JSON or calls a V2 endpoint).
	Predictor PredictorFunc
}

// Agent is the testing agent.
type Agent struct{ o Options }

// New returns the testing agent.
func New(o Options) *Agent { return &Agent{o: o} }

// Name is "testing".
func (a *Agent) Name() string { return Name }

// Run tests the task's candidate. It returns an error only when the
// stage could not run (no config, unreadable data, no predictor); a
// candidate that fails its tests is a Report with Verdict fail.
func (a *Agent) Run(ctx context.Context, task agents.Task) (agents.Report, error) {
	if task.Config == nil {
		return agents.Report{}, fmt.Errorf("testing agent: task has no pipeline config")
	}
	if task.Stage != Stage {
		return agents.Report{}, fmt.Errorf("testing agent: unknown stage %q (%s)", task.Stage, Stage)
	}
	return a.runTest(ctx, task)
}
