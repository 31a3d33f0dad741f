package coordinator_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/coordinator"
)

// TestTrainedVersionRecordsLineage: a real training command runs, and the
// version it registers names the data it read (by digest, checked with an
// independent sha256 of the files), the config's digest, the commit and
// its author from the run's labels, the command as run, the environment
// with the secret masked, the sandbox, the stages' metrics and the
// decision that let it in.
func TestTrainedVersionRecordsLineage(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	ref := []byte("amount,target\n1,0\n2,1\n")
	hold := []byte("amount,target\n3,1\n")
	require.NoError(t, os.WriteFile(filepath.Join(b.dir, "train.csv"), ref, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(b.dir, "holdout.csv"), hold, 0o644))
	cfg := []byte(`model: fraud
task: binary
data: {reference: train.csv, holdout: holdout.csv}
candidate: {artifact: model.json}
train:
  command: [/bin/sh, -c, "echo seed $SEED; echo '{\"learner\":{}}' > {{.ArtifactDir}}/model.json", "{{.Reference}}"]
  env: {SEED: "7", API_KEY: sk-abcdefghijklmnopqrstuvwxyz}
  timeout: 20s
`)
	run, created, err := b.coord.Submit(context.Background(), coordinator.SubmitParams{Config: cfg, File: "modelgate.yaml", BaseDir: b.dir,
		Requester: "ci-bot", Trigger: "github", CommitAuthor: "ana", Labels: map[string]string{"commit": "9f2c1e0a", "image": "python:3.12"}})
	require.NoError(t, err)
	require.True(t, created)
	run = b.wait(t, run.ID, false)
	require.Equal(t, "succeeded", string(run.State), run.Error)

	vs, err := b.store.ModelVersionList(context.Background(), "fraud")
	require.NoError(t, err)
	require.Len(t, vs, 1)
	l := vs[0].Lineage
	require.NotNil(t, l)
	digest := func(b []byte) string { s := sha256.Sum256(b); return "sha256:" + hex.EncodeToString(s[:]) }
	require.Equal(t, map[string]string{"reference": digest(ref), "holdout": digest(hold)}, l.Data)
	require.Equal(t, digest(cfg), l.ConfigDigest)
	require.Equal(t, "9f2c1e0a", l.Commit)
	require.Equal(t, "ana", l.CommitAuthor)
	require.Equal(t, "ci-bot", l.Requester)
	require.Equal(t, "github", l.Trigger)
	require.Len(t, l.Command, 4)
	require.Equal(t, "/bin/sh", l.Command[0])
	require.Equal(t, filepath.Join(b.dir, "train.csv"), l.Command[3], "the command as run, templated")
	require.Equal(t, map[string]string{"SEED": "7", "API_KEY": "***"}, l.Env)
	require.Equal(t, "python:3.12", l.Toolchain["image"])
	require.NotEmpty(t, l.Toolchain["sandbox"])
	require.NotEmpty(t, l.Toolchain["go"])
	require.Contains(t, l.Evidence, "train.artifact.bytes")
	require.NotEmpty(t, l.Decision, "the decision that let it in")
	require.Equal(t, run.Candidate.Digest, vs[0].Digest)
}
