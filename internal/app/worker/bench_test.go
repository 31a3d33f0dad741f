package worker_test

import (
	"context"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/charmbracelet/log"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/modelgate/modelgate/agents"
	"github.com/modelgate/modelgate/coordinator"
	"github.com/modelgate/modelgate/internal/api"
	"github.com/modelgate/modelgate/internal/api/client"
	"github.com/modelgate/modelgate/internal/app/worker"
	"github.com/modelgate/modelgate/internal/audit"
	"github.com/modelgate/modelgate/internal/auth"
	"github.com/modelgate/modelgate/internal/blob"
	"github.com/modelgate/modelgate/internal/oversight"
	"github.com/modelgate/modelgate/internal/store"
	"github.com/modelgate/modelgate/internal/store/redis"
	"github.com/modelgate/modelgate/internal/store/sqlite"
	"github.com/modelgate/modelgate/internal/taskq"
)

type noop string

func (a noop) Name() string { return string(a) }
func (a noop) Run(context.Context, agents.Task) (agents.Report, error) {
	return agents.Report{Verdict: agents.Pass}, nil
}

type allow struct{}

func (allow) Decide(context.Context, oversight.Input) (oversight.Decision, error) {
	return oversight.Decision{ID: "d", Allow: true, Risk: "low"}, nil
}

// BenchmarkWorkers: runs/s and submit-to-terminal latency with no-op
// agents and the real audit trail, for one coordinator with every agent
// in-process (SQLite, the embedded default, and Redis) and with test,
// scan and evaluate on 1, 2, 4 and 8 workers (each taking up to 4 tasks
// at once) over the real worker API and Redis Streams. Each iteration is
// a batch of BENCH_BATCH (default 100) runs submitted at once. The
// coordinator drives up to 32 runs at once in every case.
// bench/scaleout/run.sh runs it.
func BenchmarkWorkers(b *testing.B) {
	url := os.Getenv("MODELGATE_TEST_REDIS")
	batch := 100
	if v, err := strconv.Atoi(os.Getenv("BENCH_BATCH")); err == nil && v > 0 {
		batch = v
	}
	cases := []struct {
		name    string
		driver  string
		workers int // 0 = embedded
	}{{"embedded-sqlite", "sqlite", 0}, {"embedded-redis", "redis", 0},
		{"workers-1", "redis", 1}, {"workers-2", "redis", 2}, {"workers-4", "redis", 4}, {"workers-8", "redis", 8}}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			if tc.driver == "redis" && url == "" {
				b.Skip("MODELGATE_TEST_REDIS is not set")
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			dir := b.TempDir()
			pfx := "mgbenchw:" + uuid.NewString() + ":"
			quiet := log.NewWithOptions(io.Discard, log.Options{})
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
			trail, err := audit.Open(ctx, audit.Options{Store: st, KeyPath: filepath.Join(dir, "audit.key"), Logger: quiet})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { trail.Close() })
			blobs, err := blob.NewFS(filepath.Join(dir, "blobs"))
			if err != nil {
				b.Fatal(err)
			}
			as := map[string]agents.Agent{}
			for _, s := range []string{"validate", "test", "scan", "evaluate", "deploy"} {
				as[s] = noop(s)
			}
			var q *taskq.Queue
			if tc.workers > 0 {
				if q, err = taskq.Open(ctx, taskq.Options{URL: url, Prefix: pfx, ClaimIdle: time.Minute}); err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { _ = q.DeleteAll(context.Background(), "test", "scan", "evaluate"); q.Close() })
				inputs := &coordinator.InputDigests{}
				for _, s := range []string{"test", "scan", "evaluate"} {
					if as[s], err = coordinator.NewRemote(coordinator.RemoteOptions{Name: s, Queue: q, Store: st, Blobs: blobs, Inputs: inputs}); err != nil {
						b.Fatal(err)
					}
				}
			}
			c, err := coordinator.New(coordinator.Options{Store: st, Recorder: trail, Agents: as, Decider: allow{},
				DataDir: dir, Workers: 32, Blobs: blobs, Logger: quiet, Registerer: prometheus.NewRegistry()})
			if err != nil {
				b.Fatal(err)
			}
			if err := c.Start(ctx); err != nil {
				b.Fatal(err)
			}
			b.Cleanup(c.Stop)
			if tc.workers > 0 {
				authn, err := auth.New([]auth.Token{{Token: workerToken, Name: "w", Roles: []string{"worker"}}})
				if err != nil {
					b.Fatal(err)
				}
				engine, err := oversight.NewEngine(ctx, oversight.EngineOptions{Logger: quiet})
				if err != nil {
					b.Fatal(err)
				}
				srv, err := api.New(api.Options{Coordinator: c, Store: st, Auth: authn, Logger: quiet, Blobs: blobs, Gatherer: prometheus.NewRegistry(),
					Tasks: q, TaskStages: []string{"test", "scan", "evaluate"},
					Authorize: func(ctx context.Context, p auth.Principal, action, model, env string) (bool, error) {
						return engine.Authorize(ctx, oversight.AuthzInput{Principal: p, Action: action, Model: model, Environment: env})
					}})
				if err != nil {
					b.Fatal(err)
				}
				web := httptest.NewServer(srv)
				b.Cleanup(web.Close)
				for i := range tc.workers {
					w, err := worker.New(worker.Options{Client: client.New(web.URL, workerToken), Name: fmt.Sprintf("w%d", i),
						Agents: map[string]agents.Agent{"test": noop("test"), "scan": noop("scan"), "evaluate": noop("evaluate")},
						Dir:    filepath.Join(dir, fmt.Sprintf("w%d", i)), Logger: quiet, Concurrency: 4, Wait: 2 * time.Second})
					if err != nil {
						b.Fatal(err)
					}
					go func() { _ = w.Run(ctx) }()
				}
			}
			if err := os.WriteFile(filepath.Join(dir, "model.json"), []byte(`{}`), 0o644); err != nil {
				b.Fatal(err)
			}
			cfg := []byte("model: bench\ntask: binary\ncandidate: {artifact: model.json}\n")
			var lat []time.Duration
			var total time.Duration
			b.ResetTimer()
			for range b.N {
				start := time.Now()
				var (
					wg sync.WaitGroup
					mu sync.Mutex
				)
				for range batch {
					wg.Add(1)
					go func() {
						defer wg.Done()
						t0 := time.Now()
						r, _, err := c.Submit(ctx, coordinator.SubmitParams{Config: cfg, File: "m.yaml", BaseDir: dir, Requester: "bench"})
						if err != nil {
							b.Error(err)
							return
						}
						wctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
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
