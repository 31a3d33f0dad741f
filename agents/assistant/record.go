package assistant

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/modelgate/modelgate/internal/llm"
	"github.com/modelgate/modelgate/internal/store"
)

// StageName is the stage record the assistant's output is kept in. It is
// not a pipeline stage: the coordinator leaves it out of the reports a
// policy sees, so nothing the assistant writes can reach a decision.
const StageName = "assist"

// Record is what the assistant stored for a run.
type Record struct {
	State       store.RunState `json:"state"` // the run state it was written for
	Brief       *Brief         `json:"brief,omitempty"`
	Triage      *Triage        `json:"triage,omitempty"`
	Usage       llm.Usage      `json:"usage"`
	GeneratedAt time.Time      `json:"generated_at"`
}

// RecordOf finds the assistant's record among a run's stages.
func RecordOf(stages []store.Stage) (*Record, error) {
	for _, s := range stages {
		if s.Name != StageName || len(s.Report) == 0 {
			continue
		}
		var r Record
		if err := json.Unmarshal(s.Report, &r); err != nil {
			return nil, fmt.Errorf("assistant record of run %s: %w", s.RunID, err)
		}
		return &r, nil
	}
	return nil, nil
}

// WithoutRecord returns the pipeline's own stages.
func WithoutRecord(stages []store.Stage) []store.Stage {
	out := make([]store.Stage, 0, len(stages))
	for _, s := range stages {
		if s.Name != StageName {
			out = append(out, s)
		}
	}
	return out
}
