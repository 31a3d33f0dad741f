package coordinator_test

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/charmbracelet/log"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/agents"
	"github.com/modelgate/modelgate/coordinator"
	"github.com/modelgate/modelgate/internal/blob"
	"github.com/modelgate/modelgate/internal/pipeline"
	"github.com/modelgate/modelgate/internal/store"
	"github.com/modelgate/modelgate/internal/store/sqlite"
	"github.com/modelgate/modelgate/internal/taskq"
	"github.com/modelgate/modelgate/internal/taskq/work"
)

// remoteRig is a coordinator whose test stage is remote, on a real
// queue; the test plays the worker on the queue itself.
func remoteRig(t *testing.T) (*coordinator.Coordinator, *taskq.Queue, string, store.Store) {
	t.Helper()
	url := os.Getenv("MODELGATE_TEST_REDIS")
	if url == "" {
		if os.Getenv("MODELGATE_CI") == "1" {
			t.Fatal("MODELGATE_TEST_REDIS is not set but MODELGATE_CI=1")
		}
		t.Skip("MODELGATE_TEST_REDIS is not set")
	}
	ctx := context.Background()
	q, err := taskq.Open(ctx, taskq.Options{URL: url, Prefix: "mgremote:" + uuid.NewString() + ":"})
	require.NoError(t, err)
	t.Cleanup(func() { _ = q.DeleteAll(context.Background(), "test"); q.Close() })
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(dir, "modelgate.db")})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	blobs, err := blob.NewFS(filepath.Join(dir, "blobs"))
	require.NoError(t, err)
	rem, err := coordinator.NewRemote(coordinator.RemoteOptions{Name: "testing", Queue: q, Store: st, Blobs: blobs, Poll: 200 * time.Millisecond})
	require.NoError(t, err)
	c, err := coordinator.New(coordinator.Options{Store: st, Agents: map[string]agents.Agent{"test": rem}, Decider: deciderFunc(allow),
		DataDir: dir, Blobs: blobs, Logger: log.NewWithOptions(io.Discard, log.Options{})})
	require.NoError(t, err)
	cctx, cancel := context.WithCancel(ctx)
	require.NoError(t, c.Start(cctx))
	t.Cleanup(func() { cancel(); c.Stop() })
	require.NoError(t, os.WriteFile(filepath.Join(dir, "model.json"), []byte(`{"m":1}`), 0o644))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "data"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "data", "holdout.csv"), []byte("a,target\n1,0\n"), 0o644))
	return c, q, dir, st
}

func receive(t *testing.T, q *taskq.Queue) []taskq.Task {
	t.Helper()
	got, err := q.Receive(context.Background(), taskq.ReceiveParams{Stages: []string{"test"}, Consumer: "w", Block: 5 * time.Second})
	require.NoError(t, err)
	return got
}

// TestRemoteStageIsPublishedByDigestAndRetried: the task names the run's
// files and candidate by digest only; a worker's retriable error is a
// failed attempt retried as a new task; the next attempt's report is the
// stage's.
func TestRemoteStageIsPublishedByDigestAndRetried(t *testing.T) {
	t.Parallel()
	c, q, dir, st := remoteRig(t)
	ctx := context.Background()
	cfg := "model: m\ntask: binary\ndata: {holdout: data/holdout.csv}\ncandidate: {artifact: model.json}\nstages: {retries: 1, backoff: 10ms, skip: [scan, evaluate]}\n"
	run, _, err := c.Submit(ctx, coordinator.SubmitParams{Config: []byte(cfg), BaseDir: dir, Requester: "ci"})
	require.NoError(t, err)

	tasks := receive(t, q)
	require.Len(t, tasks, 1)
	first := tasks[0]
	require.Equal(t, run.ID, first.RunID)
	require.Equal(t, 1, first.Attempt)
	var body work.Body
	require.NoError(t, json.Unmarshal(first.Body, &body))
	require.NoError(t, body.Check())
	require.Equal(t, cfg, body.Config)
	require.Contains(t, body.Inputs, "data/holdout.csv")
	require.Equal(t, "model.json", body.Candidate.Name)
	require.Equal(t, body.Candidate.Digest, body.Candidate.Files["model.json"])
	require.NotContains(t, string(first.Body), dir, "no server path in a task")

	raw, _ := json.Marshal(work.Result{Error: "upstream down", Retriable: true, Worker: "w"})
	require.NoError(t, q.ResultPut(ctx, first.Key(), raw))
	require.NoError(t, q.Ack(ctx, first))

	tasks = receive(t, q)
	require.Len(t, tasks, 1)
	require.Equal(t, 2, tasks[0].Attempt)
	raw, _ = json.Marshal(work.Result{Report: &pipeline.Report{Agent: "liar", Verdict: pipeline.Warn, Summary: "from the worker",
		Artifacts: []pipeline.ArtifactRef{{Name: "evaluation.html", Path: "/etc/passwd", MediaType: "text/html"}}}, Worker: "w"})
	require.NoError(t, q.ResultPut(ctx, tasks[0].Key(), raw))
	require.NoError(t, q.Ack(ctx, tasks[0]))

	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	got, err := c.Wait(wctx, run.ID, false)
	require.NoError(t, err)
	require.Equal(t, store.RunSucceeded, got.State, got.Error)
	stages, err := st.StageList(ctx, run.ID)
	require.NoError(t, err)
	for _, s := range stages {
		if s.Name == "test" {
			require.Equal(t, 2, s.Attempt)
			require.Equal(t, "warn", s.Verdict)
			rep, err := s.AgentReport()
			require.NoError(t, err)
			require.Equal(t, "testing", rep.Agent, "the agent is the stage's, whatever the worker says")
			require.Empty(t, rep.Artifacts[0].Path, "a worker's path is dropped")
		}
	}
}

// TestRemoteStageTimesOutAndWithdrawsItsTask: with no worker, the stage
// fails at stages.timeout and its task is taken off the stream, so a
// worker that comes later does not do work nobody waits for.
func TestRemoteStageTimesOutAndWithdrawsItsTask(t *testing.T) {
	t.Parallel()
	c, q, dir, st := remoteRig(t)
	ctx := context.Background()
	cfg := "model: m\ntask: binary\ncandidate: {artifact: model.json}\nstages: {timeout: 500ms, retries: 0, skip: [scan, evaluate]}\n"
	run, _, err := c.Submit(ctx, coordinator.SubmitParams{Config: []byte(cfg), BaseDir: dir, Requester: "ci"})
	require.NoError(t, err)
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	got, err := c.Wait(wctx, run.ID, false)
	require.NoError(t, err)
	require.Equal(t, store.RunFailed, got.State)
	require.Contains(t, got.Error, "timed out after 500ms")
	_ = st
	late, err := q.Receive(ctx, taskq.ReceiveParams{Stages: []string{"test"}, Consumer: "late"})
	require.NoError(t, err)
	require.Empty(t, late, "the timed-out task was withdrawn")
}
