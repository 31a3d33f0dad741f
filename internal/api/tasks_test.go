package api_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/charmbracelet/log"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/coordinator"
	"github.com/modelgate/modelgate/internal/api"
	"github.com/modelgate/modelgate/internal/auth"
	"github.com/modelgate/modelgate/internal/blob"
	"github.com/modelgate/modelgate/internal/oversight"
	"github.com/modelgate/modelgate/internal/pipeline"
	"github.com/modelgate/modelgate/internal/store"
	"github.com/modelgate/modelgate/internal/store/sqlite"
	"github.com/modelgate/modelgate/internal/taskq"
	"github.com/modelgate/modelgate/internal/taskq/work"
)

const worker2Token = "worker2-token-0123456789" // workerToken and viewerToken: registry_test.go

type taskBundle struct {
	*bundle
	q      *taskq.Queue
	named  string // digest the published task names
	other  string // digest stored but named by no task
	runID  string
	blobBy map[string][]byte
}

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

// setupTasks starts the API with the worker endpoints on a real Redis
// queue (a prefix of its own) and publishes one test-stage task naming
// one of two stored blobs.
func setupTasks(t *testing.T, claimIdle time.Duration) *taskBundle {
	t.Helper()
	u := testRedis(t)
	ctx := context.Background()
	q, err := taskq.Open(ctx, taskq.Options{URL: u, Prefix: "mgapitest:" + uuid.NewString() + ":", ClaimIdle: claimIdle, MaxDeliveries: 3})
	require.NoError(t, err)
	t.Cleanup(func() { _ = q.DeleteAll(context.Background(), "test"); _ = q.Close() })

	dir := t.TempDir()
	st, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(dir, "modelgate.db")})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	quiet := log.NewWithOptions(io.Discard, log.Options{})
	reg := prometheus.NewRegistry()
	coord, err := coordinator.New(coordinator.Options{Store: st, Decider: allowAll{}, DataDir: dir, Logger: quiet, Registerer: reg})
	require.NoError(t, err)
	engine, err := oversight.NewEngine(ctx, oversight.EngineOptions{Logger: quiet})
	require.NoError(t, err)
	a, err := auth.New([]auth.Token{
		{Token: ciToken, Name: "ci-bot", Roles: []string{"ci"}},
		{Token: adminToken, Name: "ada", Roles: []string{"admin"}},
		{Token: viewerToken, Name: "vic", Roles: []string{"viewer"}},
		{Token: workerToken, Name: "w1", Roles: []string{"worker"}},
		{Token: worker2Token, Name: "w2", Roles: []string{"worker"}},
	})
	require.NoError(t, err)
	blobs, err := blob.NewFS(filepath.Join(dir, "blobs"))
	require.NoError(t, err)
	tb := &taskBundle{q: q, blobBy: map[string][]byte{}, runID: uuid.NewString()}
	now := time.Now().UTC()
	_, _, err = st.RunCreate(ctx, store.RunCreateParams{Run: store.Run{ID: tb.runID, Model: "fraud", State: store.RunRunning,
		Trigger: "api", Requester: "ci-bot", Config: []byte("model: fraud\ntask: binary\n"), CreatedAt: now, UpdatedAt: now}})
	require.NoError(t, err)
	for i, content := range []string{"a,b\n1,2\n", "secret of another run\n"} {
		info, _, err := blobs.Put(ctx, blob.PutParams{Body: bytes.NewReader([]byte(content))})
		require.NoError(t, err)
		tb.blobBy[info.Digest] = []byte(content)
		if i == 0 {
			tb.named = info.Digest
		} else {
			tb.other = info.Digest
		}
	}
	srv, err := api.New(api.Options{Coordinator: coord, Store: st, Auth: a, Gatherer: reg, Logger: quiet, Blobs: blobs,
		Tasks: q, TaskStages: []string{"train", "test", "scan"}, Policies: engine, MaxBlobBytes: 1 << 20,
		Authorize: func(ctx context.Context, p auth.Principal, action, model, env string) (bool, error) {
			return engine.Authorize(ctx, oversight.AuthzInput{Principal: p, Action: action, Model: model, Environment: env})
		}})
	require.NoError(t, err)
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	tb.bundle = &bundle{srv: hs, store: st, dir: dir}

	body, err := json.Marshal(work.Body{Model: "fraud", Config: "model: fraud\ntask: binary\n", Inputs: map[string]string{"data/holdout.csv": tb.named}})
	require.NoError(t, err)
	_, err = q.Publish(ctx, taskq.Task{RunID: tb.runID, Stage: "test", Attempt: 1, Body: body})
	require.NoError(t, err)
	return tb
}

// claim takes the published task with token as worker name.
func (tb *taskBundle) claim(t *testing.T, token, name string) api.ClaimedTask {
	t.Helper()
	status, m, _ := tb.do(t, "POST", "/v1/tasks/claim", token, `{"stages":["test"],"worker":"`+name+`"}`)
	require.Equal(t, 200, status, "%v", m)
	raw, _ := json.Marshal(m)
	var reply api.ClaimReply
	require.NoError(t, json.Unmarshal(raw, &reply))
	require.Len(t, reply.Tasks, 1, "%v", m)
	return reply.Tasks[0]
}

func report(verdict string) string {
	return fmt.Sprintf(`{"report":{"agent":"anything","verdict":%q,"summary":"from the worker","metrics":{},"findings":[]}}`, verdict)
}

// TestTaskEndpointsRefuseTokensThatAreNotWorkers: no token, a ci token and
// a viewer cannot take a task, read a task's blob or report one; nothing
// they try hands the task out (a worker still gets it afterwards).
func TestTaskEndpointsRefuseTokensThatAreNotWorkers(t *testing.T) {
	t.Parallel()
	tb := setupTasks(t, time.Minute)
	id := "test:0-1"
	for _, tc := range []struct{ name, token string }{{"no token", ""}, {"ci", ciToken}, {"viewer", viewerToken}} {
		want := 403
		if tc.token == "" {
			want = 401
		}
		for _, rq := range []struct{ method, path, body string }{
			{"POST", "/v1/tasks/claim", `{"stages":["test"],"worker":"x"}`},
			{"GET", "/v1/tasks/" + id + "/blobs/" + tb.named, ""},
			{"POST", "/v1/tasks/" + id + "/report", report("pass")},
			{"POST", "/v1/tasks/" + id + "/heartbeat", ""},
		} {
			status, m, _ := tb.do(t, rq.method, rq.path, tc.token, rq.body, api.ClaimHeader, "guess")
			require.Equal(t, want, status, "%s %s %s: %v", tc.name, rq.method, rq.path, m)
		}
	}
	pending, err := tb.q.Pending(context.Background(), "test")
	require.NoError(t, err)
	require.Zero(t, pending, "a refused caller must not have taken the task")
	got := tb.claim(t, workerToken, "a")
	require.Equal(t, tb.runID, got.RunID)
}

// TestWorkerTokenDoesNothingButItsTasks: a worker token reads no run, no
// approval, no audit, triggers nothing, reads no blob outside its
// task, and no task it was not handed.
func TestWorkerTokenDoesNothingButItsTasks(t *testing.T) {
	t.Parallel()
	tb := setupTasks(t, time.Minute)
	for _, rq := range []struct{ method, path, body string }{
		{"GET", "/v1/runs", ""},
		{"GET", "/v1/runs/" + tb.runID, ""},
		{"POST", "/v1/runs", tb.runBody("")},
		{"POST", "/v1/runs/" + tb.runID + "/cancel", ""},
		{"GET", "/v1/audit", ""},
		{"GET", "/v1/models", ""},
		{"GET", "/v1/blobs/" + tb.named, ""},
		{"HEAD", "/v1/blobs/" + tb.named, ""},
		{"PUT", "/v1/blobs/" + tb.named, "a,b\n1,2\n"},
		{"POST", "/v1/policies/reload", ""},
	} {
		status, m, _ := tb.do(t, rq.method, rq.path, workerToken, rq.body)
		require.Equal(t, 403, status, "%s %s: %v", rq.method, rq.path, m)
	}
	// a stage this server does not publish
	status, m, _ := tb.do(t, "POST", "/v1/tasks/claim", workerToken, `{"stages":["deploy"],"worker":"a"}`)
	require.Equal(t, 400, status, "%v", m)
	status, m, _ = tb.do(t, "POST", "/v1/tasks/claim", workerToken, `{"stages":["test"],"worker":"../x"}`)
	require.Equal(t, 400, status, "%v", m)

	task := tb.claim(t, workerToken, "a")
	claim := []string{api.ClaimHeader, task.Claim}
	// the blob the task names, with the claim
	code, data := tb.get(t, "/v1/tasks/"+task.ID+"/blobs/"+tb.named, workerToken, claim...)
	require.Equal(t, 200, code)
	require.Equal(t, tb.blobBy[tb.named], data)
	// a stored blob the task does not name: as absent as one never stored
	code, _ = tb.get(t, "/v1/tasks/"+task.ID+"/blobs/"+tb.other, workerToken, claim...)
	require.Equal(t, 404, code)
	// without the claim, with another's claim token, or by another worker with this claim
	code, _ = tb.get(t, "/v1/tasks/"+task.ID+"/blobs/"+tb.named, workerToken, api.ClaimHeader, "0000")
	require.Equal(t, 409, code)
	code, _ = tb.get(t, "/v1/tasks/"+task.ID+"/blobs/"+tb.named, worker2Token, claim...)
	require.Equal(t, 409, code)
	// a task id that was never handed out
	code, _ = tb.get(t, "/v1/tasks/test:1-1/blobs/"+tb.named, workerToken, claim...)
	require.Equal(t, 409, code)
	code, _ = tb.get(t, "/v1/tasks/..%2f..%2fetc/blobs/"+tb.named, workerToken, claim...)
	require.Equal(t, 400, code)

	// a report for another run, stage or attempt than the claimed task's
	for _, body := range []string{
		`{"run_id":"other","report":{"verdict":"pass"}}`,
		`{"stage":"scan","report":{"verdict":"pass"}}`,
		`{"attempt":2,"report":{"verdict":"pass"}}`,
	} {
		status, m, _ := tb.do(t, "POST", "/v1/tasks/"+task.ID+"/report", workerToken, body, claim...)
		require.Equal(t, 409, status, "%s: %v", body, m)
		require.Equal(t, "wrong_task", errCode(m))
	}
	// nonsense verdicts and empty results, and a worker claiming to be the dead-letter path
	for _, body := range []string{`{"report":{"verdict":"great"}}`, `{}`, `{"error":"x","report":{"verdict":"pass"}}`, `{"dead_letter":true}`} {
		status, m, _ := tb.do(t, "POST", "/v1/tasks/"+task.ID+"/report", workerToken, body, claim...)
		require.Equal(t, 400, status, "%s: %v", body, m)
	}
	// another worker cannot report with this claim
	status, m, _ = tb.do(t, "POST", "/v1/tasks/"+task.ID+"/report", worker2Token, report("fail"), claim...)
	require.Equal(t, 409, status, "%v", m)
	require.Equal(t, "no_claim", errCode(m))
	raw, err := tb.q.ResultGet(context.Background(), tb.runID+"/test/1")
	require.NoError(t, err)
	require.Nil(t, raw, "no refused report may leave a result")

	// the real report is stored, then the task acknowledged
	status, m, _ = tb.do(t, "POST", "/v1/tasks/"+task.ID+"/report", workerToken, report("pass"), claim...)
	require.Equal(t, 200, status, "%v", m)
	pending, err := tb.q.Pending(context.Background(), "test")
	require.NoError(t, err)
	require.Zero(t, pending)
	// and its claim is spent: a second report (a redelivery's worker, a replay) changes nothing
	status, m, _ = tb.do(t, "POST", "/v1/tasks/"+task.ID+"/report", workerToken, report("fail"), claim...)
	require.Equal(t, 409, status, "%v", m)
	raw, err = tb.q.ResultGet(context.Background(), tb.runID+"/test/1")
	require.NoError(t, err)
	var res work.Result
	require.NoError(t, json.Unmarshal(raw, &res))
	require.Equal(t, pipeline.Pass, res.Report.Verdict)
	require.Equal(t, "test", res.Report.Stage)
	require.Equal(t, "w1/a", res.Worker)
	require.False(t, res.DeadLetter)
}

// TestRedeliveredTaskBelongsToTheNewWorker: once a quiet worker's task is
// claimed by another after ClaimIdle, the first one's claim is void, and
// of two reports for one run/stage/attempt only the first is kept.
func TestRedeliveredTaskBelongsToTheNewWorker(t *testing.T) {
	t.Parallel()
	tb := setupTasks(t, 200*time.Millisecond)
	first := tb.claim(t, workerToken, "a")
	time.Sleep(300 * time.Millisecond)
	second := tb.claim(t, worker2Token, "b")
	require.Equal(t, first.ID, second.ID)
	require.EqualValues(t, 2, second.Deliveries)

	status, m, _ := tb.do(t, "POST", "/v1/tasks/"+first.ID+"/report", workerToken, report("fail"), api.ClaimHeader, first.Claim)
	require.Equal(t, 409, status, "%v", m)
	require.Equal(t, "no_claim", errCode(m))
	status, m, _ = tb.do(t, "POST", "/v1/tasks/"+second.ID+"/report", worker2Token, report("warn"), api.ClaimHeader, second.Claim)
	require.Equal(t, 200, status, "%v", m)

	// a result already stored (the first worker of a task reported just
	// before its redelivery was claimed) stands against a later one
	tb2 := setupTasks(t, 200*time.Millisecond)
	a := tb2.claim(t, workerToken, "a")
	time.Sleep(300 * time.Millisecond)
	b := tb2.claim(t, worker2Token, "b")
	require.NoError(t, tb2.q.ResultPut(context.Background(), tb2.runID+"/test/1", []byte(`{"report":{"verdict":"fail"},"worker":"w1/a"}`)))
	_ = a
	status, m, _ = tb2.do(t, "POST", "/v1/tasks/"+b.ID+"/report", worker2Token, report("pass"), api.ClaimHeader, b.Claim)
	require.Equal(t, 409, status, "%v", m)
	require.Equal(t, "already_reported", errCode(m))
	pending, err := tb2.q.Pending(context.Background(), "test")
	require.NoError(t, err)
	require.Zero(t, pending, "a duplicate is acknowledged, so it stops cycling")
	raw, err := tb2.q.ResultGet(context.Background(), tb2.runID+"/test/1")
	require.NoError(t, err)
	require.Contains(t, string(raw), `"fail"`)
}

// TestHeartbeatKeepsATaskFromOtherWorkers: a worker that keeps beating
// keeps its task past ClaimIdle; once it stops, another worker gets it;
// the first one's heartbeat then says its claim is gone.
func TestHeartbeatKeepsATaskFromOtherWorkers(t *testing.T) {
	t.Parallel()
	tb := setupTasks(t, 300*time.Millisecond)
	first := tb.claim(t, workerToken, "a")
	require.InDelta(t, 0.1, first.HeartbeatSeconds, 1e-9)
	for range 6 {
		time.Sleep(100 * time.Millisecond)
		status, m, _ := tb.do(t, "POST", "/v1/tasks/"+first.ID+"/heartbeat", workerToken, "", api.ClaimHeader, first.Claim)
		require.Equal(t, 204, status, "%v", m)
	}
	status, m, _ := tb.do(t, "POST", "/v1/tasks/claim", worker2Token, `{"stages":["test"],"worker":"b"}`)
	require.Equal(t, 200, status)
	require.Empty(t, m["tasks"], "a task whose worker beats is nobody else's")
	// another worker's heartbeat with the claim is refused and keeps nothing
	status, _, _ = tb.do(t, "POST", "/v1/tasks/"+first.ID+"/heartbeat", worker2Token, "", api.ClaimHeader, first.Claim)
	require.Equal(t, 409, status)
	time.Sleep(400 * time.Millisecond)
	second := tb.claim(t, worker2Token, "b")
	require.Equal(t, first.ID, second.ID)
	require.EqualValues(t, 2, second.Deliveries, "heartbeats do not count as deliveries")
	status, m, _ = tb.do(t, "POST", "/v1/tasks/"+first.ID+"/heartbeat", workerToken, "", api.ClaimHeader, first.Claim)
	require.Equal(t, 409, status, "%v", m)
	require.Equal(t, "no_claim", errCode(m))
}

// TestTrainArtifactComesBackOnlyThroughItsTask: only the worker holding
// a train task's claim may upload, only bytes of the digest it names, and
// its report may name that artifact and no other blob (a stored input of
// another run, say); the worker's path is dropped.
func TestTrainArtifactComesBackOnlyThroughItsTask(t *testing.T) {
	t.Parallel()
	tb := setupTasks(t, time.Minute)
	ctx := context.Background()
	body, _ := json.Marshal(work.Body{Config: "model: fraud\ntask: binary\n"})
	_, err := tb.q.Publish(ctx, taskq.Task{RunID: tb.runID, Stage: "train", Attempt: 1, Body: body})
	require.NoError(t, err)
	testTask := tb.claim(t, workerToken, "a")
	require.Equal(t, "test", testTask.Stage)
	status, m, _ := tb.do(t, "POST", "/v1/tasks/claim", workerToken, `{"stages":["train"],"worker":"a"}`)
	require.Equal(t, 200, status, "%v", m)
	raw, _ := json.Marshal(m)
	var reply api.ClaimReply
	require.NoError(t, json.Unmarshal(raw, &reply))
	require.Len(t, reply.Tasks, 1)
	train := reply.Tasks[0]

	artifact := []byte(`{"learner":{}}`)
	sum := sha256.Sum256(artifact)
	digest := "sha256:" + hex.EncodeToString(sum[:])
	put := func(task api.ClaimedTask, token, digest string, data []byte) (int, map[string]any) {
		status, m, _ := tb.do(t, "PUT", "/v1/tasks/"+task.ID+"/blobs/"+digest, token, string(data), api.ClaimHeader, task.Claim)
		return status, m
	}
	// no token, a ci token, a viewer; another worker with this claim; a test task's claim
	for _, tok := range []string{ciToken, viewerToken} {
		status, _ := put(train, tok, digest, artifact)
		require.Equal(t, 403, status)
	}
	status, _ = put(train, "", digest, artifact)
	require.Equal(t, 401, status)
	status, _ = put(train, worker2Token, digest, artifact)
	require.Equal(t, 409, status)
	status, m = put(testTask, workerToken, digest, artifact)
	require.Equal(t, 403, status, "%v", m)
	// bytes that are not the digest
	status, m = put(train, workerToken, digest, []byte("other bytes"))
	require.Equal(t, 400, status, "%v", m)
	require.Equal(t, "digest_mismatch", errCode(m))

	trainReport := func(d string) string {
		return `{"report":{"verdict":"pass","details":{"artifact_path":"/etc/shadow","digest":"` + d + `","size":14,"argv":["x"],"sandbox":"bwrap"}}}`
	}
	// a report naming a blob the server has but this task never uploaded
	status, m, _ = tb.do(t, "POST", "/v1/tasks/"+train.ID+"/report", workerToken, trainReport(tb.named), api.ClaimHeader, train.Claim)
	require.Equal(t, 400, status, "%v", m)
	status, m, _ = tb.do(t, "POST", "/v1/tasks/"+train.ID+"/report", workerToken, `{"report":{"verdict":"pass"}}`, api.ClaimHeader, train.Claim)
	require.Equal(t, 400, status, "%v", m)

	status, m = put(train, workerToken, digest, artifact)
	require.Equal(t, 200, status, "%v", m)
	status, m, _ = tb.do(t, "POST", "/v1/tasks/"+train.ID+"/report", workerToken, trainReport(digest), api.ClaimHeader, train.Claim)
	require.Equal(t, 200, status, "%v", m)
	stored, err := tb.q.ResultGet(ctx, tb.runID+"/train/1")
	require.NoError(t, err)
	var res work.Result
	require.NoError(t, json.Unmarshal(stored, &res))
	require.NotContains(t, string(res.Report.Details), "/etc/shadow", "a worker's path is never kept")
	require.Contains(t, string(res.Report.Details), digest)
}

func (tb *taskBundle) get(t *testing.T, path, token string, headers ...string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest("GET", tb.srv.URL+path, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, data
}

// TestWorkerRoleMayOnlyWork: of every action the authorization policy
// knows, a worker token may do two, on any model and environment.
func TestWorkerRoleMayOnlyWork(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	engine, err := oversight.NewEngine(ctx, oversight.EngineOptions{Logger: log.NewWithOptions(io.Discard, log.Options{})})
	require.NoError(t, err)
	w := auth.Principal{Subject: "w1", Roles: []string{"worker"}}
	for _, action := range []string{"trigger", "upload", "train", "train_network", "approve", "reject", "promote", "rollback",
		"abort", "reload", "read", "configure", "work", "blob_read", "alias", "annotate"} {
		for _, scope := range [][2]string{{"", ""}, {"fraud", "production"}} {
			ok, err := engine.Authorize(ctx, oversight.AuthzInput{Principal: w, Action: action, Model: scope[0], Environment: scope[1]})
			require.NoError(t, err)
			require.Equal(t, action == "work" || action == "blob_read", ok, "%s on %v", action, scope)
		}
	}
}
