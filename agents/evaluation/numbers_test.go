package evaluation

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/agents"
	"github.com/modelgate/modelgate/internal/config"
)

// candidate.missing reaches the native model, and the report says which
// missing value each model used (models of testdata/numbers, xgboost 1.7.4).
func TestCandidateMissingFromConfig(t *testing.T) {
	t.Parallel()
	dir, err := filepath.Abs("../../testdata/numbers")
	require.NoError(t, err)
	cases := []struct {
		name, extra, want string
	}{
		{"config sets the sentinel", "  missing: -999\n", "missing value -999 (set by --missing / candidate.missing)"},
		{"nothing recorded, nothing set", "", "missing value nan (xgboost's default; the model records none)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			y := fmt.Sprintf("model: m\ntask: binary\nlabel: target\ndata: {holdout: %s}\ncandidate:\n  artifact: %s\n%sevaluation: {resamples: 20, thresholds: {accuracy: {min: 0.5}}}\n",
				filepath.Join(dir, "input.csv"), filepath.Join(dir, "train-missing999.json"), c.extra)
			cfg, err := config.Parse("modelgate.yaml", []byte(y))
			require.NoError(t, err)
			w := t.TempDir()
			rep, err := New(Options{}).Run(context.Background(), agents.Task{RunID: "r", Stage: Stage, Model: "m", Config: cfg, BaseDir: w, WorkDir: filepath.Join(w, "work"),
				Candidate: agents.Candidate{Version: "v1", ArtifactPath: filepath.Join(dir, "train-missing999.json")}})
			require.NoError(t, err)
			f := findFinding(rep, "eval.inference")
			require.NotNil(t, f, "%+v", rep.Findings)
			require.Contains(t, f.Message, c.want)
		})
	}
}
