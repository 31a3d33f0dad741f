package worker_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/log"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/modelgate/modelgate/agents"
	"github.com/modelgate/modelgate/agents/prompt"
	"github.com/modelgate/modelgate/coordinator"
	"github.com/modelgate/modelgate/internal/api/client"
	"github.com/modelgate/modelgate/internal/app"
	"github.com/modelgate/modelgate/internal/app/worker"
	"github.com/modelgate/modelgate/internal/auth"
	"github.com/modelgate/modelgate/internal/sandbox"
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
	return buildWith(t, ctx, dir, url, prefix, remote, true)
}

func buildWith(t *testing.T, ctx context.Context, dir, url, prefix string, remote []string, trainDirect bool) *app.Server {
	t.Helper()
	b, err := yaml.Marshal(auth.File{Tokens: []auth.Token{{Token: workerToken, Name: "w", Roles: []string{"worker"}}}})
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(dir, 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tokens.yaml"), b, 0o600))
	quiet := log.NewWithOptions(io.Discard, log.Options{})
	s, err := app.Build(ctx, app.Options{DataDir: filepath.Join(dir, "data"), TokensFile: filepath.Join(dir, "tokens.yaml"),
		StoreURL: url, StorePrefix: prefix, NoDeploy: true, Logger: quiet, TrainDirect: trainDirect,
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
	_, stages := runConfig(t, ctx, s, example, cfg)
	return stages
}

func runConfig(t *testing.T, ctx context.Context, s *app.Server, base string, cfg []byte) (store.Run, map[string]store.Stage) {
	t.Helper()
	run, _, err := s.Coordinator.Submit(ctx, coordinator.SubmitParams{Config: cfg, BaseDir: base, Requester: "ci-bot"})
	require.NoError(t, err)
	for {
		r, err := s.Store.RunGet(ctx, run.ID)
		require.NoError(t, err)
		if r.State != store.RunQueued && r.State != store.RunRunning {
			require.NotEqual(t, store.RunFailed, r.State, r.Error)
			run = r
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
	return run, out
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
		require.Equal(t, untimed(er.Metrics), untimed(rr.Metrics), name)
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

// TestRemoteTrainingInSandbox: training on a worker, inside bubblewrap as
// on a server; the artifact comes back as a blob of the digest the report
// names and becomes the run's candidate, which the other remote stages
// then judge.
func TestRemoteTrainingInSandbox(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a pipeline with bwrap")
	}
	url := testRedis(t)
	if _, err := sandbox.Find(context.Background(), nil); err != nil {
		if os.Getenv("MODELGATE_CI") != "" {
			t.Fatalf("CI must run this with a real bwrap: %v", err)
		}
		t.Skipf("no usable bwrap: %v", err)
	}
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	prefix := "mgworkertest:" + uuid.NewString() + ":"
	rs, err := redis.Open(ctx, redis.Options{URL: url, Prefix: prefix})
	require.NoError(t, err)
	t.Cleanup(func() { _ = rs.DeleteAll(context.Background()); rs.Close() })

	remote := []string{coordinator.StageTrain, coordinator.StageTest, coordinator.StageScan, coordinator.StageEvaluate}
	s := buildWith(t, ctx, t.TempDir(), url, prefix, remote, false)
	web := httptest.NewServer(s.Handler)
	defer web.Close()
	quiet := log.NewWithOptions(io.Discard, log.Options{})
	as := app.StageAgents(quiet, prompt.Options{})
	delete(as, coordinator.StageValidate)
	ta, err := app.WorkerTraining(ctx, quiet, nil)
	require.NoError(t, err)
	as[coordinator.StageTrain] = ta
	wdir := t.TempDir()
	secret := filepath.Join(wdir, "worker-secret.txt") // the worker's own files: its token, its cache
	require.NoError(t, os.WriteFile(secret, []byte("do not read"), 0o600))
	w, err := worker.New(worker.Options{Client: client.New(web.URL, workerToken), Name: "trainer", Agents: as,
		Dir: wdir, Logger: quiet, Wait: time.Second, Concurrency: 3})
	require.NoError(t, err)
	wctx, wstop := context.WithCancel(ctx)
	defer wstop()
	go func() { _ = w.Run(wctx) }()

	example, err := filepath.Abs("../demo/example")
	require.NoError(t, err)
	cfg := []byte(`model: tumor-classifier
task: binary
label: target
environment: staging
data: {reference: train.csv, holdout: holdout.csv}
train: {command: [/bin/sh, -c, "echo fitting; cp model-candidate.json {{.ArtifactDir}}/model.json"], files: [model-candidate.json], timeout: 1m}
candidate: {version: v2}
evaluation:
  thresholds: {roc_auc: {min: 0.9}}
`)
	run, stages := runConfig(t, ctx, s, example, cfg)
	want, err := os.ReadFile(filepath.Join(example, "model-candidate.json"))
	require.NoError(t, err)
	sum := sha256.Sum256(want)
	require.Equal(t, "sha256:"+hex.EncodeToString(sum[:]), run.Candidate.Digest, "the candidate is the bytes the sandboxed command wrote")
	got, err := os.ReadFile(run.Candidate.ArtifactPath)
	require.NoError(t, err)
	require.Equal(t, want, got)
	var rep struct {
		Details struct {
			Sandbox string `json:"sandbox"`
		} `json:"details"`
	}
	require.NoError(t, json.Unmarshal(stages[coordinator.StageTrain].Report, &rep))
	require.Equal(t, "bwrap", rep.Details.Sandbox)
	for _, name := range remote {
		require.Equal(t, store.StageSucceeded, stages[name].State, name)
	}
	ev, err := stages[coordinator.StageEvaluate].AgentReport()
	require.NoError(t, err)
	require.InDelta(t, 0.99, ev.Metrics["candidate.roc_auc"], 0.02, "the trained candidate was judged")
	entries, err := s.Store.AuditList(ctx, store.AuditListParams{Type: "task.reported"})
	require.NoError(t, err)
	stagesReported := map[string]bool{}
	for _, e := range entries {
		var d map[string]any
		require.NoError(t, json.Unmarshal(e.Data, &d))
		stagesReported[d["stage"].(string)] = true
	}
	require.True(t, stagesReported[coordinator.StageTrain])

	// the command sees its inputs, not the worker's files
	sneaky := []byte(strings.Replace(string(cfg), "cp model-candidate.json", "cat "+secret+" >", 1))
	r2, _, err := s.Coordinator.Submit(ctx, coordinator.SubmitParams{Config: sneaky, BaseDir: example, Requester: "ci-bot"})
	require.NoError(t, err)
	got2, err := s.Coordinator.Wait(ctx, r2.ID, false)
	require.NoError(t, err)
	require.Equal(t, store.RunFailed, got2.State)
	require.Contains(t, got2.Error, "No such file")
	require.NotContains(t, got2.Error, "do not read")
}

// untimed drops the metrics that measure time (a latency, a duration):
// they differ between any two runs.
func untimed(m map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for k, v := range m {
		if !strings.Contains(k, "latency") && !strings.Contains(k, "seconds") {
			out[k] = v
		}
	}
	return out
}

type slowAgent struct {
	name string
	d    time.Duration
}

func (a slowAgent) Name() string { return a.name }
func (a slowAgent) Run(ctx context.Context, _ agents.Task) (agents.Report, error) {
	select {
	case <-ctx.Done():
		return agents.Report{}, ctx.Err()
	case <-time.After(a.d):
	}
	return agents.Report{Verdict: agents.Pass, Summary: a.name + " ok"}, nil
}

// TestLongTaskStaysWithItsLiveWorker: a stage that takes longer than
// ClaimIdle stays with the live worker that holds it (its heartbeats),
// though another worker is there to take it; every stage is reported
// once.
func TestLongTaskStaysWithItsLiveWorker(t *testing.T) {
	if testing.Short() {
		t.Skip("waits past ClaimIdle")
	}
	url := testRedis(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	prefix := "mgworkertest:" + uuid.NewString() + ":"
	rs, err := redis.Open(ctx, redis.Options{URL: url, Prefix: prefix})
	require.NoError(t, err)
	t.Cleanup(func() { _ = rs.DeleteAll(context.Background()); rs.Close() })

	dir := t.TempDir()
	b, err := yaml.Marshal(auth.File{Tokens: []auth.Token{{Token: workerToken, Name: "w", Roles: []string{"worker"}}}})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tokens.yaml"), b, 0o600))
	quiet := log.NewWithOptions(io.Discard, log.Options{})
	s, err := app.Build(ctx, app.Options{DataDir: filepath.Join(dir, "data"), TokensFile: filepath.Join(dir, "tokens.yaml"),
		StoreURL: url, StorePrefix: prefix, NoDeploy: true, Logger: quiet,
		Remote: app.RemoteOptions{Stages: []string{"test", "scan", "evaluate"}, ClaimIdle: 900 * time.Millisecond}})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	require.NoError(t, s.Start(ctx))
	web := httptest.NewServer(s.Handler)
	defer web.Close()

	slow := map[string]agents.Agent{}
	for _, st := range []string{"test", "scan", "evaluate"} {
		slow[st] = slowAgent{name: st, d: 1500 * time.Millisecond}
	}
	one, err := worker.New(worker.Options{Client: client.New(web.URL, workerToken), Name: "one", Agents: slow, Dir: t.TempDir(),
		Logger: quiet, Wait: time.Second, Concurrency: 1})
	require.NoError(t, err)
	wctx, wstop := context.WithCancel(ctx)
	defer wstop()
	go func() { _ = one.Run(wctx) }()

	example, err := filepath.Abs("../demo/example")
	require.NoError(t, err)
	cfg := []byte("model: m\ntask: binary\nlabel: target\ndata: {reference: train.csv, holdout: holdout.csv}\ncandidate: {artifact: model-candidate.json}\nenvironment: staging\n")
	run, _, err := s.Coordinator.Submit(ctx, coordinator.SubmitParams{Config: cfg, BaseDir: example, Requester: "ci-bot"})
	require.NoError(t, err)
	// worker one holds one task (its concurrency is 1)
	held := ""
	require.Eventually(t, func() bool {
		for _, st := range []string{"test", "scan", "evaluate"} {
			if p, err := s.Tasks.Pending(ctx, st); err == nil && p == 1 {
				held = st
				return true
			}
		}
		if r, err := s.Store.RunGet(ctx, run.ID); err == nil && r.State.Terminal() {
			t.Fatalf("run ended before any task was held: %s %s", r.State, r.Error)
		}
		return false
	}, 30*time.Second, 10*time.Millisecond)
	two, err := worker.New(worker.Options{Client: client.New(web.URL, workerToken), Name: "two", Agents: slow, Dir: t.TempDir(),
		Logger: quiet, Wait: time.Second, Concurrency: 3})
	require.NoError(t, err)
	go func() { _ = two.Run(wctx) }()

	got, err := s.Coordinator.Wait(ctx, run.ID, false)
	require.NoError(t, err)
	require.Equal(t, store.RunSucceeded, got.State, got.Error)
	entries, err := s.Store.AuditList(ctx, store.AuditListParams{Type: "task.reported"})
	require.NoError(t, err)
	require.Len(t, entries, 3, "each stage reported once")
	for _, e := range entries {
		var d map[string]any
		require.NoError(t, json.Unmarshal(e.Data, &d))
		require.Equal(t, true, d["stored"])
		if d["stage"] == held {
			require.Equal(t, "w/one", d["worker"], "the %s task outlasted ClaimIdle with its live worker", held)
		}
	}
}
