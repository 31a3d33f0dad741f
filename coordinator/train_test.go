package coordinator_test

import (
	"context"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/internal/store"
)

func TestTrainStage(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		train     string
		want      store.RunState
		wantError string
		wantLog   string
	}{
		{
			name:    "writes an artifact that becomes the candidate",
			train:   `train: {command: [/bin/sh, -c, "echo fitting 80 trees; echo '{\"learner\":{}}' > {{.ArtifactDir}}/model.json"], timeout: 20s}`,
			want:    store.RunSucceeded,
			wantLog: "fitting 80 trees",
		},
		{
			name:      "exits non-zero",
			train:     `train: {command: [/bin/sh, -c, "echo out of memory >&2; exit 3"]}`,
			want:      store.RunFailed,
			wantError: "exited with status 3",
			wantLog:   "out of memory",
		},
		{
			name:      "writes no artifact",
			train:     `train: {command: [/bin/true]}`,
			want:      store.RunFailed,
			wantError: "wrote no artifact",
		},
		{
			name:      "hangs past its timeout",
			train:     `train: {command: [/bin/sh, -c, "sleep 60"], timeout: 200ms}`,
			want:      store.RunFailed,
			wantError: "timed out after 200ms",
		},
		{
			name:      "command not found",
			train:     `train: {command: [/nonexistent/python9, train.py]}`,
			want:      store.RunFailed,
			wantError: "start training command",
		},
		{
			name:      "bad template",
			train:     `train: {command: [/bin/echo, "{{.Nope}}"]}`,
			want:      store.RunFailed,
			wantError: "train.command[1]",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, setupOpts{})
			cfg := []byte("model: fraud\ntask: binary\ncandidate: {artifact: model.json}\n" + tc.train + "\n")
			run := b.submit(t, cfg)
			run = b.wait(t, run.ID, false)
			require.Equal(t, tc.want, run.State, run.Error)
			if tc.wantError != "" {
				require.Contains(t, run.Error, tc.wantError)
			}
			if tc.want == store.RunSucceeded {
				require.FileExists(t, run.Candidate.ArtifactPath)
				data, err := os.ReadFile(run.Candidate.ArtifactPath)
				require.NoError(t, err)
				require.Contains(t, string(data), "learner")
				require.Regexp(t, `^sha256:[0-9a-f]{64}$`, run.Candidate.Digest)
			}
			if tc.wantLog != "" {
				lines, err := b.store.LogList(context.Background(), run.ID)
				require.NoError(t, err)
				var all string
				for _, l := range lines {
					all += l.Text + "\n"
				}
				require.Contains(t, all, tc.wantLog)
			}
		})
	}
}
