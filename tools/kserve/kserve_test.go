package kserve

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

var update = flag.Bool("update", false, "rewrite golden files")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./tools/kserve -update to create %s", path)
	require.Equal(t, string(want), string(got))
}

func TestRenderRolloutGolden(t *testing.T) {
	t.Parallel()
	min := 1
	tests := []struct {
		name   string
		params Params
		steps  []int
	}{
		{"fraud-canary", Params{Name: "fraud-detector", Namespace: "ml", StorageURI: "s3://models/fraud-detector/v2",
			Version: "v2", RunID: "run-123", MinReplicas: &min, MaxReplicas: 3, CPU: "1", Memory: "2Gi"}, []int{5, 25, 50, 100}},
		{"sklearn-no-final-100", Params{Name: "churn", StorageURI: "gs://b/churn", Format: "sklearn", Runtime: "kserve-mlserver"}, []int{10, 50}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			steps, err := RenderRollout(tc.params, tc.steps)
			require.NoError(t, err)
			golden(t, tc.name+".yaml", Join(steps))
			// every document is valid YAML with the expected traffic share
			for _, s := range steps {
				var m map[string]any
				require.NoError(t, yaml.Unmarshal(s.YAML, &m))
				pred := m["spec"].(map[string]any)["predictor"].(map[string]any)
				if s.Percent == 100 {
					require.NotContains(t, pred, "canaryTrafficPercent")
				} else {
					require.Equal(t, s.Percent, pred["canaryTrafficPercent"])
				}
			}
		})
	}
}

func TestRenderBadInput(t *testing.T) {
	t.Parallel()
	neg := -1
	tests := []struct {
		name   string
		params Params
		steps  []int
		msg    string
	}{
		{"upper-case name", Params{Name: "Fraud", StorageURI: "s3://x"}, []int{50}, "DNS-1123"},
		{"no storage", Params{Name: "fraud"}, []int{50}, "storage URI"},
		{"bad namespace", Params{Name: "f", Namespace: "a_b", StorageURI: "s3://x"}, []int{50}, "namespace"},
		{"negative replicas", Params{Name: "f", StorageURI: "s3://x", MinReplicas: &neg}, []int{50}, "min replicas"},
		{"steps decrease", Params{Name: "f", StorageURI: "s3://x"}, []int{50, 10}, "increase"},
		{"step 0", Params{Name: "f", StorageURI: "s3://x"}, []int{0, 10}, "1..100"},
		{"step 101", Params{Name: "f", StorageURI: "s3://x"}, []int{101}, "1..100"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := RenderRollout(tc.params, tc.steps)
			require.ErrorContains(t, err, tc.msg)
		})
	}
}
