package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const driftTD = "../../testdata/drift/"

func runDriftCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := execute(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestDriftCLI(t *testing.T) {
	dir := t.TempDir()
	html := filepath.Join(dir, "drift.html")
	tests := []struct {
		name string
		args []string
		code int
		out  []string
		err  string
	}{
		{name: "table", args: []string{"drift", "--reference", driftTD + "train.csv", "--current", driftTD + "holdout-drifted.csv", "--exclude", "target"},
			out: []string{"mean_radius", "DRIFT", "3 of 30 columns drifted (10.0%, threshold 50%): no dataset drift"}},
		{name: "dataset drift exits 1", args: []string{"drift", "--reference", driftTD + "train.csv", "--current", driftTD + "holdout-drifted.csv", "--columns", "mean_radius,mean_texture,area_error"},
			code: 1, out: []string{"DATASET DRIFT"}},
		{name: "fail on column", args: []string{"drift", "--reference", driftTD + "train.csv", "--current", driftTD + "holdout-drifted.csv", "--fail-on", "column"}, code: 1},
		{name: "html", args: []string{"drift", "--reference", driftTD + "train.csv", "--current", driftTD + "holdout-drifted.csv", "--html", html}},
		{name: "stream", args: []string{"drift", "--reference", driftTD + "train.csv", "--current", driftTD + "holdout-drifted.csv", "--stream", "--memory-budget", "64MiB"},
			out: []string{"3 of 31 columns drifted"}},
		{name: "missing file", args: []string{"drift", "--reference", driftTD + "train.csv", "--current", driftTD + "nope.csv"}, code: 2, err: "nope.csv"},
		{name: "unknown column", args: []string{"drift", "--reference", driftTD + "train.csv", "--current", driftTD + "holdout.csv", "--columns", "zzz"}, code: 2, err: `"zzz"`},
		{name: "bad test flag", args: []string{"drift", "--reference", driftTD + "train.csv", "--current", driftTD + "holdout.csv", "--test", "mean_radius=magic"}, code: 2, err: "magic"},
		{name: "bad correction", args: []string{"drift", "--reference", driftTD + "train.csv", "--current", driftTD + "holdout.csv", "--correction", "bonferroni"}, code: 2},
		{name: "too large for memory", args: []string{"drift", "--reference", driftTD + "train.csv", "--current", driftTD + "holdout.csv", "--max-size", "10KB"}, code: 2, err: "streaming mode"},
		{name: "missing flags", args: []string{"drift", "--reference", driftTD + "train.csv"}, code: 2, err: "--current"},
		{name: "validate clean", args: []string{"validate", "--reference", driftTD + "train.csv", "--data", driftTD + "holdout.csv"}, out: []string{"VALID"}},
		{name: "validate drifted", args: []string{"validate", "--reference", driftTD + "train.csv", "--data", driftTD + "holdout-drifted.csv"}, code: 1,
			out: []string{"completeness", "worst_fractal_dimension", "INVALID"}},
		{name: "validate serving", args: []string{"validate", "--reference", driftTD + "train.csv", "--data", "../../testdata/validate/serving-drifted.csv", "--environment", "serving", "--json"}, code: 1,
			out: []string{`"environment": "serving"`, `"rule": "range"`}},
		{name: "validate bad env", args: []string{"validate", "--reference", driftTD + "train.csv", "--data", driftTD + "holdout.csv", "--environment", "prod"}, code: 2},
		{name: "validate no schema source", args: []string{"validate", "--data", driftTD + "holdout.csv"}, code: 2, err: "--reference"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runDriftCLI(t, tt.args...)
			require.Equal(t, tt.code, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
			for _, s := range tt.out {
				require.Contains(t, out, s)
			}
			require.Contains(t, errOut, tt.err)
		})
	}
	b, err := os.ReadFile(html)
	require.NoError(t, err)
	require.Contains(t, string(b), "<svg")
	require.Contains(t, string(b), "mean_radius")
}

func TestDriftJSONContract(t *testing.T) {
	code, out, _ := runDriftCLI(t, "drift", "--reference", driftTD+"train.csv", "--current", driftTD+"holdout-drifted.csv", "--json", "--columns", "mean_radius,worst_fractal_dimension,area_error")
	require.Equal(t, 0, code, "one of three columns drifted: below the 0.5 share")
	var res map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &res))
	for _, k := range []string{"columns", "drifted_columns", "drift_share", "dataset_drift"} {
		require.Contains(t, res, k)
	}
	col := res["columns"].(map[string]any)["mean_radius"].(map[string]any)
	for _, k := range []string{"type", "test", "statistic", "p_value", "threshold", "drifted", "ks_statistic", "ks_pvalue", "wasserstein", "psi", "null_fraction_reference", "null_fraction_current"} {
		require.Contains(t, col, k)
	}
	require.NotContains(t, out, "histogram")
}

func TestValidateWriteSchemaRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "schema.yaml")
	code, out, errOut := runDriftCLI(t, "validate", "--reference", driftTD+"train.csv", "--write-schema", path)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "written to")
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(b), "# modelgate data schema"))
	code, out, _ = runDriftCLI(t, "validate", "--schema", path, "--data", driftTD+"holdout.csv", "--json")
	require.Equal(t, 0, code)
	require.Contains(t, out, `"valid": true`)
	require.NoError(t, os.WriteFile(path, []byte("version: 1\ncolumns:\n  - {name: a, type: numbr}\n"), 0o644))
	code, _, errOut = runDriftCLI(t, "validate", "--schema", path, "--data", driftTD+"holdout.csv")
	require.Equal(t, 2, code)
	require.Contains(t, errOut, "columns[0].type")
}
