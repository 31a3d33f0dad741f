package coordinator_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/charmbracelet/log"
	"github.com/google/uuid"

	"github.com/modelgate/modelgate/agents"
	"github.com/modelgate/modelgate/coordinator"
	"github.com/modelgate/modelgate/internal/audit"
	"github.com/modelgate/modelgate/internal/store"
	"github.com/modelgate/modelgate/internal/store/redis"
	"github.com/modelgate/modelgate/internal/store/sqlite"
)

// BenchmarkReplicas: runs/s and submit-to-terminal latency with no-op
// agents and the real audit trail, for one coordinator on SQLite (the
// embedded default) and 1, 2, 4 coordinator replicas sharing one Redis
// under run leases. Each iteration is a batch of 200 runs submitted round
// robin and woken on every replica. bench/scaleout/run.sh runs it.
func BenchmarkReplicas(b *testing.B) {
	url := os.Getenv("MODELGATE_TEST_REDIS")
	cases := []struct {
		driver   string
		replicas int
	}{{"sqlite", 1}, {"redis", 1}, {"redis", 2}, {"redis", 4}}
	for _, tc := range cases {
		b.Run(fmt.Sprintf("%s-%d", tc.driver, tc.replicas), func(b *testing.B) {
			if tc.driver == "redis" && url == "" {
				b.Skip("MODELGATE_TEST_REDIS is not set")
			}
			ctx := context.Background()
			dir := b.TempDir()
			pfx := "mgbench:" + uuid.NewString() + ":"
			cs := make([]*coordinator.Coordinator, tc.replicas)
			for i := range cs {
				var st store.Store
				var err error
				if tc.driver == "sqlite" {
					st, err = sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(dir, "modelgate.db")})
				} else {
					rs, rerr := redis.Open(ctx, redis.Options{URL: url, Prefix: pfx})
					if rerr == nil {
						b.Cleanup(func() { _ = rs.DeleteAll(context.Background()) })
					}
					st, err = rs, rerr
				}
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { st.Close() })
				trail, err := audit.Open(ctx, audit.Options{Store: st, KeyPath: filepath.Join(dir, "audit.key")})
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { trail.Close() })
				as := map[string]agents.Agent{}
				for _, s := range []string{"validate", "test", "scan", "evaluate", "deploy"} {
					as[s] = noopAgent(s)
				}
				own := coordinator.OwnershipOptions{}
				if tc.driver == "redis" {
					own = coordinator.OwnershipOptions{Owner: fmt.Sprintf("replica-%d", i), TTL: 15 * time.Second}
				}
				c, err := coordinator.New(coordinator.Options{Store: st, Recorder: trail, Agents: as, Decider: deciderFunc(allow),
					DataDir: dir, Workers: 8, Ownership: own, Logger: log.NewWithOptions(os.Stderr, log.Options{Level: log.ErrorLevel})})
				if err != nil {
					b.Fatal(err)
				}
				if err := c.Start(ctx); err != nil {
					b.Fatal(err)
				}
				b.Cleanup(c.Stop)
				cs[i] = c
			}
			if err := os.WriteFile(filepath.Join(dir, "model.json"), []byte(`{}`), 0o644); err != nil {
				b.Fatal(err)
			}
			cfg := []byte("model: bench\ntask: binary\ncandidate: {artifact: model.json}\n")
			const batch = 200
			var lat []time.Duration
			var total time.Duration
			b.ResetTimer()
			for range b.N {
				start := time.Now()
				var (
					wg sync.WaitGroup
					mu sync.Mutex
				)
				for i := range batch {
					wg.Add(1)
					go func() {
						defer wg.Done()
						t0 := time.Now()
						c := cs[i%len(cs)]
						r, _, err := c.Submit(ctx, coordinator.SubmitParams{Config: cfg, File: "m.yaml", BaseDir: dir, Requester: "bench"})
						if err != nil {
							b.Error(err)
							return
						}
						for _, o := range cs {
							if o != c {
								o.Wake(r.ID)
							}
						}
						wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
						defer cancel()
						got, err := c.Wait(wctx, r.ID, false)
						if err != nil || got.State != store.RunSucceeded {
							b.Errorf("run %s: %v %s %s", r.ID, err, got.State, got.Error)
							return
						}
						mu.Lock()
						lat = append(lat, time.Since(t0))
						mu.Unlock()
					}()
				}
				wg.Wait()
				total += time.Since(start)
			}
			b.StopTimer()
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			if len(lat) == 0 {
				return
			}
			b.ReportMetric(float64(batch*b.N)/total.Seconds(), "runs/s")
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50_ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99_ms")
		})
	}
}
