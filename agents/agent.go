package agents

import (
	"context"

	"github.com/charmbracelet/log"

	"github.com/modelgate/modelgate/internal/config"
	"github.com/modelgate/modelgate/internal/pipeline"
)

// Agent does one stage's work for a run. Run returns an error only when the
// agent could not do its work (bad input, an upstream down); a candidate
// that fails its checks is a Report with Verdict Fail, not an error.
type Agent interface {
	Name() string
	Run(ctx context.Context, task Task) (Report, error)
}

// The pipeline vocabulary lives in internal/pipeline (a leaf package the
// store and the policy engine share); these aliases are the same types.
type (
	Verdict     = pipeline.Verdict
	Severity    = pipeline.Severity
	Finding     = pipeline.Finding
	ArtifactRef = pipeline.ArtifactRef
	Report      = pipeline.Report
	Candidate   = pipeline.Candidate
	Production  = pipeline.Production
)

const (
	Pass = pipeline.Pass
	Warn = pipeline.Warn
	Fail = pipeline.Fail

	Info     = pipeline.Info
	Low      = pipeline.Low
	Medium   = pipeline.Medium
	High     = pipeline.High
	Critical = pipeline.Critical
)

// Worst returns the worse of two verdicts.
func Worst(a, b Verdict) Verdict { return pipeline.Worst(a, b) }

// Task is everything an agent needs for one stage of one run. Paths in
// Config are already resolved against BaseDir by the coordinator.
type Task struct {
	RunID       string
	Stage       string
	Attempt     int // 1 for the first try of this stage in this run, across restarts
	Model       string
	Environment string
	Config      *config.Pipeline
	BaseDir     string // folder of modelgate.yaml; relative paths resolve here
	WorkDir     string // per-run scratch folder the agent may write into
	Candidate   Candidate
	Production  *Production // nil when nothing of this model is in production
	Logger      *log.Logger // carries the run id on every line
	// Reports holds the reports of stages already finished in this run,
	// keyed by stage, for agents that build on earlier evidence.
	Reports map[string]Report
}

// Log returns the task's logger, or the default one when none was given.
func (t Task) Log() *log.Logger {
	if t.Logger != nil {
		return t.Logger
	}
	return log.Default()
}

// Path resolves p against the task's BaseDir unless it is absolute or empty.
func (t Task) Path(p string) string {
	return config.Resolve(t.BaseDir, p)
}
