package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/modelgate/modelgate/internal/pipeline"
)

// Sentinels every driver maps its own errors to.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("conflict")
)

// Store is everything modelgate persists. Methods are noun-first and take
// params structs so that adding a field never breaks a caller.
//
// Every method is safe for concurrent use, and each is atomic: a caller
// that gets ErrConflict knows nothing was written. Times round-trip with
// their nanoseconds, and a zero time comes back zero.
type Store interface {
	Leases // lease.go: run ownership and fencing across servers

	// Runs.
	RunCreate(ctx context.Context, p RunCreateParams) (Run, bool, error) // bool: created (false = idempotent replay)
	RunGet(ctx context.Context, id string) (Run, error)
	// RunResolveID returns the one run id that starts with prefix (an id
	// as the CLI and the pages print it, first 8 characters): ErrNotFound
	// when none does, an *AmbiguousError (ErrAmbiguous) when several do.
	RunResolveID(ctx context.Context, prefix string) (string, error)
	RunList(ctx context.Context, p RunListParams) ([]Run, error)
	// RunTransition moves a run from one of p.From to p.To; ErrConflict when
	// the run is in another state (someone else moved it first).
	RunTransition(ctx context.Context, p RunTransitionParams) (Run, error)
	RunUpdate(ctx context.Context, p RunUpdateParams) (Run, error)

	// Stages of a run and the agents' reports. StagePut upserts by (run,
	// name) and is ErrNotFound for an unknown run, as is LogAppend.
	StagePut(ctx context.Context, s Stage) error
	StageList(ctx context.Context, runID string) ([]Stage, error)

	// Run logs (training output, agent notes), in order.
	LogAppend(ctx context.Context, p LogAppendParams) error
	LogList(ctx context.Context, runID string) ([]LogLine, error)

	// Approvals: Decide is a compare-and-swap on Version so that two
	// reviewers racing each other cannot both win.
	// ApprovalCreate stores version 1; lists are newest first.
	ApprovalCreate(ctx context.Context, a Approval) (Approval, error)
	ApprovalGet(ctx context.Context, id string) (Approval, error)
	// ApprovalResolveID is RunResolveID for approvals.
	ApprovalResolveID(ctx context.Context, prefix string) (string, error)
	ApprovalList(ctx context.Context, p ApprovalListParams) ([]Approval, error)
	ApprovalDecide(ctx context.Context, p ApprovalDecideParams) (Approval, error)

	// Audit trail: Append fails with ErrConflict when Seq is not the next
	// number, which keeps the chain gap-free across processes.
	AuditAppend(ctx context.Context, e AuditEntry) error
	AuditList(ctx context.Context, p AuditListParams) ([]AuditEntry, error)
	AuditLast(ctx context.Context) (AuditEntry, error) // ErrNotFound when empty
	AuditCheckpointPut(ctx context.Context, c Checkpoint) error
	AuditCheckpointList(ctx context.Context) ([]Checkpoint, error)

	// Model registry.
	ModelVersionPut(ctx context.Context, v ModelVersion) error // ErrConflict if (model, version) exists with another digest
	ModelVersionGet(ctx context.Context, model, version string) (ModelVersion, error)
	ModelVersionList(ctx context.Context, model string) ([]ModelVersion, error)
	ModelList(ctx context.Context) ([]string, error)
	// ProductionSet records which version serves an environment; the
	// previous one is kept so that a rollback can restore it (setting the
	// version already in production keeps the old Previous). ErrConflict
	// when p.ExpectVersion is set and does not match the current one.
	ProductionSet(ctx context.Context, p ProductionSetParams) (Production, error)
	ProductionGet(ctx context.Context, model, env string) (Production, error)
	ProductionList(ctx context.Context, model string) ([]Production, error)

	// Gateway route tables, opaque to the store.
	RouteSet(ctx context.Context, model string, table json.RawMessage) error
	RouteGet(ctx context.Context, model string) (json.RawMessage, error)
	RouteList(ctx context.Context) (map[string]json.RawMessage, error)

	// Rollout state of a run's deployment; Save is a compare-and-swap on
	// Version (a non-zero Version for a rollout never saved is ErrConflict).
	RolloutGet(ctx context.Context, runID string) (Rollout, error)
	RolloutSave(ctx context.Context, r Rollout) (Rollout, error)

	// Sessions of the reviewers' page, checked on every request so that a
	// sign-out or a "sign everyone out" holds on every server at once.
	// SessionEnd ends one session until its expiry (the record may be
	// dropped after that); SessionEpochBump ends every session issued
	// before it and returns the new epoch; SessionState reads both.
	SessionEnd(ctx context.Context, id string, until time.Time) error
	SessionState(ctx context.Context, id string) (SessionState, error)
	SessionEpochBump(ctx context.Context) (int64, error)

	// Claims: a unique key taken by the first writer until it expires, so
	// that a webhook delivery, a Slack retry or a schedule tick is acted on
	// once across restarts and replicas. ClaimTake reports whether this
	// call took the key (false: a live claim holds it). A claim past its
	// Until may be taken again; a zero Until never expires.
	ClaimTake(ctx context.Context, p ClaimTakeParams) (bool, error)

	// Model settings: the triggers and notifications an admin configured
	// for a model (pipeline, schedule, Slack channel, webhooks), opaque to
	// the store like route tables.
	ModelSettingsSet(ctx context.Context, model string, doc json.RawMessage) error
	ModelSettingsGet(ctx context.Context, model string) (json.RawMessage, error) // ErrNotFound when none
	ModelSettingsList(ctx context.Context) (map[string]json.RawMessage, error)

	WindowStore // gateways' published measurement windows (windows.go)
	Registry    // aliases, tags and descriptions of versions (lineage.go)

	Ping(ctx context.Context) error
	Close() error
}

// ClaimTakeParams takes a claim on Key for Owner (kept for diagnosis).
type ClaimTakeParams struct {
	Key   string
	Owner string
	Until time.Time // zero = forever
}

// SessionState is what the store knows of a session: whether it was
// ended, and the current epoch (0 until the first bump). A session issued
// under another epoch is over.
type SessionState struct {
	Ended bool
	Epoch int64
}

// RunState is where a run stands.
type RunState string

const (
	RunQueued           RunState = "queued"
	RunRunning          RunState = "running"
	RunAwaitingApproval RunState = "awaiting_approval"
	RunDeploying        RunState = "deploying"
	RunSucceeded        RunState = "succeeded"
	RunFailed           RunState = "failed"
	RunRolledBack       RunState = "rolled_back"
	RunCancelled        RunState = "cancelled"
)

// Terminal reports whether a run in this state will never move again.
func (s RunState) Terminal() bool {
	switch s {
	case RunSucceeded, RunFailed, RunRolledBack, RunCancelled:
		return true
	}
	return false
}

// AllRunStates lists every state, in lifecycle order.
var AllRunStates = []RunState{RunQueued, RunRunning, RunAwaitingApproval, RunDeploying, RunSucceeded, RunFailed, RunRolledBack, RunCancelled}

// Candidate is the model version a run is about: the pipeline
// vocabulary's own type, stored as it is.
type Candidate = pipeline.Candidate

// Run is one pipeline execution for one candidate.
type Run struct {
	ID           string            `json:"id"`
	Model        string            `json:"model"`
	Environment  string            `json:"environment"`
	State        RunState          `json:"state"`
	Trigger      string            `json:"trigger"`   // api | cli | slack | github | schedule | drift
	Requester    string            `json:"requester"` // who asked (token subject)
	CommitAuthor string            `json:"commit_author,omitempty"`
	Config       []byte            `json:"-"` // the pipeline YAML as submitted
	BaseDir      string            `json:"base_dir,omitempty"`
	Candidate    Candidate         `json:"candidate"`
	Decision     json.RawMessage   `json:"decision,omitempty"`
	Error        string            `json:"error,omitempty"`
	Labels       map[string]string `json:"labels,omitempty"`
	CreatedAt    time.Time         `json:"created_at"`
	UpdatedAt    time.Time         `json:"updated_at"`
	Version      int64             `json:"-"` // bumped on every write
}

// RunCreateParams creates a run. When IdempotencyKey is set and the same
// requester (Run.Requester) already created a run with it, that run is
// returned (created=false) if RequestDigest matches, and ErrConflict
// otherwise. Keys are scoped by requester: another requester's key of the
// same text is another key.
type RunCreateParams struct {
	Run            Run
	IdempotencyKey string
	RequestDigest  string
}

// RunListParams filters runs; newest first.
type RunListParams struct {
	Model  string
	States []RunState
	Limit  int // default 100
	Before time.Time
}

// RunTransitionParams moves a run between states.
type RunTransitionParams struct {
	ID    string
	From  []RunState // empty = any non-terminal state
	To    RunState
	Error string // recorded when set
}

// RunUpdateParams changes the fields that are set.
type RunUpdateParams struct {
	ID        string
	Candidate *Candidate
	Decision  json.RawMessage
	Error     *string
}

// StageState is where a stage stands.
type StageState string

const (
	StagePending   StageState = "pending"
	StageRunning   StageState = "running"
	StageSucceeded StageState = "succeeded" // the agent ran; its report may still say fail
	StageFailed    StageState = "failed"    // the agent could not run
	StageSkipped   StageState = "skipped"
)

// Stage is one stage of a run, with the agent's report once finished.
type Stage struct {
	RunID      string          `json:"run_id"`
	Name       string          `json:"name"`
	State      StageState      `json:"state"`
	Attempt    int             `json:"attempt"`
	Verdict    string          `json:"verdict,omitempty"`
	Report     json.RawMessage `json:"report,omitempty"`
	Error      string          `json:"error,omitempty"`
	StartedAt  time.Time       `json:"started_at,omitzero"`
	FinishedAt time.Time       `json:"finished_at,omitzero"`
}

// LogLine is one line of a run's log.
type LogLine struct {
	RunID string    `json:"run_id"`
	Seq   int64     `json:"seq"`
	Stage string    `json:"stage"`
	Time  time.Time `json:"time"`
	Text  string    `json:"text"`
}

// LogAppendParams appends lines to a run's log.
type LogAppendParams struct {
	RunID string
	Stage string
	Lines []string
}

// ApprovalState is where an approval request stands.
type ApprovalState string

const (
	ApprovalPending  ApprovalState = "pending"
	ApprovalApproved ApprovalState = "approved"
	ApprovalRejected ApprovalState = "rejected"
	ApprovalExpired  ApprovalState = "expired"
	ApprovalVoided   ApprovalState = "voided"
)

// Vote is one reviewer's decision on an approval request.
type Vote struct {
	Reviewer string    `json:"reviewer"`
	Groups   []string  `json:"groups,omitempty"`
	Decision string    `json:"decision"` // approve | reject
	Comment  string    `json:"comment,omitempty"`
	At       time.Time `json:"at"`
}

// Approval is a request for human approval bound to a run, the exact
// candidate digest, the policy revision and the decision that asked for it.
type Approval struct {
	ID              string          `json:"id"`
	RunID           string          `json:"run_id"`
	Model           string          `json:"model"`
	Environment     string          `json:"environment"`
	CandidateDigest string          `json:"candidate_digest"`
	PolicyRevision  string          `json:"policy_revision"`
	DecisionID      string          `json:"decision_id"`
	Requester       string          `json:"requester"`
	CommitAuthor    string          `json:"commit_author,omitempty"`
	Groups          []string        `json:"groups"`
	Min             int             `json:"min"`
	Risk            string          `json:"risk,omitempty"`
	Reasons         []string        `json:"reasons,omitempty"`
	State           ApprovalState   `json:"state"`
	Votes           []Vote          `json:"votes"`
	Reason          string          `json:"reason,omitempty"` // why it expired or was voided
	CreatedAt       time.Time       `json:"created_at"`
	ExpiresAt       time.Time       `json:"expires_at"`
	DecidedAt       time.Time       `json:"decided_at,omitzero"`
	Version         int64           `json:"version"`
	Extra           json.RawMessage `json:"extra,omitempty"`
}

// ApprovalListParams filters approvals; newest first.
type ApprovalListParams struct {
	States []ApprovalState
	RunID  string
	Limit  int
}

// ApprovalDecideParams writes new state and votes if the stored version
// is still ExpectVersion; ErrConflict otherwise.
type ApprovalDecideParams struct {
	ID            string
	ExpectVersion int64
	State         ApprovalState
	Votes         []Vote
	Reason        string
	DecidedAt     time.Time
}

// AuditEntry is one event in the tamper-evident trail. Hash is
// h_i = SHA-256(0x01 || h_{i-1} || SHA-256(0x00 || canonical entry)),
// computed by the audit package; the store keeps it as given.
type AuditEntry struct {
	Seq   int64           `json:"seq"`
	Time  time.Time       `json:"time"`
	Type  string          `json:"type"`
	RunID string          `json:"run_id,omitempty"`
	Actor string          `json:"actor,omitempty"`
	Data  json.RawMessage `json:"data,omitempty"`
	Hash  string          `json:"hash"`
}

// AuditListParams pages through the trail in sequence order.
type AuditListParams struct {
	AfterSeq int64
	Limit    int // default 1000
	RunID    string
	Type     string
}

// Checkpoint is a signed statement of the chain head at Seq.
type Checkpoint struct {
	Seq       int64     `json:"seq"`
	Hash      string    `json:"hash"`
	Time      time.Time `json:"time"`
	KeyID     string    `json:"key_id"`
	Signature string    `json:"signature"` // base64 Ed25519 over the checkpoint's canonical bytes
}

// ModelVersion is one registered version of a model.
type ModelVersion struct {
	Model        string             `json:"model"`
	Version      string             `json:"version"`
	Digest       string             `json:"digest"`
	ArtifactPath string             `json:"artifact_path,omitempty"`
	Endpoint     string             `json:"endpoint,omitempty"`
	RunID        string             `json:"run_id,omitempty"`
	Metrics      map[string]float64 `json:"metrics,omitempty"`
	Lineage      *Lineage           `json:"lineage,omitempty"` // where it came from (lineage.go)
	CreatedAt    time.Time          `json:"created_at"`
}

// Production says which version of a model serves an environment.
type Production struct {
	Model       string    `json:"model"`
	Environment string    `json:"environment"`
	Version     string    `json:"version"`
	Previous    string    `json:"previous,omitempty"`
	RunID       string    `json:"run_id,omitempty"`
	Reason      string    `json:"reason,omitempty"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// ProductionSetParams points an environment at a version.
type ProductionSetParams struct {
	Model         string
	Environment   string
	Version       string
	ExpectVersion *string // compare-and-swap on the current version ("" = none yet)
	RunID         string
	Reason        string
}

// Rollout is the stored state of a run's deployment, opaque to the store.
type Rollout struct {
	RunID     string          `json:"run_id"`
	Model     string          `json:"model"`
	Data      json.RawMessage `json:"data"`
	Version   int64           `json:"version"` // Save succeeds only if this equals the stored version (0 = new)
	UpdatedAt time.Time       `json:"updated_at"`
}
