package approval

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/charmbracelet/log"
	"github.com/google/uuid"

	"github.com/modelgate/modelgate/internal/audit"
	"github.com/modelgate/modelgate/internal/auth"
	"github.com/modelgate/modelgate/internal/oversight"
	"github.com/modelgate/modelgate/internal/store"
)

// Errors callers branch on (the HTTP API maps them to status codes).
var (
	ErrSelfApproval   = errors.New("the requester or commit author may not approve their own candidate") // 403
	ErrNotAllowed     = errors.New("not allowed to decide this approval")                                // 403
	ErrAlreadyDecided = errors.New("approval already decided")                                           // 409
	ErrExpired        = errors.New("approval expired")                                                   // 410
	ErrBadRequest     = errors.New("invalid approval request")                                           // 400
)

// Audit event types the queue writes.
const (
	EventApprovalRequested = "approval.requested"
	EventApprovalVote      = "approval.vote"
	EventApprovalApproved  = "approval.approved"
	EventApprovalRejected  = "approval.rejected"
	EventApprovalExpired   = "approval.expired"
	EventApprovalVoided    = "approval.voided"
	EventApprovalRefused   = "approval.refused"
)

// maxCASAttempts bounds the compare-and-swap retries of one vote; each
// retry re-reads the approval, so only a storm of writers can exhaust it.
const maxCASAttempts = 20

// maxComment keeps a reviewer's comment to a sensible size.
const maxComment = 4000

// QueueOptions configures NewQueue.
type QueueOptions struct {
	Store    store.Store
	Recorder audit.Recorder
	Expiry   time.Duration // default 72h
	Now      func() time.Time
	// OnDecided runs after an approval reaches a final state (approved,
	// rejected, expired or voided); the coordinator moves the run on.
	OnDecided func(ctx context.Context, a store.Approval)
	// PolicyRevision, when set, returns the revision in use; a vote on an
	// approval bound to another revision voids it instead of counting.
	PolicyRevision func() string
	Logger         *log.Logger
}

// Queue is the approval queue: requests bound to (run, candidate digest,
// policy revision, decision id), decided by distinct reviewers.
type Queue struct {
	opts QueueOptions
}

// NewQueue returns a queue over the store.
func NewQueue(opts QueueOptions) *Queue {
	if opts.Expiry <= 0 {
		opts.Expiry = 72 * time.Hour
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = log.Default()
	}
	return &Queue{opts: opts}
}

// ApprovalRequest asks reviewers to approve the promotion a decision allowed.
type ApprovalRequest struct {
	Run      store.Run
	Decision oversight.Decision
}

// Request creates a pending approval for a decision that requires one.
func (q *Queue) Request(ctx context.Context, r ApprovalRequest) (store.Approval, error) {
	switch {
	case r.Run.ID == "":
		return store.Approval{}, fmt.Errorf("%w: run id is empty", ErrBadRequest)
	case r.Decision.ID == "":
		return store.Approval{}, fmt.Errorf("%w: decision id is empty", ErrBadRequest)
	case !r.Decision.Allow:
		return store.Approval{}, fmt.Errorf("%w: decision %s denies the promotion; a denial cannot be approved", ErrBadRequest, r.Decision.ID)
	case !r.Decision.RequireApproval:
		return store.Approval{}, fmt.Errorf("%w: decision %s does not require approval", ErrBadRequest, r.Decision.ID)
	case r.Run.Candidate.Digest == "":
		return store.Approval{}, fmt.Errorf("%w: run %s has no candidate digest to bind the approval to", ErrBadRequest, r.Run.ID)
	case r.Decision.PolicyRevision == "":
		return store.Approval{}, fmt.Errorf("%w: decision %s has no policy revision", ErrBadRequest, r.Decision.ID)
	}
	now := q.opts.Now().UTC()
	groups := slices.Clone(r.Decision.Approvers.Groups)
	if groups == nil {
		groups = []string{}
	}
	a := store.Approval{
		ID:              uuid.NewString(),
		RunID:           r.Run.ID,
		Model:           r.Run.Model,
		Environment:     r.Run.Environment,
		CandidateDigest: r.Run.Candidate.Digest,
		PolicyRevision:  r.Decision.PolicyRevision,
		DecisionID:      r.Decision.ID,
		Requester:       r.Run.Requester,
		CommitAuthor:    r.Run.CommitAuthor,
		Groups:          groups,
		Min:             max(1, r.Decision.Approvers.Min),
		Risk:            r.Decision.Risk,
		Reasons:         slices.Clone(r.Decision.Reasons),
		State:           store.ApprovalPending,
		Votes:           []store.Vote{},
		CreatedAt:       now,
		ExpiresAt:       now.Add(q.opts.Expiry),
	}
	created, err := q.opts.Store.ApprovalCreate(ctx, a)
	if err != nil {
		return store.Approval{}, fmt.Errorf("create approval for run %s: %w", r.Run.ID, err)
	}
	q.record(ctx, EventApprovalRequested, created.RunID, r.Run.Requester, approvalEvent(created, nil))
	q.opts.Logger.Info("approval requested", "run", created.RunID, "approval", created.ID, "risk", created.Risk, "min", created.Min, "groups", created.Groups)
	return created, nil
}

// Get returns one approval, settled first when it is pending past its
// deadline or its run has ended, so that no reader sees it as open.
func (q *Queue) Get(ctx context.Context, id string) (store.Approval, error) {
	a, err := q.opts.Store.ApprovalGet(ctx, id)
	if err != nil {
		return store.Approval{}, fmt.Errorf("approval %s: %w", id, err)
	}
	return q.settleLapsed(ctx, a), nil
}

// List returns approvals, newest first. Pending ones past their deadline
// or whose run ended are settled on the way (expired, voided), so the list
// shows what a vote would find instead of waiting for the next expiry
// sweep; with a States filter, the ones that no longer match are left out.
func (q *Queue) List(ctx context.Context, p store.ApprovalListParams) ([]store.Approval, error) {
	as, err := q.opts.Store.ApprovalList(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("list approvals: %w", err)
	}
	out := as[:0]
	for _, a := range as {
		a = q.settleLapsed(ctx, a)
		if len(p.States) > 0 && !slices.Contains(p.States, a.State) {
			continue
		}
		out = append(out, a)
	}
	return out, nil
}

// settleLapsed settles a pending approval that can no longer be decided:
// expired when past its deadline, voided when its run ended. It returns
// the approval as it now stands (unchanged on a read error: a transient
// failure must not hide an approval).
func (q *Queue) settleLapsed(ctx context.Context, a store.Approval) store.Approval {
	if a.State != store.ApprovalPending {
		return a
	}
	if !q.opts.Now().Before(a.ExpiresAt) {
		return q.settleTo(ctx, a, store.ApprovalExpired, "no decision before "+a.ExpiresAt.UTC().Format(time.RFC3339), EventApprovalExpired)
	}
	if reason := q.endedReason(ctx, a); reason != "" {
		return q.settleTo(ctx, a, store.ApprovalVoided, reason, EventApprovalVoided)
	}
	return a
}

// settleTo settles a and returns the stored result: the settled approval,
// or whatever another writer made of it first.
func (q *Queue) settleTo(ctx context.Context, a store.Approval, state store.ApprovalState, reason, event string) store.Approval {
	q.settle(ctx, a, state, reason, event)
	if now, err := q.opts.Store.ApprovalGet(ctx, a.ID); err == nil {
		return now
	}
	return a
}

// endedReason says why an approval's run can no longer be promoted: it is
// gone or it reached a final state (cancelled, failed, ...). An approval
// outliving its run would let a reviewer approve something nothing will
// act on, and a resumed or re-used run id must not inherit it.
func (q *Queue) endedReason(ctx context.Context, a store.Approval) string {
	run, err := q.opts.Store.RunGet(ctx, a.RunID)
	return runEnded(run, err)
}

// runEnded is endedReason on a run as read (err from RunGet).
func runEnded(run store.Run, err error) string {
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return "its run no longer exists"
		}
		return "" // a transient read error must not void anything
	}
	if run.State.Terminal() {
		return fmt.Sprintf("its run ended (%s)", run.State)
	}
	return ""
}

// Approve records by's approval. The approval is granted once Min distinct
// allowed reviewers approved; a second approval by the same person changes
// nothing and returns the approval as it stands.
func (q *Queue) Approve(ctx context.Context, id string, by auth.Principal, comment string) (store.Approval, error) {
	return q.vote(ctx, id, by, "approve", comment)
}

// Reject records by's rejection; one rejection rejects the request.
func (q *Queue) Reject(ctx context.Context, id string, by auth.Principal, comment string) (store.Approval, error) {
	return q.vote(ctx, id, by, "reject", comment)
}

func (q *Queue) vote(ctx context.Context, id string, by auth.Principal, decision, comment string) (store.Approval, error) {
	comment = strings.TrimSpace(comment)
	if len(comment) > maxComment {
		return store.Approval{}, fmt.Errorf("%w: comment is %d bytes, the limit is %d", ErrBadRequest, len(comment), maxComment)
	}
	for attempt := 0; attempt < maxCASAttempts; attempt++ {
		a, err := q.opts.Store.ApprovalGet(ctx, id)
		if err != nil {
			return store.Approval{}, fmt.Errorf("approval %s: %w", id, err)
		}
		if decision == "approve" && a.State == store.ApprovalApproved && hasApproved(a.Votes, by.Subject) {
			return a, nil // a replay of a vote that already counted
		}
		if err := q.checkOpen(ctx, a, by, decision); err != nil {
			return a, err
		}
		if err := q.checkVoter(ctx, a, by, decision); err != nil {
			return a, err
		}
		// The same person approving twice counts once.
		if decision == "approve" && hasApproved(a.Votes, by.Subject) {
			return a, nil
		}
		now := q.opts.Now().UTC()
		votes := append(slices.Clone(a.Votes), store.Vote{Reviewer: by.Subject, Groups: slices.Clone(by.Groups), Decision: decision, Comment: comment, At: now})
		p := store.ApprovalDecideParams{ID: a.ID, ExpectVersion: a.Version, State: store.ApprovalPending, Votes: votes}
		switch {
		case decision == "reject":
			p.State, p.DecidedAt, p.Reason = store.ApprovalRejected, now, fmt.Sprintf("rejected by %s", by.Subject)
		case distinctApprovers(votes) >= a.Min:
			p.State, p.DecidedAt = store.ApprovalApproved, now
		}
		updated, err := q.opts.Store.ApprovalDecide(ctx, p)
		if errors.Is(err, store.ErrConflict) {
			continue // someone else wrote first: re-read and re-check
		}
		if err != nil {
			return a, fmt.Errorf("record %s of approval %s: %w", decision, id, err)
		}
		q.record(ctx, EventApprovalVote, updated.RunID, by.Subject, approvalEvent(updated, map[string]any{"decision": decision, "comment": comment}))
		switch updated.State {
		case store.ApprovalApproved:
			q.record(ctx, EventApprovalApproved, updated.RunID, by.Subject, approvalEvent(updated, nil))
		case store.ApprovalRejected:
			q.record(ctx, EventApprovalRejected, updated.RunID, by.Subject, approvalEvent(updated, nil))
		}
		q.opts.Logger.Info("approval vote", "run", updated.RunID, "approval", updated.ID, "reviewer", by.Subject, "decision", decision, "state", updated.State)
		q.decided(ctx, updated)
		return updated, nil
	}
	return store.Approval{}, fmt.Errorf("approval %s: gave up after %d concurrent writes: %w", id, maxCASAttempts, store.ErrConflict)
}

// checkOpen refuses votes on decided, expired or stale approvals, and
// settles an expired or stale one on the way.
func (q *Queue) checkOpen(ctx context.Context, a store.Approval, by auth.Principal, decision string) error {
	switch a.State {
	case store.ApprovalPending:
	case store.ApprovalExpired:
		return fmt.Errorf("approval %s expired at %s: %w", a.ID, a.ExpiresAt.Format(time.RFC3339), ErrExpired)
	default:
		return fmt.Errorf("approval %s is %s: %w", a.ID, a.State, ErrAlreadyDecided)
	}
	now := q.opts.Now()
	if !now.Before(a.ExpiresAt) {
		q.settle(ctx, a, store.ApprovalExpired, "no decision before "+a.ExpiresAt.UTC().Format(time.RFC3339), EventApprovalExpired)
		return fmt.Errorf("approval %s expired at %s: %w", a.ID, a.ExpiresAt.Format(time.RFC3339), ErrExpired)
	}
	if reason := q.staleReason(ctx, a); reason != "" {
		q.settle(ctx, a, store.ApprovalVoided, reason, EventApprovalVoided)
		return fmt.Errorf("approval %s was voided (%s): %w", a.ID, reason, ErrAlreadyDecided)
	}
	return nil
}

// staleReason says why an approval no longer matches what would be
// promoted: the run's candidate or the policy revision changed.
func (q *Queue) staleReason(ctx context.Context, a store.Approval) string {
	if q.opts.PolicyRevision != nil {
		if rev := q.opts.PolicyRevision(); rev != "" && rev != a.PolicyRevision {
			return fmt.Sprintf("policy revision changed from %s to %s", short(a.PolicyRevision), short(rev))
		}
	}
	run, err := q.opts.Store.RunGet(ctx, a.RunID)
	if reason := runEnded(run, err); reason != "" || err != nil {
		return reason
	}
	if run.Candidate.Digest != a.CandidateDigest {
		return fmt.Sprintf("candidate changed from %s to %s", short(a.CandidateDigest), short(run.Candidate.Digest))
	}
	return ""
}

func (q *Queue) checkVoter(ctx context.Context, a store.Approval, by auth.Principal, decision string) error {
	refuse := func(err error, why string) error {
		q.record(ctx, EventApprovalRefused, a.RunID, by.Subject, approvalEvent(a, map[string]any{"decision": decision, "why": why}))
		q.opts.Logger.Warn("approval vote refused", "run", a.RunID, "approval", a.ID, "reviewer", by.Subject, "why", why)
		return fmt.Errorf("%s %s on approval %s: %w", by.Subject, decision, a.ID, err)
	}
	if strings.TrimSpace(by.Subject) == "" {
		return refuse(ErrNotAllowed, "no reviewer identity")
	}
	if decision == "approve" && (sameSubject(by.Subject, a.Requester) || isAuthor(by.Subject, a.CommitAuthor)) {
		return refuse(ErrSelfApproval, "requester or commit author")
	}
	if len(a.Groups) > 0 && !slices.ContainsFunc(by.Groups, func(g string) bool { return slices.Contains(a.Groups, g) }) {
		return refuse(ErrNotAllowed, fmt.Sprintf("not in any of the groups %s", strings.Join(a.Groups, ", ")))
	}
	return nil
}

// ExpireDue expires every pending approval past its deadline, voids the
// pending ones whose run ended (a cancelled run takes its approval with
// it), and returns how many it settled.
func (q *Queue) ExpireDue(ctx context.Context) (int, error) {
	pending, err := q.opts.Store.ApprovalList(ctx, store.ApprovalListParams{States: []store.ApprovalState{store.ApprovalPending}})
	if err != nil {
		return 0, fmt.Errorf("list pending approvals: %w", err)
	}
	n := 0
	for _, a := range pending {
		if q.settleLapsed(ctx, a).State != store.ApprovalPending {
			n++
		}
	}
	return n, nil
}

// VoidStale voids the run's pending approvals bound to another candidate
// digest or policy revision than the ones given; it returns how many.
func (q *Queue) VoidStale(ctx context.Context, runID, candidateDigest, policyRevision string) (int, error) {
	pending, err := q.opts.Store.ApprovalList(ctx, store.ApprovalListParams{RunID: runID, States: []store.ApprovalState{store.ApprovalPending}})
	if err != nil {
		return 0, fmt.Errorf("list pending approvals of run %s: %w", runID, err)
	}
	n := 0
	for _, a := range pending {
		var reason string
		switch {
		case a.CandidateDigest != candidateDigest:
			reason = fmt.Sprintf("candidate changed from %s to %s", short(a.CandidateDigest), short(candidateDigest))
		case a.PolicyRevision != policyRevision:
			reason = fmt.Sprintf("policy revision changed from %s to %s", short(a.PolicyRevision), short(policyRevision))
		default:
			continue
		}
		if q.settle(ctx, a, store.ApprovalVoided, reason, EventApprovalVoided) {
			n++
		}
	}
	return n, nil
}

// settle moves a pending approval to a final state without a vote. It
// reports whether this call made the change (false when someone else
// decided it first).
func (q *Queue) settle(ctx context.Context, a store.Approval, state store.ApprovalState, reason, event string) bool {
	for attempt := 0; attempt < maxCASAttempts; attempt++ {
		updated, err := q.opts.Store.ApprovalDecide(ctx, store.ApprovalDecideParams{
			ID: a.ID, ExpectVersion: a.Version, State: state, Votes: a.Votes, Reason: reason, DecidedAt: q.opts.Now().UTC(),
		})
		if err == nil {
			q.record(ctx, event, updated.RunID, "modelgate", approvalEvent(updated, nil))
			q.opts.Logger.Info("approval "+string(state), "run", updated.RunID, "approval", updated.ID, "reason", reason)
			q.decided(ctx, updated)
			return true
		}
		if !errors.Is(err, store.ErrConflict) {
			q.opts.Logger.Error("settle approval", "approval", a.ID, "state", state, "err", err)
			return false
		}
		if a, err = q.opts.Store.ApprovalGet(ctx, a.ID); err != nil || a.State != store.ApprovalPending {
			return false
		}
	}
	return false
}

func (q *Queue) decided(ctx context.Context, a store.Approval) {
	if a.State == store.ApprovalPending || q.opts.OnDecided == nil {
		return
	}
	q.opts.OnDecided(ctx, a)
}

func (q *Queue) record(ctx context.Context, typ, runID, actor string, data map[string]any) {
	if q.opts.Recorder == nil {
		return
	}
	if err := q.opts.Recorder.Record(ctx, typ, runID, actor, data); err != nil {
		q.opts.Logger.Error("audit record failed", "type", typ, "run", runID, "err", err)
	}
}

func approvalEvent(a store.Approval, extra map[string]any) map[string]any {
	m := map[string]any{
		"approval_id":      a.ID,
		"decision_id":      a.DecisionID,
		"candidate_digest": a.CandidateDigest,
		"policy_revision":  a.PolicyRevision,
		"state":            string(a.State),
		"approvals":        distinctApprovers(a.Votes),
		"min":              a.Min,
	}
	if a.Reason != "" {
		m["reason"] = a.Reason
	}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

func hasApproved(votes []store.Vote, subject string) bool {
	return slices.ContainsFunc(votes, func(v store.Vote) bool {
		return v.Decision == "approve" && sameSubject(v.Reviewer, subject)
	})
}

// distinctApprovers counts the different people who approved.
func distinctApprovers(votes []store.Vote) int {
	seen := map[string]bool{}
	for _, v := range votes {
		if v.Decision == "approve" {
			seen[strings.ToLower(strings.TrimSpace(v.Reviewer))] = true
		}
	}
	return len(seen)
}

func sameSubject(a, b string) bool {
	a, b = strings.TrimSpace(a), strings.TrimSpace(b)
	return a != "" && strings.EqualFold(a, b)
}

// isAuthor matches a subject against a commit author written as a login,
// an e-mail address or "Name <email>".
func isAuthor(subject, author string) bool {
	author = strings.TrimSpace(author)
	if author == "" {
		return false
	}
	if sameSubject(subject, author) {
		return true
	}
	email := author
	if i, j := strings.LastIndex(author, "<"), strings.LastIndex(author, ">"); i >= 0 && j > i {
		email = author[i+1 : j]
		if sameSubject(subject, strings.TrimSpace(author[:i])) {
			return true
		}
	}
	if sameSubject(subject, email) {
		return true
	}
	if at := strings.Index(email, "@"); at > 0 && sameSubject(subject, email[:at]) {
		return true
	}
	return false
}

func short(s string) string {
	s = strings.TrimPrefix(s, "sha256:")
	if len(s) > 12 {
		return s[:12]
	}
	if s == "" {
		return "(none)"
	}
	return s
}

// ErrorStatus maps the queue's errors to an HTTP status and an error code
// for the API's {"error":{"code","message"}} body; ok is false for errors
// it does not know (the API answers those with 500).
func ErrorStatus(err error) (status int, code string, ok bool) {
	switch {
	case errors.Is(err, ErrSelfApproval):
		return 403, "self_approval", true
	case errors.Is(err, ErrNotAllowed):
		return 403, "not_allowed", true
	case errors.Is(err, ErrAlreadyDecided):
		return 409, "already_decided", true
	case errors.Is(err, ErrExpired):
		return 410, "expired", true
	case errors.Is(err, ErrBadRequest):
		return 400, "bad_request", true
	case errors.Is(err, store.ErrNotFound):
		return 404, "not_found", true
	}
	return 0, "", false
}
