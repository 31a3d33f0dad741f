package approval_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/internal/approval"
	"github.com/modelgate/modelgate/internal/audit/audittest"
	"github.com/modelgate/modelgate/internal/auth"
	"github.com/modelgate/modelgate/internal/oversight"
	"github.com/modelgate/modelgate/internal/store"
	"github.com/modelgate/modelgate/internal/store/sqlite"
)

// clock is a settable time source so expiry can be tested without waiting.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type queueBundle struct {
	st      store.Store
	q       *approval.Queue
	rec     *audittest.Recorder
	clock   *clock
	mu      sync.Mutex
	decided []store.Approval
	rev     string
}

func (b *queueBundle) decidedStates() []store.ApprovalState {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []store.ApprovalState
	for _, a := range b.decided {
		out = append(out, a.State)
	}
	return out
}

func setupQueue(t *testing.T) *queueBundle {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(t.TempDir(), "modelgate.db")})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	b := &queueBundle{st: st, rec: &audittest.Recorder{}, clock: &clock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}, rev: "sha256:rev1"}
	b.q = approval.NewQueue(approval.QueueOptions{
		Store: st, Recorder: b.rec, Now: b.clock.Now,
		OnDecided: func(_ context.Context, a store.Approval) {
			b.mu.Lock()
			defer b.mu.Unlock()
			b.decided = append(b.decided, a)
		},
		PolicyRevision: func() string { b.mu.Lock(); defer b.mu.Unlock(); return b.rev },
	})
	return b
}

// request creates a run awaiting approval and its approval request.
func (b *queueBundle) request(t *testing.T, min int, groups ...string) (store.Run, store.Approval) {
	t.Helper()
	ctx := context.Background()
	run, _, err := b.st.RunCreate(ctx, store.RunCreateParams{Run: store.Run{
		Model: "fraud-detector", Environment: "production", State: store.RunQueued, Trigger: "api",
		Requester: "ci-bot", CommitAuthor: "Dana Dev <dana@example.com>",
		Candidate: store.Candidate{Version: "v2", Digest: digest},
	}})
	require.NoError(t, err)
	if groups == nil {
		groups = []string{"ml-reviewers"}
	}
	a, err := b.q.Request(ctx, approval.ApprovalRequest{Run: run, Decision: oversight.Decision{
		ID: "dec-1", Allow: true, RequireApproval: true, Risk: "high", PolicyRevision: b.rev,
		Approvers: oversight.Approvers{Groups: groups, Min: min}, Reasons: []string{"production environment"},
	}})
	require.NoError(t, err)
	return run, a
}

const digest = "sha256:1111111111111111111111111111111111111111111111111111111111111111"

var (
	rita  = auth.Principal{Subject: "rita", Roles: []string{"reviewer"}, Groups: []string{"ml-reviewers"}}
	raj   = auth.Principal{Subject: "raj", Roles: []string{"reviewer"}, Groups: []string{"ml-reviewers", "sre"}}
	otto  = auth.Principal{Subject: "otto", Roles: []string{"reviewer"}, Groups: []string{"sre"}}
	ciBot = auth.Principal{Subject: "ci-bot", Roles: []string{"reviewer"}, Groups: []string{"ml-reviewers"}}
	dana  = auth.Principal{Subject: "dana", Roles: []string{"reviewer"}, Groups: []string{"ml-reviewers"}}
)

func TestQueueRequestBindsTheDecision(t *testing.T) {
	t.Parallel()
	b := setupQueue(t)
	run, a := b.request(t, 2)
	require.Equal(t, store.ApprovalPending, a.State)
	require.Equal(t, run.ID, a.RunID)
	require.Equal(t, digest, a.CandidateDigest)
	require.Equal(t, "sha256:rev1", a.PolicyRevision)
	require.Equal(t, "dec-1", a.DecisionID)
	require.Equal(t, 2, a.Min)
	require.Equal(t, b.clock.Now().Add(72*time.Hour), a.ExpiresAt)
	require.Len(t, b.rec.OfType(approval.EventApprovalRequested), 1)

	bad := []struct {
		name string
		d    oversight.Decision
		run  store.Run
	}{
		{"denied decision", oversight.Decision{ID: "d", Allow: false, RequireApproval: true, PolicyRevision: "r"}, run},
		{"no approval needed", oversight.Decision{ID: "d", Allow: true, PolicyRevision: "r"}, run},
		{"no digest", oversight.Decision{ID: "d", Allow: true, RequireApproval: true, PolicyRevision: "r"}, store.Run{ID: "x"}},
		{"no decision id", oversight.Decision{Allow: true, RequireApproval: true, PolicyRevision: "r"}, run},
	}
	for _, tc := range bad {
		_, err := b.q.Request(context.Background(), approval.ApprovalRequest{Run: tc.run, Decision: tc.d})
		require.ErrorIs(t, err, approval.ErrBadRequest, tc.name)
	}
}

func TestQueueRules(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name  string
		min   int
		steps func(t *testing.T, b *queueBundle, a store.Approval)
	}{
		{"one approval grants min 1", 1, func(t *testing.T, b *queueBundle, a store.Approval) {
			got, err := b.q.Approve(ctx, a.ID, rita, "looks good")
			require.NoError(t, err)
			require.Equal(t, store.ApprovalApproved, got.State)
			require.Equal(t, "looks good", got.Votes[0].Comment)
			require.Equal(t, []store.ApprovalState{store.ApprovalApproved}, b.decidedStates())
			require.Len(t, b.rec.OfType(approval.EventApprovalApproved), 1)
		}},
		{"min 2 needs two distinct people", 2, func(t *testing.T, b *queueBundle, a store.Approval) {
			got, err := b.q.Approve(ctx, a.ID, rita, "")
			require.NoError(t, err)
			require.Equal(t, store.ApprovalPending, got.State)
			got, err = b.q.Approve(ctx, a.ID, rita, "again")
			require.NoError(t, err)
			require.Equal(t, store.ApprovalPending, got.State, "the same person counts once")
			require.Len(t, got.Votes, 1)
			got, err = b.q.Approve(ctx, a.ID, raj, "")
			require.NoError(t, err)
			require.Equal(t, store.ApprovalApproved, got.State)
		}},
		{"requester may not approve", 1, func(t *testing.T, b *queueBundle, a store.Approval) {
			_, err := b.q.Approve(ctx, a.ID, ciBot, "")
			require.ErrorIs(t, err, approval.ErrSelfApproval)
			require.Len(t, b.rec.OfType(approval.EventApprovalRefused), 1)
		}},
		{"commit author may not approve", 1, func(t *testing.T, b *queueBundle, a store.Approval) {
			_, err := b.q.Approve(ctx, a.ID, dana, "")
			require.ErrorIs(t, err, approval.ErrSelfApproval)
			got, err := b.q.Get(ctx, a.ID)
			require.NoError(t, err)
			require.Equal(t, store.ApprovalPending, got.State)
		}},
		{"outside the allowed groups is refused", 1, func(t *testing.T, b *queueBundle, a store.Approval) {
			_, err := b.q.Approve(ctx, a.ID, otto, "")
			require.ErrorIs(t, err, approval.ErrNotAllowed)
			_, err = b.q.Reject(ctx, a.ID, otto, "")
			require.ErrorIs(t, err, approval.ErrNotAllowed)
			_, err = b.q.Approve(ctx, a.ID, auth.Principal{Groups: []string{"ml-reviewers"}}, "")
			require.ErrorIs(t, err, approval.ErrNotAllowed)
		}},
		{"one rejection rejects", 2, func(t *testing.T, b *queueBundle, a store.Approval) {
			_, err := b.q.Approve(ctx, a.ID, rita, "")
			require.NoError(t, err)
			got, err := b.q.Reject(ctx, a.ID, raj, "recall on small merchants dropped")
			require.NoError(t, err)
			require.Equal(t, store.ApprovalRejected, got.State)
			_, err = b.q.Approve(ctx, a.ID, raj, "")
			require.ErrorIs(t, err, approval.ErrAlreadyDecided)
			require.Len(t, b.rec.OfType(approval.EventApprovalRejected), 1)
		}},
		{"decided approval cannot be decided again", 1, func(t *testing.T, b *queueBundle, a store.Approval) {
			_, err := b.q.Approve(ctx, a.ID, rita, "")
			require.NoError(t, err)
			_, err = b.q.Reject(ctx, a.ID, raj, "")
			require.ErrorIs(t, err, approval.ErrAlreadyDecided)
			again, err := b.q.Approve(ctx, a.ID, rita, "")
			require.NoError(t, err, "replaying a vote that counted is not an error")
			require.Equal(t, store.ApprovalApproved, again.State)
		}},
		{"unknown approval", 1, func(t *testing.T, b *queueBundle, a store.Approval) {
			_, err := b.q.Approve(ctx, "no-such-id", rita, "")
			require.ErrorIs(t, err, store.ErrNotFound)
		}},
		{"expired on vote", 1, func(t *testing.T, b *queueBundle, a store.Approval) {
			b.clock.Add(72 * time.Hour)
			_, err := b.q.Approve(ctx, a.ID, rita, "")
			require.ErrorIs(t, err, approval.ErrExpired)
			got, err := b.q.Get(ctx, a.ID)
			require.NoError(t, err)
			require.Equal(t, store.ApprovalExpired, got.State)
			_, err = b.q.Approve(ctx, a.ID, rita, "")
			require.ErrorIs(t, err, approval.ErrExpired)
			require.Equal(t, []store.ApprovalState{store.ApprovalExpired}, b.decidedStates())
		}},
		{"ExpireDue expires only overdue ones", 1, func(t *testing.T, b *queueBundle, a store.Approval) {
			b.clock.Add(71 * time.Hour)
			n, err := b.q.ExpireDue(ctx)
			require.NoError(t, err)
			require.Zero(t, n)
			b.clock.Add(time.Hour)
			n, err = b.q.ExpireDue(ctx)
			require.NoError(t, err)
			require.Equal(t, 1, n)
			require.Len(t, b.rec.OfType(approval.EventApprovalExpired), 1)
		}},
		{"changed candidate voids", 1, func(t *testing.T, b *queueBundle, a store.Approval) {
			n, err := b.q.VoidStale(ctx, a.RunID, digest, a.PolicyRevision)
			require.NoError(t, err)
			require.Zero(t, n, "nothing changed")
			n, err = b.q.VoidStale(ctx, a.RunID, "sha256:ffff", a.PolicyRevision)
			require.NoError(t, err)
			require.Equal(t, 1, n)
			_, err = b.q.Approve(ctx, a.ID, rita, "")
			require.ErrorIs(t, err, approval.ErrAlreadyDecided)
			require.Len(t, b.rec.OfType(approval.EventApprovalVoided), 1)
		}},
		{"changed policy revision voids", 1, func(t *testing.T, b *queueBundle, a store.Approval) {
			n, err := b.q.VoidStale(ctx, a.RunID, digest, "sha256:rev2")
			require.NoError(t, err)
			require.Equal(t, 1, n)
		}},
		{"revision changed under a vote voids", 1, func(t *testing.T, b *queueBundle, a store.Approval) {
			b.mu.Lock()
			b.rev = "sha256:rev2"
			b.mu.Unlock()
			_, err := b.q.Approve(ctx, a.ID, rita, "")
			require.ErrorIs(t, err, approval.ErrAlreadyDecided)
			got, err := b.q.Get(ctx, a.ID)
			require.NoError(t, err)
			require.Equal(t, store.ApprovalVoided, got.State)
			require.Contains(t, got.Reason, "policy revision changed")
		}},
		{"candidate changed under a vote voids", 1, func(t *testing.T, b *queueBundle, a store.Approval) {
			other := "sha256:" + "9999999999999999999999999999999999999999999999999999999999999999"
			_, err := b.st.RunUpdate(ctx, store.RunUpdateParams{ID: a.RunID, Candidate: &store.Candidate{Version: "v3", Digest: other}})
			require.NoError(t, err)
			_, err = b.q.Approve(ctx, a.ID, rita, "")
			require.ErrorIs(t, err, approval.ErrAlreadyDecided)
			got, err := b.q.Get(ctx, a.ID)
			require.NoError(t, err)
			require.Equal(t, store.ApprovalVoided, got.State)
			require.Contains(t, got.Reason, "candidate changed")
		}},
		{"a cancelled run ends its approval", 1, func(t *testing.T, b *queueBundle, a store.Approval) {
			_, err := b.st.RunTransition(ctx, store.RunTransitionParams{ID: a.RunID, To: store.RunCancelled})
			require.NoError(t, err)
			_, err = b.q.Approve(ctx, a.ID, rita, "")
			require.ErrorIs(t, err, approval.ErrAlreadyDecided, "nothing would act on the approval of an ended run")
			got, err := b.q.Get(ctx, a.ID)
			require.NoError(t, err)
			require.Equal(t, store.ApprovalVoided, got.State)
			require.Equal(t, "its run ended (cancelled)", got.Reason)
			require.Len(t, b.rec.OfType(approval.EventApprovalVoided), 1)
		}},
		{"an ended run's approval is ended when listed", 1, func(t *testing.T, b *queueBundle, a store.Approval) {
			_, err := b.st.RunTransition(ctx, store.RunTransitionParams{ID: a.RunID, To: store.RunFailed, Error: "boom"})
			require.NoError(t, err)
			pending, err := b.q.List(ctx, store.ApprovalListParams{States: []store.ApprovalState{store.ApprovalPending}})
			require.NoError(t, err)
			require.Empty(t, pending, "an approval of a failed run is not pending")
			all, err := b.q.List(ctx, store.ApprovalListParams{})
			require.NoError(t, err)
			require.Len(t, all, 1)
			require.Equal(t, store.ApprovalVoided, all[0].State)
			require.Contains(t, all[0].Reason, "its run ended (failed)")
		}},
		{"ExpireDue ends the approvals of ended runs", 1, func(t *testing.T, b *queueBundle, a store.Approval) {
			_, err := b.st.RunTransition(ctx, store.RunTransitionParams{ID: a.RunID, To: store.RunCancelled})
			require.NoError(t, err)
			n, err := b.q.ExpireDue(ctx)
			require.NoError(t, err)
			require.Equal(t, 1, n)
			got, err := b.st.ApprovalGet(ctx, a.ID)
			require.NoError(t, err)
			require.Equal(t, store.ApprovalVoided, got.State)
		}},
		{"expired shows as expired when listed", 1, func(t *testing.T, b *queueBundle, a store.Approval) {
			b.clock.Add(72 * time.Hour)
			all, err := b.q.List(ctx, store.ApprovalListParams{})
			require.NoError(t, err)
			require.Len(t, all, 1)
			require.Equal(t, store.ApprovalExpired, all[0].State, "expiry applies when listing, not only when touched")
			pending, err := b.q.List(ctx, store.ApprovalListParams{States: []store.ApprovalState{store.ApprovalPending}})
			require.NoError(t, err)
			require.Empty(t, pending)
			stored, err := b.st.ApprovalGet(ctx, a.ID)
			require.NoError(t, err)
			require.Equal(t, store.ApprovalExpired, stored.State, "and it is stored so")
			require.Len(t, b.rec.OfType(approval.EventApprovalExpired), 1)
			require.Equal(t, []store.ApprovalState{store.ApprovalExpired}, b.decidedStates())
		}},
		{"expired shows as expired when read", 1, func(t *testing.T, b *queueBundle, a store.Approval) {
			b.clock.Add(73 * time.Hour)
			got, err := b.q.Get(ctx, a.ID)
			require.NoError(t, err)
			require.Equal(t, store.ApprovalExpired, got.State)
		}},
		{"oversized comment is refused", 1, func(t *testing.T, b *queueBundle, a store.Approval) {
			_, err := b.q.Approve(ctx, a.ID, rita, string(make([]byte, 5000)))
			require.ErrorIs(t, err, approval.ErrBadRequest)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setupQueue(t)
			_, a := b.request(t, tc.min)
			tc.steps(t, b, a)
		})
	}
}

func TestQueueConcurrentSamePersonCountsOnce(t *testing.T) {
	t.Parallel()
	b := setupQueue(t)
	_, a := b.request(t, 2)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			_, err := b.q.Approve(context.Background(), a.ID, rita, "lgtm")
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	got, err := b.q.Get(context.Background(), a.ID)
	require.NoError(t, err)
	require.Equal(t, store.ApprovalPending, got.State)
	require.Len(t, got.Votes, 1)
	require.Len(t, b.rec.OfType(approval.EventApprovalVote), 1)
}

func TestQueueApproveRacingRejectHasOneWinner(t *testing.T) {
	t.Parallel()
	for range 5 {
		b := setupQueue(t)
		_, a := b.request(t, 1)
		var wg sync.WaitGroup
		var approveErr, rejectErr error
		start := make(chan struct{})
		wg.Go(func() { <-start; _, approveErr = b.q.Approve(context.Background(), a.ID, rita, "") })
		wg.Go(func() { <-start; _, rejectErr = b.q.Reject(context.Background(), a.ID, raj, "") })
		close(start)
		wg.Wait()
		got, err := b.q.Get(context.Background(), a.ID)
		require.NoError(t, err)
		switch got.State {
		case store.ApprovalApproved:
			require.NoError(t, approveErr)
			require.ErrorIs(t, rejectErr, approval.ErrAlreadyDecided)
		case store.ApprovalRejected:
			require.NoError(t, rejectErr)
			require.ErrorIs(t, approveErr, approval.ErrAlreadyDecided)
		default:
			t.Fatalf("state %s after approve raced reject", got.State)
		}
		require.Len(t, got.Votes, 1)
		require.Len(t, b.decidedStates(), 1, "OnDecided fires once")
	}
}

func TestErrorStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err    error
		status int
		code   string
	}{
		{approval.ErrSelfApproval, 403, "self_approval"},
		{approval.ErrNotAllowed, 403, "not_allowed"},
		{approval.ErrAlreadyDecided, 409, "already_decided"},
		{approval.ErrExpired, 410, "expired"},
		{store.ErrNotFound, 404, "not_found"},
	}
	for _, tc := range tests {
		st, code, ok := approval.ErrorStatus(errors.Join(errors.New("context"), tc.err))
		require.True(t, ok)
		require.Equal(t, tc.status, st)
		require.Equal(t, tc.code, code)
	}
	_, _, ok := approval.ErrorStatus(errors.New("disk full"))
	require.False(t, ok)
}
