package coordinator_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/charmbracelet/log"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/agents"
	"github.com/modelgate/modelgate/coordinator"
	"github.com/modelgate/modelgate/internal/audit/audittest"
	"github.com/modelgate/modelgate/internal/store"
	"github.com/modelgate/modelgate/internal/store/redis"
	"github.com/modelgate/modelgate/internal/store/sqlite"
)

// sharedStores opens two handles on one store per driver, as two servers
// would: sqlite (two connections on one file) and Redis when
// MODELGATE_TEST_REDIS names one (required in CI).
func sharedStores(t *testing.T) map[string][2]store.Store {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "modelgate.db")
	var sq [2]store.Store
	for i := range sq {
		s, err := sqlite.Open(ctx, sqlite.Options{Path: path})
		require.NoError(t, err)
		t.Cleanup(func() { s.Close() })
		sq[i] = s
	}
	out := map[string][2]store.Store{"sqlite": sq}
	u := os.Getenv("MODELGATE_TEST_REDIS")
	if u == "" && os.Getenv("MODELGATE_CI") == "1" {
		t.Fatal("MODELGATE_TEST_REDIS is not set but MODELGATE_CI=1")
	}
	if u != "" {
		pfx := "mgtest:" + uuid.NewString() + ":"
		var rs [2]store.Store
		for i := range rs {
			s, err := redis.Open(ctx, redis.Options{URL: u, Prefix: pfx})
			require.NoError(t, err)
			t.Cleanup(func() { _ = s.DeleteAll(context.Background()); s.Close() })
			rs[i] = s
		}
		out["redis"] = rs
	}
	return out
}

func newReplica(t *testing.T, st store.Store, dir, owner string, as map[string]agents.Agent) *coordinator.Coordinator {
	t.Helper()
	c, err := coordinator.New(coordinator.Options{Store: st, Recorder: &audittest.Recorder{}, Agents: as, Decider: deciderFunc(allow),
		DataDir: dir, Workers: 4, Logger: log.NewWithOptions(os.Stderr, log.Options{Level: log.ErrorLevel}),
		Ownership: coordinator.OwnershipOptions{Owner: owner, TTL: 300 * time.Millisecond, ResumeEvery: 100 * time.Millisecond}})
	require.NoError(t, err)
	return c
}

// Two servers on one store, every run submitted to one and woken on
// both: each stage of each run runs exactly once, and every transition
// carries a fencing token.
func TestTwoServersNeverDriveOneRun(t *testing.T) {
	t.Parallel()
	for name, sts := range sharedStores(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			shared := map[string]*funcAgent{}
			as := map[string]agents.Agent{}
			for _, s := range []string{"validate", "test", "scan", "evaluate"} {
				a := &funcAgent{name: s + "-agent", fn: func(ctx context.Context, t agents.Task, _ int64) (agents.Report, error) {
					time.Sleep(20 * time.Millisecond) // long enough for the other server to try
					return agents.Report{Verdict: agents.Pass}, nil
				}}
				shared[s], as[s] = a, a
			}
			ctx, cancel := context.WithCancel(context.Background())
			t.Cleanup(cancel)
			var cs [2]*coordinator.Coordinator
			for i := range cs {
				cs[i] = newReplica(t, sts[i], dir, fmt.Sprintf("srv-%d", i), as)
				require.NoError(t, cs[i].Start(ctx))
				t.Cleanup(cs[i].Stop)
			}
			require.NoError(t, os.WriteFile(filepath.Join(dir, "model.json"), []byte(`{"learner":{}}`), 0o644))
			cfg := []byte("model: fraud\ntask: binary\ncandidate: {artifact: model.json}\n")
			const n = 12
			ids := make([]string, n)
			for i := range ids {
				r, _, err := cs[i%2].Submit(ctx, coordinator.SubmitParams{Config: cfg, File: "modelgate.yaml", BaseDir: dir, Requester: "ci"})
				require.NoError(t, err)
				ids[i] = r.ID
				cs[(i+1)%2].Wake(r.ID) // the other server hears of it too
			}
			wctx, wcancel := context.WithTimeout(ctx, 60*time.Second)
			defer wcancel()
			for _, id := range ids {
				r, err := cs[0].Wait(wctx, id, false)
				require.NoError(t, err)
				require.Equal(t, store.RunSucceeded, r.State, r.Error)
				f, err := sts[0].RunFence(ctx, id)
				require.NoError(t, err)
				require.Positive(t, f, "the last transition was fenced")
			}
			for s, a := range shared {
				a.mu.Lock()
				for _, id := range ids {
					require.Equal(t, 1, a.runs[id], "stage %s of run %s ran %d times", s, id, a.runs[id])
				}
				a.mu.Unlock()
			}
		})
	}
}

// A run whose lease another server holds is left alone until that lease
// runs out, then taken over; the old holder's late write is refused.
func TestOrphanedRunIsTakenOverAndTheLateWriterRefused(t *testing.T) {
	t.Parallel()
	for name, sts := range sharedStores(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithCancel(context.Background())
			t.Cleanup(cancel)
			dir := t.TempDir()
			run, _, err := sts[0].RunCreate(ctx, store.RunCreateParams{Run: store.Run{ID: uuid.NewString(), Model: "fraud", Environment: "production",
				State: store.RunQueued, Trigger: "api", Requester: "ci", Config: []byte("model: fraud\ntask: binary\ncandidate: {endpoint: \"http://127.0.0.1:1/v2/models/m\"}\n"), BaseDir: dir,
				Candidate: store.Candidate{Version: "v1", Endpoint: "http://127.0.0.1:1/v2/models/m"}}})
			require.NoError(t, err)
			// a server that took the run and then died (its lease runs out)
			dead, err := sts[1].LeaseAcquire(ctx, store.LeaseAcquireParams{Key: "run/" + run.ID, Owner: "dead-server", TTL: 400 * time.Millisecond})
			require.NoError(t, err)
			a := &funcAgent{name: "validate-agent"}
			c := newReplica(t, sts[0], dir, "live-server", map[string]agents.Agent{"validate": a})
			start := time.Now()
			require.NoError(t, c.Start(ctx))
			t.Cleanup(c.Stop)
			time.Sleep(200 * time.Millisecond)
			got, err := sts[0].RunGet(ctx, run.ID)
			require.NoError(t, err)
			require.Equal(t, store.RunQueued, got.State, "not driven while another server's lease stands")

			wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
			defer wcancel()
			got, err = c.Wait(wctx, run.ID, false)
			require.NoError(t, err)
			require.Equal(t, store.RunSucceeded, got.State, got.Error)
			require.Less(t, time.Since(start), 3*time.Second, "taken over within about a lease")

			_, err = sts[1].RunTransitionFenced(ctx, store.RunTransitionFencedParams{
				RunTransitionParams: store.RunTransitionParams{ID: run.ID, To: store.RunFailed, Error: "late"}, Lease: dead})
			require.ErrorIs(t, err, store.ErrFenced)
			f, err := sts[0].RunFence(ctx, run.ID)
			require.NoError(t, err)
			require.Greater(t, f, dead.Token)
		})
	}
}
