package store

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/modelgate/modelgate/internal/pipeline"
)

// ErrNoReport is AgentReport's error for a stage that stored none (it has
// not finished, or failed before reporting).
var ErrNoReport = errors.New("the stage has no report")

// AgentReport decodes the stage's stored report in the pipeline
// vocabulary: the one decoder that the coordinator, the assistant, the
// API's views, the reviewers' page, chat-ops and the CLI share, so that a
// report reads the same everywhere.
func (s Stage) AgentReport() (pipeline.Report, error) {
	if len(s.Report) == 0 {
		return pipeline.Report{}, ErrNoReport
	}
	var r pipeline.Report
	if err := json.Unmarshal(s.Report, &r); err != nil {
		return pipeline.Report{}, fmt.Errorf("decode the %s stage's report: %w", s.Name, err)
	}
	return r, nil
}
