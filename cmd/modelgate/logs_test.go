package main

import (
	"context"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
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

// TestRunsLogsFollowsTrainingLive: training output reaches the run's log
// line by line while the command still runs, each line stamped when it
// was written, and `modelgate runs logs --follow` prints every line once,
// in order, with its time, and stops when the run ends.
func TestRunsLogsFollowsTrainingLive(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a training command on a server")
	}
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	const admin = "ada-token-0123456789abcdef"
	b, err := yaml.Marshal(auth.File{Tokens: []auth.Token{{Token: admin, Name: "ada", Roles: []string{"admin"}}}})
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "data"), 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "data", "tokens.yaml"), b, 0o600))
	s, err := app.Build(ctx, app.Options{DataDir: filepath.Join(dir, "data"), NoDeploy: true, UnsafeTrainWithoutSandbox: true,
		Logger: log.NewWithOptions(io.Discard, log.Options{})})
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, s.Start(ctx))
	web := httptest.NewServer(s.Handler)
	defer web.Close()

	example, err := filepath.Abs("../../internal/app/demo/example")
	require.NoError(t, err)
	// Three epochs a second apart, the last one only after a marker file
	// the test creates: so the test can see the first line while the
	// command is provably still running.
	gate := filepath.Join(t.TempDir(), "go-on")
	cfg := "model: cancer\ntask: binary\nlabel: target\nenvironment: staging\n" +
		"data: {reference: train.csv, holdout: holdout.csv}\n" +
		"train: {command: [sh, -c, 'echo epoch 1; sleep 1; echo epoch 2; while [ ! -e " + gate + " ]; do sleep 0.05; done; echo epoch 3 >&2; cp model-candidate.json {{.ArtifactDir}}/model.json'], artifact: model.json}\n" +
		"stages: {skip: [test, scan, evaluate]}\n"
	c := client.New(web.URL, admin)
	files, _, err := c.Upload(ctx, client.UploadParams{Root: example, Paths: []string{"train.csv", "holdout.csv", "model-candidate.json"}})
	require.NoError(t, err)
	var run api.RunView
	_, err = c.Do(ctx, "POST", "/v1/runs", api.RunRequest{Config: cfg, Files: files}, &run)
	require.NoError(t, err)

	// epoch 2 is in the log before the command may finish: lines are
	// stored as they are written, not when training ends.
	var page logsPage
	require.Eventually(t, func() bool {
		page = logsPage{}
		_, err := c.Do(ctx, "GET", "/v1/runs/"+run.ID+"/logs?stage=train", nil, &page)
		require.NoError(t, err)
		return len(page.Lines) >= 2
	}, time.Minute, 50*time.Millisecond)
	require.Equal(t, []string{"epoch 1", "epoch 2"}, texts(page.Lines))
	require.False(t, page.State.Terminal())
	// each line carries the time it was written: a second apart, at least
	require.GreaterOrEqual(t, page.Lines[1].Time.Sub(page.Lines[0].Time), 900*time.Millisecond)
	// after= returns only what a follower has not seen
	var rest logsPage
	_, err = c.Do(ctx, "GET", "/v1/runs/"+run.ID+"/logs?after="+itoa(page.Lines[0].Seq), nil, &rest)
	require.NoError(t, err)
	require.Equal(t, "epoch 2", rest.Lines[0].Text)

	require.NoError(t, os.WriteFile(gate, nil, 0o600))
	code, stdout, stderr := cli("runs", "logs", run.ID[:8], "--follow", "--interval", "100ms", "--stage", "train", "--server", web.URL, "--token", admin)
	require.Equal(t, 0, code, stderr)
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	require.Len(t, lines, 3, stdout)
	for i, l := range lines {
		f := strings.Fields(l)
		require.Len(t, f, 4, l)
		_, err := time.Parse("2006-01-02T15:04:05.000Z", f[0])
		require.NoError(t, err, "a timestamp first: %q", l)
		require.Equal(t, "train", f[1])
		require.Equal(t, "epoch "+itoa(int64(i+1)), f[2]+" "+f[3])
	}
	got, err := s.Store.RunGet(ctx, run.ID)
	require.NoError(t, err)
	require.True(t, got.State.Terminal(), "--follow returned only once the run ended")

	// bad input is named
	code, _, stderr = cli("runs", "logs", run.ID, "--server", web.URL, "--token", admin, "--stage", "train", "--interval", "x")
	require.Equal(t, 2, code)
	require.Contains(t, stderr, "interval")
	var apiErr logsPage
	_, err = c.Do(ctx, "GET", "/v1/runs/"+run.ID+"/logs?after=-1", nil, &apiErr)
	require.ErrorContains(t, err, "after")
}

func texts(ls []store.LogLine) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.Text
	}
	return out
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
