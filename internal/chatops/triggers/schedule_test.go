package triggers_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/charmbracelet/log"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/coordinator"
	"github.com/modelgate/modelgate/internal/audit/audittest"
	"github.com/modelgate/modelgate/internal/blob"
	"github.com/modelgate/modelgate/internal/chatops/triggers"
	"github.com/modelgate/modelgate/internal/config"
	"github.com/modelgate/modelgate/internal/store"
	"github.com/modelgate/modelgate/internal/store/redis"
	"github.com/modelgate/modelgate/internal/store/sqlite"
)

// clock is the scheduler's injectable clock. It starts near the real
// time on purpose: the store expires claims by its own clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Now().UTC().Truncate(time.Hour).Add(2 * time.Hour)} }

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.now = t; c.mu.Unlock() }

// process is one modelgate process's scheduler over a shared store.
func (b *hookBundle) scheduler(t *testing.T, st store.Store, c *clock, leader func() bool) *triggers.Scheduler {
	t.Helper()
	dir := t.TempDir()
	coord, err := coordinator.New(coordinator.Options{Store: st, Recorder: b.rec, DataDir: dir, Blobs: b.blobs})
	require.NoError(t, err)
	s, err := triggers.NewScheduler(triggers.SchedulerOptions{Store: st, Recorder: b.rec, Logger: log.New(io.Discard), Now: c.Now, Leader: leader, Every: time.Minute,
		Starter: &triggers.Starter{Store: st, Blobs: b.blobs, Submit: coord, InputsDir: filepath.Join(dir, "inputs")}})
	require.NoError(t, err)
	return s
}

func (b *hookBundle) schedule(t *testing.T, model string, sch triggers.Schedule, updated time.Time) {
	t.Helper()
	b.register(t, model, triggers.GitHub{Repository: "acme/" + model, Paths: []string{"train/"}})
	s, err := triggers.Load(context.Background(), b.st, model)
	require.NoError(t, err)
	s.Schedule, s.UpdatedAt = &sch, updated
	require.NoError(t, s.Validate(context.Background(), model, b.blobs))
	require.NoError(t, triggers.Save(context.Background(), b.st, s))
}

func scheduledRuns(t *testing.T, st store.Store) []store.Run {
	t.Helper()
	runs, err := st.RunList(context.Background(), store.RunListParams{})
	require.NoError(t, err)
	var out []store.Run
	for _, r := range runs {
		if r.Trigger == "schedule" {
			out = append(out, r)
		}
	}
	return out
}

// TestScheduleStartsOncePerTickAcrossRestarts: an hourly schedule starts
// one run at its tick; a second pass, a restarted process and a
// non-leader start nothing more; the next tick starts the next run.
func TestScheduleStartsOncePerTickAcrossRestarts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := hookSetup(t, hookSecret)
	c := newClock()
	base := c.Now() // on the hour
	b.schedule(t, "fraud", triggers.Schedule{Cron: "0 * * * *"}, base.Add(-90*time.Minute))

	c.Set(base.Add(-30 * time.Minute)) // base-1h ticked 30 min after registration, while no scheduler ran
	s1 := b.scheduler(t, b.st, c, nil)
	out, err := s1.Tick(ctx)
	require.NoError(t, err)
	require.Len(t, out, 1, "the tick an hour ago, 30 min after registration, is missed and run once")
	require.True(t, out[0].Late)

	c.Set(base.Add(20 * time.Second))
	out, err = s1.Tick(ctx)
	require.NoError(t, err)
	require.Len(t, out, 1)
	require.Equal(t, "started", out[0].Action)
	require.False(t, out[0].Late)
	require.Equal(t, base, out[0].Tick.UTC())
	runs := scheduledRuns(t, b.st)
	require.Len(t, runs, 2)

	out, err = s1.Tick(ctx)
	require.NoError(t, err)
	require.Empty(t, out, "a second pass over the same tick")
	restarted := b.scheduler(t, b.st, c, nil)
	out, err = restarted.Tick(ctx)
	require.NoError(t, err)
	require.Empty(t, out, "a restarted process over the same tick")

	c.Set(base.Add(time.Hour + 5*time.Second))
	follower := b.scheduler(t, b.st, c, func() bool { return false })
	out, err = follower.Tick(ctx)
	require.NoError(t, err)
	require.Empty(t, out, "a process that is not the leader")
	out, err = restarted.Tick(ctx)
	require.NoError(t, err)
	require.Len(t, out, 1)
	require.Len(t, scheduledRuns(t, b.st), 3)
	var ticks []string
	for _, r := range scheduledRuns(t, b.st) {
		ticks = append(ticks, r.Labels["schedule.tick"])
		require.Equal(t, "schedule", r.Requester)
	}
	require.ElementsMatch(t, []string{
		base.Add(-time.Hour).Format(time.RFC3339), base.Format(time.RFC3339), base.Add(time.Hour).Format(time.RFC3339)}, ticks)
	require.Len(t, b.rec.OfType(triggers.EventScheduleStarted), 3)
}

// TestScheduleMissedPolicy: after six hours down, run_once starts one run
// for the latest missed tick only, skip starts none and audits the skip,
// and a tick older than max_lateness starts nothing; a schedule
// registered after its latest tick does not fire that tick.
func TestScheduleMissedPolicy(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := hookSetup(t, hookSecret)
	c := newClock()
	base := c.Now()
	long := base.Add(-48 * time.Hour)
	b.schedule(t, "once", triggers.Schedule{Cron: "0 * * * *"}, long)
	b.schedule(t, "skipper", triggers.Schedule{Cron: "0 * * * *", Missed: triggers.MissedSkip}, long)
	b.schedule(t, "strict", triggers.Schedule{Cron: "0 0 1 1 *", MaxLateness: config.Duration{Duration: time.Hour}}, long)
	b.schedule(t, "fresh", triggers.Schedule{Cron: "0 * * * *"}, base.Add(30*time.Minute))

	c.Set(base.Add(45 * time.Minute)) // the base tick is 45 min old: missed
	s := b.scheduler(t, b.st, c, nil)
	out, err := s.Tick(ctx)
	require.NoError(t, err)
	got := map[string]triggers.TickOutcome{}
	for _, o := range out {
		got[o.Model] = o
	}
	require.Len(t, got, 2, "%+v", out)
	require.Equal(t, "started", got["once"].Action)
	require.Equal(t, base, got["once"].Tick.UTC(), "only the latest missed tick")
	require.Equal(t, "skipped", got["skipper"].Action)
	runs := scheduledRuns(t, b.st)
	require.Len(t, runs, 1)
	require.Equal(t, "once", runs[0].Model)
	require.Equal(t, "true", runs[0].Labels["schedule.late"])
	require.Len(t, b.rec.OfType(triggers.EventScheduleSkipped), 1)

	out, err = b.scheduler(t, b.st, c, nil).Tick(ctx)
	require.NoError(t, err)
	require.Empty(t, out, "a restart does not run or skip the same tick again")

	c.Set(base.Add(time.Hour + time.Second)) // on time: every policy runs it
	out, err = s.Tick(ctx)
	require.NoError(t, err)
	require.Len(t, out, 3, "%+v", out)
	for _, o := range out {
		require.Equal(t, "started", o.Action, o.Model)
	}
}

// TestScheduleOneStartPerTickAcrossReplicas: processes racing over one
// store (two SQLite handles on one file; two Redis clients when
// MODELGATE_TEST_REDIS is set) start the tick once between them.
func TestScheduleOneStartPerTickAcrossReplicas(t *testing.T) {
	t.Parallel()
	stores := map[string]func(t *testing.T) (store.Store, store.Store){
		"sqlite": func(t *testing.T) (store.Store, store.Store) {
			p := filepath.Join(t.TempDir(), "shared.db")
			a, err := sqlite.Open(context.Background(), sqlite.Options{Path: p})
			require.NoError(t, err)
			bb, err := sqlite.Open(context.Background(), sqlite.Options{Path: p})
			require.NoError(t, err)
			t.Cleanup(func() { _ = a.Close(); _ = bb.Close() })
			return a, bb
		},
		"redis": func(t *testing.T) (store.Store, store.Store) {
			u := os.Getenv("MODELGATE_TEST_REDIS")
			if u == "" {
				if os.Getenv("MODELGATE_CI") == "1" {
					t.Fatal("MODELGATE_TEST_REDIS is not set but MODELGATE_CI=1")
				}
				t.Skip("MODELGATE_TEST_REDIS is not set")
			}
			pfx := "mgtest:" + uuid.NewString() + ":"
			a, err := redis.Open(context.Background(), redis.Options{URL: u, Prefix: pfx})
			require.NoError(t, err)
			bb, err := redis.Open(context.Background(), redis.Options{URL: u, Prefix: pfx})
			require.NoError(t, err)
			t.Cleanup(func() { _ = a.DeleteAll(context.Background()); _ = a.Close(); _ = bb.Close() })
			return a, bb
		},
	}
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			one, two := open(t)
			dir := t.TempDir()
			blobs, err := blob.NewFS(filepath.Join(dir, "blobs"))
			require.NoError(t, err)
			b := &hookBundle{st: one, rec: &audittest.Recorder{}, blobs: blobs}
			c := newClock()
			b.schedule(t, "fraud", triggers.Schedule{Cron: "*/5 * * * *"}, c.Now().Add(-time.Hour))
			c.Set(c.Now().Add(10 * time.Second))
			var started atomic.Int32
			var wg sync.WaitGroup
			errs := make(chan error, 4)
			for _, st := range []store.Store{one, two, one, two} {
				s := b.scheduler(t, st, c, nil)
				wg.Go(func() {
					out, err := s.Tick(ctx)
					errs <- err
					started.Add(int32(len(out)))
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				require.NoError(t, err)
			}
			require.EqualValues(t, 1, started.Load())
			require.Len(t, scheduledRuns(t, one), 1)
		})
	}
}
