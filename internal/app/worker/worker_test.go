package worker_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/charmbracelet/log"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/modelgate/modelgate/agents/prompt"
	"github.com/modelgate/modelgate/coordinator"
	"github.com/modelgate/modelgate/internal/api/client"
	"github.com/modelgate/modelgate/internal/app"
	"github.com/modelgate/modelgate/internal/app/worker"
	"github.com/modelgate/modelgate/internal/auth"
	"github.com/modelgate/modelgate/internal/store"
	"github.com/modelgate/modelgate/internal/store/redis"
)

const workerToken = "worker-token-0123456789abcdef"

func testRedis(t *testing.T) string {
	t.Helper()
	u := os.Getenv("MODELGATE_TEST_REDIS")
	if u == "" {
		if os.Getenv("MODELGATE_CI") == "1" {
			t.Fatal("MODELGATE_TEST_REDIS is not set but MODELGATE_CI=1")
		}
		t.Skip("MODELGATE_TEST_REDIS is not set")
	}
	return u
}

// build assembles a server on dir: on Redis with the given remote stages,
// or embedded on SQLite when url is empty.
func build(t *testing.T, ctx context.Context, dir, url, prefix string, remote []string) *app.Server {
	t.Helper()
	b, err := yaml.Marshal(auth.File{Tokens: []auth.Token{{Token: workerToken, Name: "w", Roles: []string{"worker"}}}})
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(dir, 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tokens.yaml"), b, 0o600))
	quiet := log.NewWithOptions(io.Discard, log.Options{})
	s, err := app.Build(ctx, app.Options{DataDir: filepath.Join(dir, "data"), TokensFile: filepath.Join(dir, "tokens.yaml"),
		StoreURL: url, StorePrefix: prefix, NoDeploy: true, Logger: quiet, TrainDirect: true,
		Remote: app.RemoteOptions{Stages: remote, ClaimIdle: 5 * time.Second}})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	require.NoError(t, s.Start(ctx))
	return s
}

// runDemo submits the demo example and waits until its checks are done
// (the run leaves running: it awaits approval, deploys or fails).
func runDemo(t *testing.T, ctx context.Context, s *app.Server) map[string]store.Stage {
	t.Helper()
	example, err := filepath.Abs("../demo/example")
	require.NoError(t, err)
	cfg, err := os.ReadFile(filepath.Join(example, "modelgate.yaml"))
	require.NoError(t, err)
	run, _, err := s.Coordinator.Submit(ctx, coordinator.SubmitParams{Config: cfg, BaseDir: example, Requester: "ci-bot"})
	require.NoError(t, err)
	for {
		r, err := s.Store.RunGet(ctx, run.ID)
		require.NoError(t, err)
		if r.State != store.RunQueued && r.State != store.RunRunning {
			require.NotEqual(t, store.RunFailed, r.State, r.Error)
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("run %s still %s", run.ID, r.State)
		case <-time.After(50 * time.Millisecond):
		}
	}
	stages, err := s.Store.StageList(ctx, run.ID)
	require.NoError(t, err)
	out := map[string]store.Stage{}
	for _, st := range stages {
		out[st.Name] = st
	}
	return out
}

// TestRemoteStagesMatchEmbedded: the demo pipeline with test, scan and
// evaluate done by a worker over HTTP gives the same verdicts, metrics
// and findings as the same pipeline run in one process.
func TestRemoteStagesMatchEmbedded(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo pipeline twice")
	}
	url := testRedis(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	prefix := "mgworkertest:" + uuid.NewString() + ":"
	rs, err := redis.Open(ctx, redis.Options{URL: url, Prefix: prefix})
	require.NoError(t, err)
	t.Cleanup(func() { _ = rs.DeleteAll(context.Background()); rs.Close() })

	remoteStages := []string{coordinator.StageTest, coordinator.StageScan, coordinator.StageEvaluate}
	s := build(t, ctx, t.TempDir(), url, prefix, remoteStages)
	web := httptest.NewServer(s.Handler)
	defer web.Close()
	as := app.StageAgents(log.Default(), prompt.Options{})
	for k := range as {
		if k == coordinator.StageValidate {
			delete(as, k)
		}
	}
	w, err := worker.New(worker.Options{Client: client.New(web.URL, workerToken), Name: "one", Agents: as,
		Dir: t.TempDir(), Logger: log.NewWithOptions(io.Discard, log.Options{}), Wait: time.Second})
	require.NoError(t, err)
	wctx, wstop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Run(wctx) }()
	remote := runDemo(t, ctx, s)
	wstop()
	require.NoError(t, <-done)

	embedded := runDemo(t, ctx, build(t, ctx, t.TempDir(), "", "", nil))
	for _, name := range remoteStages {
		r, e := remote[name], embedded[name]
		require.Equal(t, store.StageSucceeded, r.State, name)
		require.Equal(t, e.Verdict, r.Verdict, name)
		rr, err := r.AgentReport()
		require.NoError(t, err)
		er, err := e.AgentReport()
		require.NoError(t, err)
		require.Equal(t, er.Metrics, rr.Metrics, name)
		require.Equal(t, len(er.Findings), len(rr.Findings), name)
		for i := range er.Findings {
			require.Equal(t, er.Findings[i].Code, rr.Findings[i].Code, name)
		}
		require.Equal(t, er.Agent, rr.Agent, name)
	}
	// the audit trail says who did each remote stage
	entries, err := s.Store.AuditList(ctx, store.AuditListParams{Type: "task.reported"})
	require.NoError(t, err)
	require.Len(t, entries, len(remoteStages))
	for _, e := range entries {
		var d map[string]any
		require.NoError(t, json.Unmarshal(e.Data, &d))
		require.Equal(t, "w/one", d["worker"])
		require.Equal(t, true, d["stored"])
	}
}
