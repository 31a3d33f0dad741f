package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const numbersDir = "../../testdata/numbers"

// Like the other CLI tests, these call execute and so do not run in
// parallel. Oracles: testdata/numbers/gen_numbers.py (xgboost 1.7.4).
func TestPredictMissingAndTreesCLI(t *testing.T) {
	cases := []struct {
		name       string
		args       []string
		code       int
		oracle     string // predictions file to match
		wantStderr string
	}{
		{"xgb.train model with --missing -999", []string{"--model", "train-missing999.json", "--data", "input.csv", "--missing", "-999"}, 0,
			"train-missing999.predictions.csv", "missing value -999 (set by --missing / candidate.missing) and nan"},
		{"sklearn model's recorded missing", []string{"--model", "sk-missing0.json", "--data", "input.csv"}, 0,
			"sk-missing0.predictions.csv", "missing value 0 (recorded by the sklearn wrapper)"},
		{"early stopping", []string{"--model", "early.json", "--data", "early-input.csv"}, 0,
			"early.predictions.csv", "2 of 7 trees (up to best_iteration 1"},
		{"early stopping, --all-trees", []string{"--model", "early.json", "--data", "early-input.csv", "--all-trees"}, 0,
			"early.alltrees.csv", "all 7 trees (--all-trees"},
		{"bad --missing", []string{"--model", "early.json", "--data", "early-input.csv", "--missing", "zero"}, 2,
			"", `--missing "zero" is not a number`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := []string{"predict"}
			for i, a := range c.args {
				if i > 0 && (c.args[i-1] == "--model" || c.args[i-1] == "--data") {
					a = filepath.Join(numbersDir, a)
				}
				args = append(args, a)
			}
			code, out, errOut := evalCLI(args...)
			require.Equal(t, c.code, code, errOut)
			require.Contains(t, errOut, c.wantStderr)
			if c.oracle == "" {
				return
			}
			want := readOracleRows(t, filepath.Join(numbersDir, c.oracle))
			lines := strings.Split(strings.TrimSpace(out), "\n")[1:]
			require.Len(t, lines, len(want))
			for i, l := range lines {
				f := strings.Split(l, ",")
				got, err := strconv.ParseFloat(f[1], 64)
				require.NoError(t, err)
				require.InDelta(t, want[i], got, 1e-6, "row %d", i)
			}
		})
	}
}

func readOracleRows(t *testing.T, path string) []float64 {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var out []float64
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		v, err := strconv.ParseFloat(strings.Split(l, ",")[0], 64)
		require.NoError(t, err)
		out = append(out, v)
	}
	return out
}

func TestEvaluateReportsInference(t *testing.T) {
	code, out, errOut := evalCLI("evaluate", "--data", filepath.Join(numbersDir, "input.csv"), "--label", "target",
		"--candidate", filepath.Join(numbersDir, "sk-missing0.json"), "--baseline", filepath.Join(numbersDir, "train-missing999.json"),
		"--resamples", "50", "--json")
	require.Contains(t, []int{0, 1}, code, errOut)
	var res struct {
		Inference map[string]string `json:"inference"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &res), out)
	require.Contains(t, res.Inference["candidate"], "missing value 0 (recorded by the sklearn wrapper)")
	require.Contains(t, res.Inference["baseline"], "missing value nan (xgboost's default")

	code, out, errOut = evalCLI("evaluate", "--data", filepath.Join(numbersDir, "input.csv"), "--label", "target",
		"--candidate", filepath.Join(numbersDir, "sk-missing0.json"), "--missing", "nan", "--resamples", "50")
	require.Contains(t, []int{0, 1}, code, errOut)
	require.Contains(t, out, "candidate scored with missing value nan (set by --missing / candidate.missing)")
}
