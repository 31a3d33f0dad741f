package model

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// numbers holds the oracles of testdata/numbers/gen_numbers.py: models
// trained by xgboost 1.7.4 and its own predictions on input.csv.
const numbers = "../../testdata/numbers"

func readPredictionRows(t *testing.T, path string) [][]float64 {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	var out [][]float64
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		var row []float64
		for _, f := range strings.Split(line, ",") {
			v, err := strconv.ParseFloat(f, 64)
			require.NoError(t, err)
			row = append(row, v)
		}
		out = append(out, row)
	}
	return out
}

func TestMissingValueAndBestIterationMatchXGBoost(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, model, input, preds string
		missing                   *float64 // SetMissing, as --missing
		allTrees                  bool
		wantSource                MissingSource
		wantMissing               float64 // NaN: only NaN
		wantTrees                 int     // 0: every tree
	}{
		{name: "sklearn missing=0.0 is honoured", model: "sk-missing0.json", input: "input.csv", preds: "sk-missing0.predictions.csv",
			wantSource: MissingRecorded, wantMissing: 0},
		{name: "xgb.train missing=-999 given as an option", model: "train-missing999.json", input: "input.csv", preds: "train-missing999.predictions.csv",
			missing: ptrF(-999), wantSource: MissingOption, wantMissing: -999},
		{name: "early stopping predicts to best_iteration", model: "early.json", input: "early-input.csv", preds: "early.predictions.csv",
			wantSource: MissingRecorded, wantMissing: math.NaN(), wantTrees: 2},
		{name: "early stopping with all trees", model: "early.json", input: "early-input.csv", preds: "early.alltrees.csv",
			allTrees: true, wantSource: MissingRecorded, wantMissing: math.NaN()},
		{name: "multiclass early stopping", model: "early-multi.json", input: "early-input.csv", preds: "early-multi.predictions.csv",
			wantSource: MissingRecorded, wantMissing: math.NaN(), wantTrees: 4 * 3},
		{name: "multiclass all trees", model: "early-multi.json", input: "early-input.csv", preds: "early-multi.alltrees.csv",
			allTrees: true, wantSource: MissingRecorded, wantMissing: math.NaN()},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			m, err := LoadXGBoostFile(filepath.Join(numbers, c.model))
			require.NoError(t, err)
			if c.missing != nil {
				m.SetMissing(*c.missing)
			}
			m.UseAllTrees(c.allTrees)
			v, src := m.Missing()
			require.Equal(t, c.wantSource, src)
			if math.IsNaN(c.wantMissing) {
				require.True(t, math.IsNaN(v), "missing %g", v)
			} else {
				require.Equal(t, c.wantMissing, v)
			}
			if c.wantTrees > 0 {
				require.Equal(t, c.wantTrees, m.TreesUsed())
			} else {
				require.Equal(t, m.NumTrees(), m.TreesUsed())
			}
			in := readFrame(t, filepath.Join(numbers, c.input))
			b, err := BatchFromFrame(in, m.Info().Features)
			require.NoError(t, err)
			got, err := m.Predict(context.Background(), b)
			require.NoError(t, err)
			want := readPredictionRows(t, filepath.Join(numbers, c.preds))
			require.Len(t, want, got.Rows)
			for i, row := range want {
				for j, w := range row {
					require.InDelta(t, w, got.Row(i)[j], 1e-6, "row %d col %d", i, j)
				}
			}
		})
	}
}

// Without the recorded missing value the sklearn model scores zeros as
// values: the oracle must then disagree, or the test above proves nothing.
func TestIgnoringMissingWouldDisagree(t *testing.T) {
	t.Parallel()
	m, err := LoadXGBoostFile(filepath.Join(numbers, "sk-missing0.json"))
	require.NoError(t, err)
	m.SetMissing(math.NaN())
	in := readFrame(t, filepath.Join(numbers, "input.csv"))
	b, err := BatchFromFrame(in, m.Info().Features)
	require.NoError(t, err)
	got, err := m.Predict(context.Background(), b)
	require.NoError(t, err)
	want := readPredictionRows(t, filepath.Join(numbers, "sk-missing0.predictions.csv"))
	var worst float64
	for i, row := range want {
		worst = max(worst, math.Abs(row[0]-got.Values[i]))
	}
	require.Greater(t, worst, 0.05)
}

func TestBadAttributesAreNamed(t *testing.T) {
	t.Parallel()
	good, err := os.ReadFile(filepath.Join(numbers, "early.json"))
	require.NoError(t, err)
	cases := []struct{ name, from, to, want string }{
		{"best_iteration not a number", `"best_iteration":"1"`, `"best_iteration":"x"`, "best_iteration"},
		{"best_iteration past the trees", `"best_iteration":"1"`, `"best_iteration":"99"`, "needs 100 trees"},
		{"scikit_learn not JSON", `"scikit_learn":"{`, `"scikit_learn":"{{`, "scikit_learn"},
		{"missing not a number", `\"missing\": NaN`, `\"missing\": \"zero\"`, "not a number"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := string(good)
			require.Contains(t, s, c.from)
			_, err := LoadXGBoost(strings.NewReader(strings.Replace(s, c.from, c.to, 1)), "x")
			require.ErrorContains(t, err, c.want)
		})
	}
}

func TestQuotePyConstants(t *testing.T) {
	t.Parallel()
	cases := []struct{ in, want string }{
		{`{"missing": NaN}`, `{"missing": "NaN"}`},
		{`{"a": [NaN, Infinity, -Infinity], "s": "NaN \" Infinity"}`, `{"a": ["NaN", "Infinity", "-Infinity"], "s": "NaN \" Infinity"}`},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, c.want, string(quotePyConstants(c.in)))
		})
	}
}

func ptrF(v float64) *float64 { return &v }

func TestInferenceSaysWhichMissingAndTrees(t *testing.T) {
	t.Parallel()
	cases := []struct {
		model    string
		missing  *float64
		allTrees bool
		want     string
	}{
		{"sk-missing0.json", nil, false, "missing value 0 (recorded by the sklearn wrapper) and nan; all 10 trees"},
		{"train-missing999.json", nil, false, "missing value nan (xgboost's default; the model records none); all 10 trees"},
		{"train-missing999.json", ptrF(-999), false, "missing value -999 (set by --missing / candidate.missing) and nan; all 10 trees"},
		{"early.json", nil, false, "missing value nan (recorded by the sklearn wrapper); 2 of 7 trees (up to best_iteration 1, as predict_proba; --all-trees for all)"},
		{"early.json", nil, true, "missing value nan (recorded by the sklearn wrapper); all 7 trees (--all-trees; best_iteration 1 would use 2)"},
	}
	for _, c := range cases {
		t.Run(c.want, func(t *testing.T) {
			t.Parallel()
			p, err := Open(filepath.Join(numbers, c.model), OpenOptions{Missing: c.missing, AllTrees: c.allTrees})
			require.NoError(t, err)
			require.Equal(t, c.want, p.Info().Inference)
		})
	}
}

func TestInfiniteFeatureNamesRowAndColumn(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		missing *float64
		value   float64
		want    string
	}{
		{"inf refused", nil, math.Inf(1), `row 2 column "b": +Inf: infinite feature values are refused`},
		{"-inf refused", nil, math.Inf(-1), `row 2 column "b": -Inf`},
		{"inf as the missing value", ptrF(math.Inf(1)), math.Inf(1), ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			m, err := LoadXGBoostFile(filepath.Join(numbers, "early.json"))
			require.NoError(t, err)
			if c.missing != nil {
				m.SetMissing(*c.missing)
			}
			b := Batch{Features: []string{"a", "b", "c", "d"}, Rows: 2, Values: []float64{0, 0, 0, 0, 1, c.value, 1, 1}}
			_, err = m.Predict(context.Background(), b)
			if c.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, c.want)
		})
	}
}

// FuzzRecordedMissing feeds the sklearn wrapper's attribute text (Python's
// JSON with bare NaN/Infinity) to the reader: it must never panic, and a
// value it accepts must come from a "missing" field.
func FuzzRecordedMissing(f *testing.F) {
	for _, s := range []string{`{"missing": NaN, "n_estimators": 10}`, `{"missing": 0.0}`, `{"missing": -Infinity, "evals_result_": {"v": [NaN, 1]}}`,
		`{"missing": null}`, `{"a": "NaN \" Infinity", "missing": 1e400}`, `{`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, found, err := recordedMissing(s)
		if found && err != nil {
			t.Fatalf("found and failed at once: %v", err)
		}
		if found && !strings.Contains(s, "missing") {
			t.Fatalf("a missing value from text without a missing field: %q", s)
		}
	})
}
