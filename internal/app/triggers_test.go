package app_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/charmbracelet/log"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/modelgate/modelgate/internal/api"
	"github.com/modelgate/modelgate/internal/api/client"
	"github.com/modelgate/modelgate/internal/app"
	"github.com/modelgate/modelgate/internal/approval"
	"github.com/modelgate/modelgate/internal/auth"
	"github.com/modelgate/modelgate/internal/chatops/triggers"
	"github.com/modelgate/modelgate/internal/oversight"
	"github.com/modelgate/modelgate/internal/store"
)

const (
	trigAdmin  = "ada-token-0123456789abcdef"
	trigDana   = "dana-token-0123456789abcd" // a reviewer whose GitHub login is dana-gh
	trigViewer = "vic-token-0123456789abcde"
	trigRex    = "rex-token-0123456789abcdef"
	ghSecret   = "a-github-webhook-secret-0123456789"
)

// fakeClock is the schedules' and the monitor's clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Advance(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

// trigServer is a whole modelgate server (internal/app assembly) behind
// httptest, with its gateway on a listener of its own.
type trigServer struct {
	s       *app.Server
	api     *httptest.Server
	gw      *httptest.Server
	clock   *fakeClock
	admin   *client.Client
	example string
	opts    app.Options // to build the same server again on its data folder
}

func newTrigServer(t *testing.T) *trigServer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens.yaml")
	b, err := yaml.Marshal(auth.File{Tokens: []auth.Token{
		{Token: trigAdmin, Name: "ada", Roles: []string{"admin"}},
		{Token: trigDana, Name: "dana", Roles: []string{"reviewer"}, Groups: []string{"ml-reviewers"}, GitHub: "dana-gh"},
		{Token: trigRex, Name: "rex", Roles: []string{"reviewer"}, Groups: []string{"ml-reviewers"}},
		{Token: trigViewer, Name: "vic", Roles: []string{"viewer"}},
	}})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(tokens, b, 0o600))
	// The clock starts near the real time: the store expires claims by its own.
	clk := &fakeClock{now: time.Now().UTC().Truncate(time.Minute).Add(time.Minute)}
	opts := app.Options{DataDir: filepath.Join(dir, "data"), TokensFile: tokens, UnsafeTrainWithoutSandbox: true,
		Logger: log.NewWithOptions(io.Discard, log.Options{}),
		// The loops tick only when the test says so.
		ChatOps: app.ChatOps{GitHubWebhookSecret: ghSecret, Now: clk.Now, TriggerEvery: -1}}
	s, err := app.Build(ctx, opts)
	require.NoError(t, err)
	require.NoError(t, s.Start(ctx))
	t.Cleanup(func() { _ = s.Close() })
	web := httptest.NewServer(s.Handler)
	t.Cleanup(web.Close)
	gw := httptest.NewServer(s.Gateway)
	t.Cleanup(gw.Close)
	example, err := filepath.Abs("demo/example")
	require.NoError(t, err)
	return &trigServer{s: s, api: web, gw: gw, clock: clk, admin: client.New(web.URL, trigAdmin), example: example, opts: opts}
}

// retrainConfig trains by copying the example's candidate model: a real
// train stage (a sandbox-free subprocess) without a real training job.
const retrainConfig = "model: cancer\ntask: binary\nlabel: target\nenvironment: production\n" +
	"data: {reference: train.csv, holdout: holdout.csv}\n" +
	"train: {command: [cp, model-candidate.json, '{{.ArtifactDir}}/model.json'], artifact: model.json}\n" +
	"evaluation: {thresholds: {roc_auc: {min: 0.9}}}\n"

// register PUTs the model's settings as the admin, with the pipeline's
// inputs uploaded first; extra holds the other settings.
func (ts *trigServer) register(t *testing.T, extra map[string]any) {
	t.Helper()
	ctx := context.Background()
	files, _, err := ts.admin.Upload(ctx, client.UploadParams{Root: ts.example, Paths: []string{"train.csv", "holdout.csv", "model-candidate.json"}})
	require.NoError(t, err)
	body := map[string]any{"pipeline": map[string]any{"config": retrainConfig, "files": files}}
	for k, v := range extra {
		body[k] = v
	}
	var out map[string]any
	_, err = ts.admin.Do(ctx, "PUT", "/v1/models/cancer/settings", body, &out)
	require.NoError(t, err)
}

func (ts *trigServer) waitRun(t *testing.T, id string) api.RunView {
	t.Helper()
	var run api.RunView
	require.Eventually(t, func() bool {
		if _, err := ts.admin.Do(context.Background(), "GET", "/v1/runs/"+id, nil, &run); err != nil {
			return false
		}
		return run.State != store.RunQueued && run.State != store.RunRunning
	}, 60*time.Second, 50*time.Millisecond)
	return run
}

func (ts *trigServer) runsBy(t *testing.T, trigger string) []store.Run {
	t.Helper()
	runs, err := ts.s.Store.RunList(context.Background(), store.RunListParams{Model: "cancer"})
	require.NoError(t, err)
	var out []store.Run
	for _, r := range runs {
		if r.Trigger == trigger {
			out = append(out, r)
		}
	}
	return out
}

func githubPost(t *testing.T, url, event, delivery, secret string, body []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequest("POST", url+"/webhooks/github", bytes.NewReader(body))
	require.NoError(t, err)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	req.Header.Set("X-GitHub-Event", event)
	req.Header.Set("X-GitHub-Delivery", delivery)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out)
}

// TestGitHubPushRetrainsThroughTheServer: a signed push that changes the
// model's training code starts a retraining run on the real server, which
// trains and goes on through the pipeline with the commit as metadata;
// the commit's author, a reviewer, cannot approve it; nothing about the
// webhook is open to the weakest caller.
func TestGitHubPushRetrainsThroughTheServer(t *testing.T) {
	t.Parallel()
	ts := newTrigServer(t)
	ctx := context.Background()

	// The weakest callers first: no token, a viewer, a reviewer cannot
	// register a GitHub trigger; an unsigned delivery does nothing.
	gh := map[string]any{"repository": "acme/cancer", "paths": []string{"training/**/*.py"}}
	for _, tok := range []string{"", trigViewer, trigDana} {
		_, err := client.New(ts.api.URL, tok).Do(ctx, "PUT", "/v1/models/cancer/settings",
			map[string]any{"pipeline": map[string]any{"config": retrainConfig}, "github": gh}, nil)
		require.Error(t, err, "token %q", tok)
	}
	push := []byte(`{"ref":"refs/heads/main","after":"` + strings.Repeat("1f", 20) + `",
	  "repository":{"full_name":"acme/cancer","default_branch":"main"},"sender":{"login":"someone-else"},
	  "head_commit":{"id":"x","author":{"name":"Dana","email":"dana@example.com","username":"dana-gh"}},
	  "commits":[{"id":"x","modified":["training/features/scale.py","README.md"]}]}`)
	status, out := githubPost(t, ts.api.URL, "push", "d-unsigned", "not-the-secret-at-all", push)
	require.Equal(t, http.StatusUnauthorized, status, out)
	require.Empty(t, ts.runsBy(t, "github"))

	ts.register(t, map[string]any{"github": gh})
	status, out = githubPost(t, ts.api.URL, "push", "9a1f0c1e-0000-4000-8000-000000000001", ghSecret, push)
	require.Equal(t, http.StatusAccepted, status, out)
	var resp triggers.HookResponse
	require.NoError(t, json.Unmarshal([]byte(out), &resp))
	require.Len(t, resp.Started, 1)
	run := ts.waitRun(t, resp.Started[0].RunID)
	require.Equal(t, store.RunAwaitingApproval, run.State, run.Error)
	require.Equal(t, "github", run.Trigger)
	require.Equal(t, strings.Repeat("1f", 20), run.Labels["commit.sha"])
	require.Equal(t, "dana", run.CommitAuthor)
	trained := false
	for _, st := range run.Stages {
		if st.Name == "train" {
			trained = st.State == store.StageSucceeded
		}
	}
	require.True(t, trained, "the train stage ran: %+v", run.Stages)

	// The same delivery again (GitHub's redelivery, or someone replaying
	// it) starts nothing.
	status, _ = githubPost(t, ts.api.URL, "push", "9a1f0c1e-0000-4000-8000-000000000001", ghSecret, push)
	require.Equal(t, http.StatusConflict, status)
	require.Len(t, ts.runsBy(t, "github"), 1)

	// The author cannot approve the run: where the run waits for a
	// reviewer, dana's approval is refused by the queue.
	a := ts.approvalFor(t, run)
	_, err := client.New(ts.api.URL, trigDana).Do(ctx, "POST", "/v1/approvals/"+a.ID+"/approve", map[string]any{"comment": "lgtm"}, nil)
	require.Error(t, err)
	require.Contains(t, err.Error(), "self_approval")
	// ...while another reviewer of the same group can.
	_, err = client.New(ts.api.URL, trigRex).Do(ctx, "POST", "/v1/approvals/"+a.ID+"/approve", map[string]any{"comment": "lgtm"}, nil)
	require.NoError(t, err)
}

// approvalFor returns the run's pending approval; a run the policy let
// through without one gets one from the queue, as a policy asking for a
// reviewer would (the queue is where the author's vote is refused).
func (ts *trigServer) approvalFor(t *testing.T, run api.RunView) store.Approval {
	t.Helper()
	for _, a := range run.Approvals {
		if a.State == store.ApprovalPending {
			return a
		}
	}
	r, err := ts.s.Store.RunGet(context.Background(), run.ID)
	require.NoError(t, err)
	if r.Candidate.Digest == "" {
		r.Candidate.Digest = "sha256:" + strings.Repeat("0a", 32)
	}
	a, err := ts.s.Queue.Request(context.Background(), approval.ApprovalRequest{Run: r, Decision: oversight.Decision{
		ID: "d-" + run.ID, Allow: true, RequireApproval: true, PolicyRevision: ts.s.Engine.Revision(), Risk: "high"}})
	require.NoError(t, err)
	return a
}

// TestScheduleRetrainsThroughTheServer: a cron schedule registered
// through the API starts a retraining run at its tick on the real server
// (the run trains and reaches the approval), once per tick.
func TestScheduleRetrainsThroughTheServer(t *testing.T) {
	t.Parallel()
	ts := newTrigServer(t)
	ctx := context.Background()
	ts.register(t, map[string]any{"schedule": map[string]any{"cron": "* * * * *"}})

	out, err := ts.s.Scheduler.Tick(ctx) // the clock stands on a minute: a tick, on time
	require.NoError(t, err)
	require.Len(t, out, 1)
	require.Equal(t, "started", out[0].Action, out[0].Error)
	run := ts.waitRun(t, out[0].RunID)
	require.Equal(t, store.RunAwaitingApproval, run.State, run.Error)
	require.Equal(t, "schedule", run.Trigger)
	require.Equal(t, ts.clock.Now().Format(time.RFC3339), run.Labels["schedule.tick"])

	again, err := ts.s.Scheduler.Tick(ctx)
	require.NoError(t, err)
	require.Empty(t, again, "the same tick twice")
	ts.clock.Advance(time.Minute)
	next, err := ts.s.Scheduler.Tick(ctx)
	require.NoError(t, err)
	require.Len(t, next, 1)
	require.Len(t, ts.runsBy(t, "schedule"), 2)

	// Both starts are in the audit trail, with their ticks.
	entries, err := ts.s.Store.AuditList(ctx, store.AuditListParams{Type: triggers.EventScheduleStarted})
	require.NoError(t, err)
	require.Len(t, entries, 2)

	// The server restarts within the same minute: the tick is claimed in
	// its store, so the new process starts nothing for it.
	ts.api.Close()
	require.NoError(t, ts.s.Close())
	again2, err := app.Build(ctx, ts.opts)
	require.NoError(t, err)
	defer again2.Close()
	require.NoError(t, again2.Start(ctx))
	out, err = again2.Scheduler.Tick(ctx)
	require.NoError(t, err)
	require.Empty(t, out, "a restarted server started the same tick again")
	runs, err := again2.Store.RunList(ctx, store.RunListParams{Model: "cancer"})
	require.NoError(t, err)
	require.Len(t, runs, 2)
}
