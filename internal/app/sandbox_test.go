package app_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/log"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/modelgate/modelgate/coordinator"
	"github.com/modelgate/modelgate/internal/api"
	"github.com/modelgate/modelgate/internal/api/client"
	"github.com/modelgate/modelgate/internal/app"
	"github.com/modelgate/modelgate/internal/auth"
	"github.com/modelgate/modelgate/internal/sandbox"
	"github.com/modelgate/modelgate/internal/store"
)

// TestTrainingCannotReadTheServer is the first hole, end to end
// on a real server with the real bwrap: a token with the train right
// uploads a run whose command tries to print the server's tokens and
// audit key. The sandbox shows it neither; the run trains from its
// uploaded inputs alone; nothing secret reaches the run's log.
func TestTrainingCannotReadTheServer(t *testing.T) {
	if _, err := sandbox.Find(context.Background(), nil); err != nil {
		if os.Getenv("MODELGATE_CI") != "" {
			t.Fatalf("CI must run this with a real bwrap: %v", err)
		}
		t.Skipf("no usable bwrap: %v", err)
	}
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	const trainer = "tess-token-0123456789abcdef"
	b, err := yaml.Marshal(auth.File{Tokens: []auth.Token{{Token: trainer, Name: "tess", Roles: []string{"trainer"}}}})
	require.NoError(t, err)
	tokens := filepath.Join(data, "tokens.yaml")
	require.NoError(t, os.MkdirAll(data, 0o700))
	require.NoError(t, os.WriteFile(tokens, b, 0o600))

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := app.Build(ctx, app.Options{DataDir: data, TokensFile: tokens, NoDeploy: true, Logger: log.NewWithOptions(io.Discard, log.Options{})})
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, s.Start(ctx))
	web := httptest.NewServer(s.Handler)
	defer web.Close()

	// The job's checkout, on "another machine": nothing shared with data.
	work := t.TempDir()
	example, err := filepath.Abs("demo/example")
	require.NoError(t, err)
	for _, f := range []string{"train.csv", "holdout.csv", "model-candidate.json"} {
		b, err := os.ReadFile(filepath.Join(example, f))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(work, f), b, 0o644))
	}
	steal := "cat " + tokens + " " + filepath.Join(data, "audit.key") + " /etc/passwd; env; cp model-candidate.json {{.ArtifactDir}}/model.json"
	cfg := "model: cancer\ntask: binary\nlabel: target\nenvironment: staging\n" +
		"data: {reference: train.csv, holdout: holdout.csv}\n" +
		"train: {command: [sh, -c, \"" + steal + "\"], files: [model-candidate.json], artifact: model.json, env: {SEED: '7', UPLOAD_KEY: mg_0123456789abcdef0123456789abcdef}}\n" +
		"stages: {skip: [test, scan, evaluate]}\n"

	c := client.New(web.URL, trainer)
	files, _, err := c.Upload(ctx, client.UploadParams{Root: work, Paths: []string{"train.csv", "holdout.csv", "model-candidate.json"}})
	require.NoError(t, err)
	var run api.RunView
	_, err = c.Do(ctx, "POST", "/v1/runs", api.RunRequest{Config: cfg, Files: files}, &run)
	require.NoError(t, err)
	final, err := s.Coordinator.Wait(ctx, run.ID, true)
	require.NoError(t, err)

	var logs struct{ Lines []store.LogLine }
	_, err = c.Do(ctx, "GET", "/v1/runs/"+run.ID+"/logs", nil, &logs)
	require.NoError(t, err)
	var text strings.Builder
	for _, l := range logs.Lines {
		text.WriteString(l.Text + "\n")
	}
	out := text.String()
	require.Contains(t, out, "No such file", "the command ran and found nothing to read")
	require.NotContains(t, out, "sha256:", "no token digest")
	require.NotContains(t, out, "tess", "no token names")
	require.NotContains(t, out, "PRIVATE KEY")
	require.NotContains(t, out, "root:x:0", "no /etc/passwd")
	require.Contains(t, out, "SEED=7", "the environment is what the config sets")
	require.NotContains(t, out, "MODELGATE_TEST", "and not the server's")
	require.Contains(t, out, "UPLOAD_KEY=***", "a credential the command prints is masked before it is stored")
	require.NotContains(t, out, "mg_0123456789abcdef")

	stages := map[string]store.Stage{}
	v, err := api.ViewOf(ctx, s.Store, final)
	require.NoError(t, err)
	for _, st := range v.Stages {
		stages[st.Name] = st
	}
	require.Equal(t, store.StageSucceeded, stages["train"].State, "%s %s", final.State, final.Error)
	var rep struct {
		Details struct {
			Sandbox string `json:"sandbox"`
		} `json:"details"`
	}
	require.NoError(t, json.Unmarshal(stages["train"].Report, &rep))
	require.Equal(t, "bwrap", rep.Details.Sandbox)
	require.NotEmpty(t, final.Candidate.Digest, "trained from the uploaded inputs")
}

// TestUnsandboxedTrainingIsAudited: an operator who turns the sandbox off
// leaves a trace on every run it affects, and the report says so.
func TestUnsandboxedTrainingIsAudited(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := app.Build(ctx, app.Options{DataDir: filepath.Join(dir, "data"), NoDeploy: true, UnsafeTrainWithoutSandbox: true,
		Logger: log.NewWithOptions(io.Discard, log.Options{})})
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, s.Start(ctx))
	example, err := filepath.Abs("demo/example")
	require.NoError(t, err)
	cfg := "model: cancer\ntask: binary\nlabel: target\nenvironment: staging\n" +
		"data: {reference: train.csv, holdout: holdout.csv}\n" +
		"train: {command: [cp, model-candidate.json, '{{.ArtifactDir}}/model.json'], artifact: model.json}\n" +
		"stages: {skip: [test, scan, evaluate]}\n"
	run, _, err := s.Coordinator.Submit(ctx, coordinator.SubmitParams{Config: []byte(cfg), BaseDir: example, Requester: "tess"})
	require.NoError(t, err)
	_, err = s.Coordinator.Wait(ctx, run.ID, true)
	require.NoError(t, err)
	es, err := s.Store.AuditList(ctx, store.AuditListParams{RunID: run.ID, Type: "train.unsandboxed"})
	require.NoError(t, err)
	require.Len(t, es, 1)
}
