package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/internal/store"
)

// short is a lease that expires within a test; long one that does not.
const (
	short = 150 * time.Millisecond
	long  = time.Minute
)

// leaseTests: one live owner per key, tokens that only grow, and run
// writes refused once their lease is gone — the property that keeps a
// deposed coordinator from undoing its successor's work.
var leaseTests = []test{
	{"one of many racers takes a free key", func(ctx context.Context, t *testing.T, s store.Store) {
		errs := race(func(i int) error {
			_, err := s.LeaseAcquire(ctx, store.LeaseAcquireParams{Key: "run/x", Owner: fmt.Sprintf("srv-%d", i), TTL: long})
			return err
		})
		w := requireOneWinner(t, errs)
		l, err := s.LeaseGet(ctx, "run/x")
		require.NoError(t, err)
		require.Equal(t, fmt.Sprintf("srv-%d", w), l.Owner)
		require.Equal(t, int64(1), l.Token)
		require.WithinDuration(t, time.Now().Add(long), l.Until, 5*time.Second)
	}},
	{"the owner re-acquiring keeps its token; renew extends", func(ctx context.Context, t *testing.T, s store.Store) {
		a, err := s.LeaseAcquire(ctx, store.LeaseAcquireParams{Key: "k", Owner: "a", TTL: short})
		require.NoError(t, err)
		again, err := s.LeaseAcquire(ctx, store.LeaseAcquireParams{Key: "k", Owner: "a", TTL: long})
		require.NoError(t, err)
		require.Equal(t, a.Token, again.Token)
		time.Sleep(2 * short)
		r, err := s.LeaseRenew(ctx, again, long)
		require.NoError(t, err, "the long re-acquisition outlived the short first lease")
		require.Equal(t, a.Token, r.Token)
		_, err = s.LeaseAcquire(ctx, store.LeaseAcquireParams{Key: "k", Owner: "b", TTL: long})
		require.ErrorIs(t, err, store.ErrConflict)
	}},
	{"an expired lease goes to the next owner with a larger token", func(ctx context.Context, t *testing.T, s store.Store) {
		a, err := s.LeaseAcquire(ctx, store.LeaseAcquireParams{Key: "k", Owner: "a", TTL: short})
		require.NoError(t, err)
		time.Sleep(2 * short)
		_, err = s.LeaseGet(ctx, "k")
		require.ErrorIs(t, err, store.ErrNotFound, "an expired lease is not live")
		b, err := s.LeaseAcquire(ctx, store.LeaseAcquireParams{Key: "k", Owner: "b", TTL: long})
		require.NoError(t, err)
		require.Greater(t, b.Token, a.Token)
		_, err = s.LeaseRenew(ctx, a, long)
		require.ErrorIs(t, err, store.ErrFenced, "the deposed owner cannot renew")
		require.NoError(t, s.LeaseRelease(ctx, a), "releasing a lost lease is a no-op")
		got, err := s.LeaseGet(ctx, "k")
		require.NoError(t, err)
		require.Equal(t, b, store.Lease{Key: got.Key, Owner: got.Owner, Token: got.Token, Until: b.Until})
		// the same owner coming back after an expiry is a new owner: new token
		require.NoError(t, s.LeaseRelease(ctx, b))
		a2, err := s.LeaseAcquire(ctx, store.LeaseAcquireParams{Key: "k", Owner: "a", TTL: long})
		require.NoError(t, err)
		require.Greater(t, a2.Token, b.Token, "tokens survive a release")
	}},
	{"bad lease params are refused", func(ctx context.Context, t *testing.T, s store.Store) {
		for _, p := range []store.LeaseAcquireParams{
			{Owner: "a", TTL: long}, {Key: "k", TTL: long}, {Key: "k", Owner: "a"}, {Key: "k", Owner: "a", TTL: time.Microsecond},
		} {
			_, err := s.LeaseAcquire(ctx, p)
			require.Error(t, err, "%+v", p)
		}
		_, err := s.LeaseGet(ctx, "never")
		require.ErrorIs(t, err, store.ErrNotFound)
	}},
	{"a fenced transition stores its token; a deposed owner's is refused", func(ctx context.Context, t *testing.T, s store.Store) {
		mustCreateRun(ctx, t, s, "run-f")
		f, err := s.RunFence(ctx, "run-f")
		require.NoError(t, err)
		require.Zero(t, f)
		a, err := s.LeaseAcquire(ctx, store.LeaseAcquireParams{Key: "run/run-f", Owner: "a", TTL: short})
		require.NoError(t, err)
		r, err := s.RunTransitionFenced(ctx, store.RunTransitionFencedParams{
			RunTransitionParams: store.RunTransitionParams{ID: "run-f", From: []store.RunState{store.RunQueued}, To: store.RunRunning}, Lease: a})
		require.NoError(t, err)
		require.Equal(t, store.RunRunning, r.State)
		f, err = s.RunFence(ctx, "run-f")
		require.NoError(t, err)
		require.Equal(t, a.Token, f)
		require.NoError(t, s.StagePutFenced(ctx, store.Stage{RunID: "run-f", Name: "test", State: store.StageRunning, Attempt: 1}, a))

		time.Sleep(2 * short)
		// expired and not yet taken: still refused, the owner must renew in time
		_, err = s.RunTransitionFenced(ctx, store.RunTransitionFencedParams{
			RunTransitionParams: store.RunTransitionParams{ID: "run-f", To: store.RunFailed, Error: "late"}, Lease: a})
		require.ErrorIs(t, err, store.ErrFenced)
		b, err := s.LeaseAcquire(ctx, store.LeaseAcquireParams{Key: "run/run-f", Owner: "b", TTL: long})
		require.NoError(t, err)
		_, err = s.RunTransitionFenced(ctx, store.RunTransitionFencedParams{
			RunTransitionParams: store.RunTransitionParams{ID: "run-f", To: store.RunFailed, Error: "late"}, Lease: a})
		require.ErrorIs(t, err, store.ErrFenced)
		err = s.StagePutFenced(ctx, store.Stage{RunID: "run-f", Name: "test", State: store.StageFailed, Attempt: 1, Error: "late"}, a)
		require.ErrorIs(t, err, store.ErrFenced)

		got, err := s.RunGet(ctx, "run-f")
		require.NoError(t, err)
		require.Equal(t, store.RunRunning, got.State, "the late write changed nothing")
		require.Empty(t, got.Error)
		st, err := s.StageList(ctx, "run-f")
		require.NoError(t, err)
		require.Len(t, st, 1)
		require.Equal(t, store.StageRunning, st[0].State)

		r, err = s.RunTransitionFenced(ctx, store.RunTransitionFencedParams{
			RunTransitionParams: store.RunTransitionParams{ID: "run-f", From: []store.RunState{store.RunRunning}, To: store.RunSucceeded}, Lease: b})
		require.NoError(t, err)
		require.Equal(t, store.RunSucceeded, r.State)
		f, err = s.RunFence(ctx, "run-f")
		require.NoError(t, err)
		require.Equal(t, b.Token, f)
	}},
	{"fenced writes keep the state and existence checks", func(ctx context.Context, t *testing.T, s store.Store) {
		mustCreateRun(ctx, t, s, "run-g")
		l, err := s.LeaseAcquire(ctx, store.LeaseAcquireParams{Key: "run/run-g", Owner: "a", TTL: long})
		require.NoError(t, err)
		_, err = s.RunTransitionFenced(ctx, store.RunTransitionFencedParams{
			RunTransitionParams: store.RunTransitionParams{ID: "run-g", From: []store.RunState{store.RunRunning}, To: store.RunSucceeded}, Lease: l})
		require.ErrorIs(t, err, store.ErrConflict)
		_, err = s.RunTransitionFenced(ctx, store.RunTransitionFencedParams{
			RunTransitionParams: store.RunTransitionParams{ID: "nope", To: store.RunSucceeded}, Lease: l})
		require.ErrorIs(t, err, store.ErrNotFound)
		require.ErrorIs(t, s.StagePutFenced(ctx, store.Stage{RunID: "nope", Name: "x", State: store.StagePending}, l), store.ErrNotFound)
		_, err = s.RunFence(ctx, "nope")
		require.ErrorIs(t, err, store.ErrNotFound)
		errs := race(func(i int) error {
			_, err := s.RunTransitionFenced(ctx, store.RunTransitionFencedParams{
				RunTransitionParams: store.RunTransitionParams{ID: "run-g", From: []store.RunState{store.RunQueued}, To: store.RunRunning}, Lease: l})
			return err
		})
		requireOneWinner(t, errs)
	}},
}
