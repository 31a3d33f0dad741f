package coordinator_test

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/charmbracelet/log"

	"github.com/modelgate/modelgate/agents"
	"github.com/modelgate/modelgate/coordinator"
	"github.com/modelgate/modelgate/internal/audit"
	"github.com/modelgate/modelgate/internal/store"
	"github.com/modelgate/modelgate/internal/store/sqlite"
)

type noopAgent string

func (a noopAgent) Name() string { return string(a) }
func (a noopAgent) Run(context.Context, agents.Task) (agents.Report, error) {
	return agents.Report{Verdict: agents.Pass}, nil
}

func benchCoordinator(b *testing.B, workers int) (*coordinator.Coordinator, []byte, string) {
	b.Helper()
	dir := b.TempDir()
	st, err := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(dir, "modelgate.db")})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	// the real audit trail: every transition and stage is recorded
	trail, err := audit.Open(context.Background(), audit.Options{Store: st, KeyPath: filepath.Join(dir, "audit.key")})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { trail.Close() })
	as := map[string]agents.Agent{}
	for _, s := range []string{"validate", "test", "scan", "evaluate", "deploy"} {
		as[s] = noopAgent(s)
	}
	c, err := coordinator.New(coordinator.Options{Store: st, Recorder: trail, Agents: as, Decider: deciderFunc(allow), DataDir: dir, Workers: workers,
		Logger: log.NewWithOptions(os.Stderr, log.Options{Level: log.ErrorLevel})})
	if err != nil {
		b.Fatal(err)
	}
	if err := c.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Stop)
	if err := os.WriteFile(filepath.Join(dir, "model.json"), []byte(`{}`), 0o644); err != nil {
		b.Fatal(err)
	}
	return c, []byte("model: bench\ntask: binary\ncandidate: {artifact: model.json}\n"), dir
}

// BenchmarkSubmitToTerminal measures the coordinator's own overhead: one
// run at a time through every stage with no-op agents on the embedded
// store, from Submit to the terminal state.
func BenchmarkSubmitToTerminal(b *testing.B) {
	c, cfg, dir := benchCoordinator(b, 4)
	ctx := context.Background()
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		r, _, err := c.Submit(ctx, coordinator.SubmitParams{Config: cfg, BaseDir: dir})
		if err != nil {
			b.Fatal(err)
		}
		r, err = c.Wait(ctx, r.ID, false)
		if err != nil || r.State != store.RunSucceeded {
			b.Fatalf("run %s: %v %s", r.State, err, r.Error)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

// Benchmark1000Concurrent submits 1,000 runs at once and checks that all
// finish and exactly 1,000 are stored. That no run is driven twice is
// asserted by TestManyConcurrentRuns, which counts every agent call.
func Benchmark1000Concurrent(b *testing.B) {
	for range b.N {
		b.StopTimer()
		c, cfg, dir := benchCoordinator(b, 16)
		ctx := context.Background()
		b.StartTimer()
		ids := make([]string, 1000)
		var wg sync.WaitGroup
		for i := range ids {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, _, err := c.Submit(ctx, coordinator.SubmitParams{Config: cfg, BaseDir: dir})
				if err != nil {
					b.Error(err)
					return
				}
				ids[i] = r.ID
			}()
		}
		wg.Wait()
		for _, id := range ids {
			r, err := c.Wait(ctx, id, false)
			if err != nil || r.State != store.RunSucceeded {
				b.Fatalf("run %s: %s %v %s", id, r.State, err, r.Error)
			}
		}
		runs, err := c.Store().RunList(ctx, store.RunListParams{Limit: 5000})
		if err != nil || len(runs) != 1000 {
			b.Fatalf("want 1000 runs stored, got %d (%v)", len(runs), err)
		}
	}
}
