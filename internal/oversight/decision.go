package oversight

import (
	"context"
	"time"

	"github.com/modelgate/modelgate/internal/auth"
	"github.com/modelgate/modelgate/internal/pipeline"
)

// Input is the whole evidence a promotion policy sees, as input to
// data.modelgate.promotion.decision.
type Input struct {
	Run         RunInfo                    `json:"run"`
	Model       string                     `json:"model"`
	Environment string                     `json:"environment"`
	Task        string                     `json:"task"`
	Candidate   pipeline.Candidate         `json:"candidate"`
	Production  *pipeline.Production       `json:"production"` // null for the first model of a name
	Reports     map[string]pipeline.Report `json:"reports"`    // by stage: validate, test, scan, evaluate
	Deploy      DeployInfo                 `json:"deploy"`
	Requester   auth.Principal             `json:"requester"`
}

// RunInfo is the part of the run a policy may reason about.
type RunInfo struct {
	ID           string            `json:"id"`
	Trigger      string            `json:"trigger"`
	CommitAuthor string            `json:"commit_author,omitempty"`
	Labels       map[string]string `json:"labels,omitempty"`
}

// DeployInfo describes the intended rollout.
type DeployInfo struct {
	Strategy        string  `json:"strategy"`
	MaxTrafficShare float64 `json:"max_traffic_share"` // 0..1, the largest share the candidate will get
	Shadow          bool    `json:"shadow"`
	// Upstream: the candidate is served by a server modelgate did not
	// start, checked by the digest it lists in its V2 metadata.
	// Unverified: the config asks to serve it even when that server lists
	// no such digest (deploy.target.allow_unverified).
	Upstream   bool `json:"upstream"`
	Unverified bool `json:"unverified"`
	// RegistryOnly is a promotion with no rollout (no deploy section, or
	// deploy skipped): whatever reads the registry switches at once, so
	// the share is all of it, but there are no rollout steps to cite.
	RegistryOnly bool `json:"registry_only,omitempty"`
}

// Reason is a coded denial.
type Reason struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Approvers says who must approve and how many distinct people.
type Approvers struct {
	Groups []string `json:"groups"`
	Min    int      `json:"min"`
}

// Decision is the policy's answer for one promotion.
type Decision struct {
	ID              string    `json:"id"`
	Allow           bool      `json:"allow"`
	Deny            []Reason  `json:"deny"`
	RequireApproval bool      `json:"require_approval"`
	Approvers       Approvers `json:"approvers"`
	Risk            string    `json:"risk"` // low | medium | high | critical
	Reasons         []string  `json:"reasons"`
	PolicyRevision  string    `json:"policy_revision"`
	InputDigest     string    `json:"input_digest"`
	EvaluatedAt     time.Time `json:"evaluated_at"`
}

// Decider turns evidence into a decision. Undefined or failed evaluation
// must come back as a denial, never as an allow.
type Decider interface {
	Decide(ctx context.Context, in Input) (Decision, error)
}
