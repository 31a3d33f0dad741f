package testagent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/modelgate/modelgate/agents"
	"github.com/modelgate/modelgate/tools/model"
)

// Stages the agent runs.
const (
	StageValidate = "validate"
	StageTest     = "test"
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
func (a *Agent) Name() string { return "testing" }

// Run does the task's stage. It returns an error only when the stage
// could not run (no config, unreadable data, no predictor); data that
// fails its checks is a Report with Verdict fail.
func (a *Agent) Run(ctx context.Context, task agents.Task) (agents.Report, error) {
	if task.Config == nil {
		return agents.Report{}, fmt.Errorf("testing agent: task has no pipeline config")
	}
	switch task.Stage {
	case StageValidate:
		return a.runValidate(ctx, task)
	case StageTest:
		return a.runTest(ctx, task)
	}
	return agents.Report{}, fmt.Errorf("testing agent: unknown stage %q (validate, test)", task.Stage)
}

func newReport(stage string) agents.Report {
	return agents.Report{Agent: "testing", Stage: stage, Verdict: agents.Pass, Metrics: map[string]float64{}, Findings: []agents.Finding{}}
}

func boolf(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// writeArtifact saves b under the task's work folder, when it has one.
func writeArtifact(task agents.Task, name, media string, b []byte) (*agents.ArtifactRef, error) {
	if task.WorkDir == "" {
		return nil, nil
	}
	if err := os.MkdirAll(task.WorkDir, 0o755); err != nil {
		return nil, fmt.Errorf("create work dir: %w", err)
	}
	path := filepath.Join(task.WorkDir, name)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return nil, fmt.Errorf("write %s: %w", name, err)
	}
	sum := sha256.Sum256(b)
	return &agents.ArtifactRef{Name: name, Path: path, SHA256: hex.EncodeToString(sum[:]), Size: int64(len(b)), MediaType: media}, nil
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		// Only NaN/Inf can fail here and every number we emit is finite.
		return json.RawMessage(fmt.Sprintf(`{"error":%q}`, err.Error()))
	}
	return b
}
