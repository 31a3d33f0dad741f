// Package pipeline is the vocabulary a run is described in, shared by
// every layer that speaks of one: the candidate and the production
// version it is compared with, the report each stage hands back, its
// findings and its verdict.
//
// It is a leaf: it imports nothing of modelgate, so the store, the policy
// engine, the agents, the API and the reviewers' page all use these very
// types instead of copies of them. The agents package re-exports them
// under their old names (type aliases: the same types, not new ones).
package pipeline

import (
	"encoding/json"
	"fmt"
)

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

// NewReport returns an empty passing report of one agent's stage, with
// the maps and slices allocated so that JSON never shows null for them.
func NewReport(agent, stage string) Report {
	return Report{Agent: agent, Stage: stage, Verdict: Pass, Metrics: map[string]float64{}, Findings: []Finding{}}
}

// Bool is 1 for true and 0 for false, for flat boolean metrics.
func Bool(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// MustJSON encodes v for Report.Details. Only NaN or ±Inf can fail, and
// agents emit finite numbers; a failure still yields valid JSON naming it.
func MustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage(fmt.Sprintf(`{"error":%q}`, err.Error()))
	}
	return b
}
