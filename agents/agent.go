package agents

import (
	"context"
	"encoding/json"

	"github.com/charmbracelet/log"

	"github.com/modelgate/modelgate/internal/config"
)

// Agent does one stage's work for a run. Run returns an error only when the
// agent could not do its work (bad input, an upstream down); a candidate
// that fails its checks is a Report with Verdict Fail, not an error.
type Agent interface {
	Name() string
	Run(ctx context.Context, task Task) (Report, error)
}

// Verdict is an agent's overall judgement of its stage.
type Verdict string

const (
	Pass Verdict = "pass"
	Warn Verdict = "warn"
	Fail Verdict = "fail"
)

// Rank orders verdicts so that the worst of several can be taken.
func (v Verdict) Rank() int {
	switch v {
	case Pass:
		return 0
	case Warn:
		return 1
	default:
		return 2
	}
}

// Worst returns the worse of two verdicts.
func Worst(a, b Verdict) Verdict {
	if b.Rank() > a.Rank() {
		return b
	}
	return a
}

// Severity grades a finding. Policies read it; agents only report it.
type Severity string

const (
	Info     Severity = "info"
	Low      Severity = "low"
	Medium   Severity = "medium"
	High     Severity = "high"
	Critical Severity = "critical"
)

// Finding is one observation worth a human's or a policy's attention.
type Finding struct {
	ID       string         `json:"id"`
	Severity Severity       `json:"severity"`
	Code     string         `json:"code"`              // stable machine name, e.g. "drift.column", "scan.pickle.global"
	Message  string         `json:"message"`           // one sentence a person can act on
	Subject  string         `json:"subject,omitempty"` // what it is about: a column, a file, a metric
	Evidence map[string]any `json:"evidence,omitempty"`
}

// ArtifactRef points at a file an agent produced (an HTML report, a log).
type ArtifactRef struct {
	Name      string `json:"name"`
	Path      string `json:"path"`
	SHA256    string `json:"sha256,omitempty"`
	Size      int64  `json:"size,omitempty"`
	MediaType string `json:"media_type,omitempty"`
}

// Report is what an agent hands back. Metrics are flat with dotted names
// ("candidate.roc_auc", "drift.share") so that policies can address them
// without knowing each agent's layout; Details carries the agent's full
// structured result (drift table, comparison) for the UI and the API.
type Report struct {
	Agent     string             `json:"agent"`
	Stage     string             `json:"stage,omitempty"`
	Verdict   Verdict            `json:"verdict"`
	Metrics   map[string]float64 `json:"metrics"`
	Findings  []Finding          `json:"findings"`
	Summary   string             `json:"summary"`
	Artifacts []ArtifactRef      `json:"artifacts,omitempty"`
	Details   json.RawMessage    `json:"details,omitempty"`
}

// Candidate is the model version under test.
type Candidate struct {
	Version      string `json:"version,omitempty"`
	ArtifactPath string `json:"artifact_path,omitempty"` // absolute path on this machine
	Digest       string `json:"digest,omitempty"`        // "sha256:<hex>" of the artifact
	Endpoint     string `json:"endpoint,omitempty"`      // a V2 server already serving it
}

// Production is the version currently serving the run's environment, if any.
type Production struct {
	Version      string `json:"version"`
	ArtifactPath string `json:"artifact_path,omitempty"`
	Digest       string `json:"digest,omitempty"`
	Endpoint     string `json:"endpoint,omitempty"`
}

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
