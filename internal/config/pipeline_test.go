package config_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/internal/config"
)

func TestParseStrict(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		yaml  string
		wants []string // substrings, each must appear in the error
	}{
		{
			name:  "unknown top-level key with line and column",
			yaml:  "model: m\ntask: binary\ncandidate: {artifact: m.json}\nthreshhold: 0.5\n",
			wants: []string{"line 4 column 1", `unknown key "threshhold"`},
		},
		{
			name:  "unknown nested key",
			yaml:  "model: m\ntask: binary\ncandidate:\n  artifact: m.json\n  artefact: x\n",
			wants: []string{"line 5 column 3", "candidate.artefact"},
		},
		{
			name:  "every problem at once",
			yaml:  "task: clustering\nstages: {retries: 50}\n",
			wants: []string{"model: is required", "task: must be one of", "stages.retries", "candidate"},
		},
		{
			name:  "train.artifact outside the artifact folder",
			yaml:  "model: m\ntask: binary\ntrain: {command: [python, t.py], artifact: ../../data/audit.key}\n",
			wants: []string{"train.artifact: must be a relative path inside"},
		},
		{
			name:  "train.artifact absolute",
			yaml:  "model: m\ntask: binary\ntrain: {command: [python, t.py], artifact: /etc/passwd}\n",
			wants: []string{"train.artifact: must be a relative path inside"},
		},
		{
			name:  "value of the wrong type",
			yaml:  "model: m\ntask: binary\ncandidate: {artifact: m.json}\nstages: {retries: many}\n",
			wants: []string{"line 4"},
		},
		{
			name:  "bad duration names its place",
			yaml:  "model: m\ntask: binary\ncandidate: {artifact: m.json}\ntrain: {command: [x], timeout: forever}\n",
			wants: []string{"line 4", "not a duration"},
		},
		{
			name:  "malformed yaml",
			yaml:  "model: [unclosed\n",
			wants: []string{"not valid YAML"},
		},
		{
			name:  "empty file",
			yaml:  "",
			wants: []string{"empty"},
		},
		{
			name:  "both artifact and endpoint",
			yaml:  "model: m\ntask: binary\ncandidate: {artifact: a, endpoint: http://x}\n",
			wants: []string{"not both"},
		},
		{
			name:  "model name unsafe for URLs",
			yaml:  "model: ../etc\ntask: binary\ncandidate: {artifact: a}\n",
			wants: []string{"model: must be letters"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := config.Parse("modelgate.yaml", []byte(tc.yaml))
			require.Error(t, err)
			var ce *config.Error
			require.True(t, errors.As(err, &ce), "want *config.Error, got %T", err)
			require.Contains(t, err.Error(), "modelgate.yaml")
			for _, w := range tc.wants {
				require.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestParseDefaults(t *testing.T) {
	t.Parallel()
	p, err := config.Parse("m.yaml", []byte("model: fraud\ntask: binary\ncandidate: {artifact: model.json}\ntrain: {command: [python3, train.py]}\n"))
	require.NoError(t, err)
	require.Equal(t, "production", p.Environment)
	require.Equal(t, "target", p.Label)
	require.Equal(t, 30*time.Minute, p.Train.Timeout.Duration)
	require.Equal(t, 10*time.Minute, p.Stages.Timeout.Duration)
	require.Equal(t, 2, p.Stages.Retries)
	require.Equal(t, 0.5, p.Validation.Drift.Share)
	require.Equal(t, "fraud", p.Candidate.Name)
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("model: fraud\ntask: binary\ncandidate: {artifact: model.json}\n"))
	f.Add([]byte("model: m\ntask: regression\ntrain: {command: [a, b], timeout: 3m}\nstages: {skip: [scan]}\n"))
	f.Add([]byte("a: &x {b: *x}\n"))
	f.Add([]byte("- [1, 2]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := config.Parse("fuzz.yaml", data)
		if err == nil && p == nil {
			t.Fatal("nil pipeline without error")
		}
	})
}
