package app_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/charmbracelet/log"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/modelgate/modelgate/internal/api"
	"github.com/modelgate/modelgate/internal/api/client"
	"github.com/modelgate/modelgate/internal/app"
	"github.com/modelgate/modelgate/internal/auth"
	"github.com/modelgate/modelgate/internal/store"
)

// restartable is a server whose process can be stopped and started
// again on the same data folder and address, as an operator's restart
// (or a crash and a supervisor) would.
type restartable struct {
	t    *testing.T
	dir  string
	addr string
	s    *app.Server
	web  *httptest.Server
}

// restartAdmin is the admin token of every restartable server.
const restartAdmin = "ada-token-0123456789abcdef"

func (r *restartable) start(ctx context.Context) {
	r.t.Helper()
	tokens := filepath.Join(r.dir, "data", "tokens.yaml")
	if _, err := os.Stat(tokens); err != nil {
		b, err := yaml.Marshal(auth.File{Tokens: []auth.Token{{Token: restartAdmin, Name: "ada", Roles: []string{"admin"}}}})
		require.NoError(r.t, err)
		require.NoError(r.t, os.MkdirAll(filepath.Dir(tokens), 0o700))
		require.NoError(r.t, os.WriteFile(tokens, b, 0o600))
	}
	s, err := app.Build(ctx, app.Options{DataDir: filepath.Join(r.dir, "data"), NoDeploy: true, UnsafeTrainWithoutSandbox: true,
		Logger: log.NewWithOptions(io.Discard, log.Options{})})
	require.NoError(r.t, err)
	require.NoError(r.t, s.Start(ctx))
	var ln net.Listener
	addr := r.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	require.Eventually(r.t, func() bool { ln, err = net.Listen("tcp", addr); return err == nil }, 5*time.Second, 20*time.Millisecond)
	r.addr = ln.Addr().String()
	web := httptest.NewUnstartedServer(s.Handler)
	web.Listener.Close()
	web.Listener = ln
	web.Start()
	r.s, r.web = s, web
}

func (r *restartable) stop() {
	r.web.CloseClientConnections()
	r.web.Close()
	_ = r.s.Close()
}

// TestWaitFollowsARunAcrossARestart is the issue's `--wait gives up on a
// server restart`: the client following a run's events loses its
// connection when the server stops, reconnects with backoff while it is
// down, resumes from the last event id, and sees the run end, with no
// event twice.
func TestWaitFollowsARunAcrossARestart(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv := &restartable{t: t, dir: t.TempDir()}
	srv.start(ctx)
	defer func() { srv.stop() }()

	example, err := filepath.Abs("demo/example")
	require.NoError(t, err)
	// Training long enough for the restart to land in its middle.
	cfg := "model: cancer\ntask: binary\nlabel: target\nenvironment: staging\n" +
		"data: {reference: train.csv, holdout: holdout.csv}\n" +
		"train: {command: [sh, -c, 'sleep 2; cp model-candidate.json {{.ArtifactDir}}/model.json'], artifact: model.json}\n" +
		"stages: {skip: [test, scan, evaluate]}\n"
	c := client.New("http://"+srv.addr, restartAdmin)
	files, _, err := c.Upload(ctx, client.UploadParams{Root: example, Paths: []string{"train.csv", "holdout.csv", "model-candidate.json"}})
	require.NoError(t, err)
	var run api.RunView
	_, err = c.Do(ctx, "POST", "/v1/runs", api.RunRequest{Config: cfg, Files: files}, &run)
	require.NoError(t, err)

	var (
		mu           sync.Mutex
		ids          []int64
		types        []string
		final        string
		reconnects   int
		trainStarted = make(chan struct{})
		once         sync.Once
	)
	followed := make(chan error, 1)
	go func() {
		followed <- c.EventsWith(ctx, run.ID, client.EventsParams{MinBackoff: 50 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
			Reconnecting: func(error, time.Duration) { mu.Lock(); reconnects++; mu.Unlock() }},
			func(e client.Event) error {
				mu.Lock()
				defer mu.Unlock()
				types = append(types, e.Type)
				if e.ID != "" && e.Type != "snapshot" {
					id, err := strconv.ParseInt(e.ID, 10, 64)
					require.NoError(t, err)
					ids = append(ids, id)
				}
				var ev api.StreamEvent
				_ = json.Unmarshal(e.Data, &ev)
				if e.Type == "stage" && ev.Stage == "train" && ev.StageState == store.StageRunning {
					once.Do(func() { close(trainStarted) })
				}
				// Under load the stream can open after training began: the
				// snapshot then shows the stage running, and no stage event
				// for it follows.
				if e.Type == "snapshot" {
					var v api.RunView
					if json.Unmarshal(e.Data, &v) == nil {
						for _, st := range v.Stages {
							if st.Name == "train" && st.State == store.StageRunning {
								once.Do(func() { close(trainStarted) })
							}
						}
					}
				}
				if e.Type == "state" {
					final = string(ev.State) + " " + ev.Message
				}
				if e.Type == "stage" && ev.Message != "" {
					t.Logf("stage %s %s: %s", ev.Stage, ev.StageState, ev.Message)
				}
				return nil
			})
	}()
	select {
	case <-trainStarted:
	case <-ctx.Done():
		t.Fatal("training never started")
	}
	srv.stop()
	time.Sleep(300 * time.Millisecond) // down for a few tries of the client
	srv.start(ctx)

	select {
	case err := <-followed:
		require.NoError(t, err, "the client follows the run to its end")
	case <-ctx.Done():
		t.Fatal("the client never saw the run end")
	}
	mu.Lock()
	defer mu.Unlock()
	require.Positive(t, reconnects, "the stream broke and was resumed")
	// The run ends as the policy judges it (denied: the test skipped the
	// stages it requires); the point is that the client saw that end.
	got, err := srv.s.Store.RunGet(ctx, run.ID)
	require.NoError(t, err)
	require.True(t, got.State.Terminal())
	require.Equal(t, string(got.State)+" "+got.Error, final, "events: %v", types)
	for i := 1; i < len(ids); i++ {
		require.Greater(t, ids[i], ids[i-1], "every event once, in order: %v", ids)
	}
}

// TestEventsReplayAfterLastEventID: a client that reconnects with
// Last-Event-ID gets exactly the events after it, each with its id.
func TestEventsReplayAfterLastEventID(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	srv := &restartable{t: t, dir: t.TempDir()}
	srv.start(ctx)
	t.Cleanup(srv.stop)
	example, err := filepath.Abs("demo/example")
	require.NoError(t, err)
	cfg := "model: cancer\ntask: binary\nlabel: target\nenvironment: staging\n" +
		"data: {reference: train.csv, holdout: holdout.csv}\ncandidate: {artifact: model-candidate.json}\n" +
		"stages: {skip: [test, scan, evaluate]}\n"
	c := client.New("http://"+srv.addr, restartAdmin)
	files, _, err := c.Upload(ctx, client.UploadParams{Root: example, Paths: []string{"train.csv", "holdout.csv", "model-candidate.json"}})
	require.NoError(t, err)
	var run api.RunView
	_, err = c.Do(ctx, "POST", "/v1/runs", api.RunRequest{Config: cfg, Files: files}, &run)
	require.NoError(t, err)
	_, err = srv.s.Coordinator.Wait(ctx, run.ID, false)
	require.NoError(t, err)
	all, err := srv.s.Store.AuditList(ctx, store.AuditListParams{RunID: run.ID})
	require.NoError(t, err)
	require.Greater(t, len(all), 3)

	tests := []struct {
		name     string
		lastID   string
		wantFrom int // index in all of the first entry replayed
		status   int
	}{
		{"no id: the snapshot only", "", len(all), 200},
		{"from the start", "0", 0, 200},
		{"after the second", strconv.FormatInt(all[1].Seq, 10), 2, 200},
		{"not a number", "abc", 0, 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req, err := http.NewRequestWithContext(ctx, "GET", "http://"+srv.addr+"/v1/runs/"+run.ID+"/events", nil)
			require.NoError(t, err)
			req.Header.Set("Authorization", "Bearer "+c.Token)
			if tc.lastID != "" {
				req.Header.Set("Last-Event-ID", tc.lastID)
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			require.Equal(t, tc.status, resp.StatusCode)
			if tc.status != 200 {
				return
			}
			body, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			var got []string
			for _, blk := range splitEvents(string(body)) {
				if blk.typ != "snapshot" {
					got = append(got, blk.id)
				}
			}
			var want []string
			for _, e := range all[tc.wantFrom:] {
				want = append(want, strconv.FormatInt(e.Seq, 10))
			}
			require.Equal(t, want, got)
		})
	}
}

type sseBlock struct{ id, typ string }

func splitEvents(body string) []sseBlock {
	var out []sseBlock
	var cur sseBlock
	for _, line := range splitLines(body) {
		switch {
		case len(line) > 4 && line[:4] == "id: ":
			cur.id = line[4:]
		case len(line) > 7 && line[:7] == "event: ":
			cur.typ = line[7:]
		case line == "":
			if cur.typ != "" {
				out = append(out, cur)
			}
			cur = sseBlock{}
		}
	}
	return out
}

func splitLines(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return out
}
