package lease_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/internal/lease"
	"github.com/modelgate/modelgate/internal/store"
	"github.com/modelgate/modelgate/internal/store/redis"
	"github.com/modelgate/modelgate/internal/store/sqlite"
)

// drivers returns a fresh store of each driver the machine has: sqlite
// always, Redis when MODELGATE_TEST_REDIS names one (required in CI).
func drivers(t *testing.T) map[string]func(t *testing.T) store.Store {
	out := map[string]func(t *testing.T) store.Store{
		"sqlite": func(t *testing.T) store.Store {
			s, err := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(t.TempDir(), "m.db")})
			require.NoError(t, err)
			t.Cleanup(func() { _ = s.Close() })
			return s
		},
	}
	u := os.Getenv("MODELGATE_TEST_REDIS")
	if u == "" && os.Getenv("MODELGATE_CI") == "1" {
		t.Fatal("MODELGATE_TEST_REDIS is not set but MODELGATE_CI=1")
	}
	if u != "" {
		out["redis"] = func(t *testing.T) store.Store {
			s, err := redis.Open(context.Background(), redis.Options{URL: u, Prefix: "mgtest:" + uuid.NewString() + ":"})
			require.NoError(t, err)
			t.Cleanup(func() { _ = s.DeleteAll(context.Background()); _ = s.Close() })
			return s
		}
	}
	return out
}

func TestHoldRenewsAndStopsWhenLost(t *testing.T) {
	t.Parallel()
	for name, open := range drivers(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			st := open(t)
			ctx := context.Background()
			h, err := lease.Acquire(ctx, st, lease.HoldParams{Key: "run/a", Owner: "srv-1", TTL: 150 * time.Millisecond})
			require.NoError(t, err)
			time.Sleep(500 * time.Millisecond) // three TTLs: only renewal keeps it
			require.NoError(t, h.Context().Err(), "renewed in time")
			_, err = st.LeaseAcquire(ctx, store.LeaseAcquireParams{Key: "run/a", Owner: "srv-2", TTL: time.Second})
			require.ErrorIs(t, err, store.ErrConflict)

			// Another owner takes the key behind the holder's back (as after
			// a pause longer than the TTL): the holder's context must end.
			require.NoError(t, st.LeaseRelease(ctx, h.Lease()))
			_, err = st.LeaseAcquire(ctx, store.LeaseAcquireParams{Key: "run/a", Owner: "srv-2", TTL: time.Minute})
			require.NoError(t, err)
			select {
			case <-h.Context().Done():
				require.True(t, errors.Is(context.Cause(h.Context()), lease.ErrLost), "cause %v", context.Cause(h.Context()))
			case <-time.After(time.Second):
				t.Fatal("the holder did not notice it lost the lease")
			}
			require.NoError(t, h.Release(ctx))
			got, err := st.LeaseGet(ctx, "run/a")
			require.NoError(t, err)
			require.Equal(t, "srv-2", got.Owner, "a lost holder's release does not end the new owner's lease")
		})
	}
}

func TestOneLeaderAndTakeover(t *testing.T) {
	t.Parallel()
	for name, open := range drivers(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			st := open(t)
			const ttl = 300 * time.Millisecond
			type replica struct {
				l      *lease.Leader
				cancel context.CancelFunc
				done   chan struct{}
			}
			start := func(owner string) replica {
				l, err := lease.NewLeader(lease.LeaderOptions{Store: st, Owner: owner, TTL: ttl})
				require.NoError(t, err)
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan struct{})
				go func() { defer close(done); l.Run(ctx) }()
				return replica{l, cancel, done}
			}
			rs := []replica{start("a"), start("b"), start("c")}
			changes := rs[1].l.Changes()
			waitFor := func(what string, f func() bool) {
				t.Helper()
				deadline := time.Now().Add(3 * ttl)
				for !f() {
					require.True(t, time.Now().Before(deadline), "timed out waiting for %s", what)
					time.Sleep(10 * time.Millisecond)
				}
			}
			leaders := func() (n int, who int) {
				for i, r := range rs {
					if r.l.IsLeader() {
						n, who = n+1, i
					}
				}
				return n, who
			}
			waitFor("a leader", func() bool { n, _ := leaders(); return n == 1 })
			for range 20 { // never two at once while they campaign
				n, _ := leaders()
				require.LessOrEqual(t, n, 1)
				time.Sleep(ttl / 10)
			}
			_, first := leaders()
			rs[first].cancel()
			<-rs[first].done
			require.False(t, rs[first].l.IsLeader())
			require.Error(t, rs[first].l.Context().Err())
			waitFor("a new leader", func() bool { n, w := leaders(); return n == 1 && w != first })
			_, second := leaders()
			require.NoError(t, rs[second].l.Context().Err())
			if second == 1 {
				require.True(t, <-changes)
			}
			for _, r := range rs {
				r.cancel()
				<-r.done
			}
		})
	}
}
