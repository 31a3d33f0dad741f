package model

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/tools/dataset"
)

const testdata = "../../testdata/eval"

func readFrame(t testing.TB, path string) *dataset.Frame {
	t.Helper()
	f, err := dataset.Read(path, dataset.Options{})
	require.NoError(t, err)
	return f
}

func TestNativeMatchesXGBoostOnFixtures(t *testing.T) {
	t.Parallel()
	cases := []struct {
		dir, model, preds string
		cols              []string
		kind              Kind
	}{
		{"binary-breast-cancer", "model-candidate.json", "predictions-candidate.csv", []string{"score"}, Binary},
		{"binary-breast-cancer", "model-production.json", "predictions-production.csv", []string{"score"}, Binary},
		{"regression-diabetes", "model.json", "predictions.csv", []string{"prediction"}, Regression},
		{"multiclass-wine", "model.json", "predictions.csv", []string{"p0", "p1", "p2"}, Multiclass},
	}
	for _, c := range cases {
		t.Run(c.dir+"/"+c.model, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(testdata, c.dir)
			m, err := Load(filepath.Join(dir, c.model))
			require.NoError(t, err)
			require.Equal(t, c.kind, m.Info().Kind)
			hold := readFrame(t, filepath.Join(dir, "holdout.csv"))
			b, err := BatchFromFrame(hold, m.Info().Features)
			require.NoError(t, err)
			got, err := m.Predict(context.Background(), b)
			require.NoError(t, err)
			want := readFrame(t, filepath.Join(dir, c.preds))
			require.Equal(t, want.Rows, got.Rows)
			for j, name := range c.cols {
				col, ok := want.Col(name)
				require.True(t, ok)
				for i := 0; i < want.Rows; i++ {
					w := col.Num[i]
					require.InDelta(t, w, got.Row(i)[j], 1e-6+1e-6*math.Abs(w), "row %d %s", i, name)
				}
			}
		})
	}
}

// The models in xgb-extra were trained by testdata/eval/gen_oracles.py on
// data with 25% missing values, so every tree routes missing values by its
// learnt default direction; predictions are xgboost 1.7.4's own.
func TestNativeMatchesXGBoostOnMissingValuesAndObjectives(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(testdata, "xgb-extra")
	in := readFrame(t, filepath.Join(dir, "input.csv"))
	for _, name := range []string{"binary-missing", "reglogistic", "poisson", "gamma", "softmax", "squared-base", "dart"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			m, err := Load(filepath.Join(dir, name+".json"))
			require.NoError(t, err)
			b, err := BatchFromFrame(in, m.Info().Features)
			require.NoError(t, err)
			got, err := m.Predict(context.Background(), b)
			require.NoError(t, err)
			raw, err := os.ReadFile(filepath.Join(dir, name+".predictions.csv"))
			require.NoError(t, err)
			lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
			require.Len(t, lines, got.Rows)
			for i, line := range lines {
				for j, f := range strings.Split(line, ",") {
					var w float64
					require.NoError(t, json.Unmarshal([]byte(f), &w))
					require.InDelta(t, w, got.Row(i)[j], 1e-6+1e-6*math.Abs(w), "row %d col %d", i, j)
				}
			}
		})
	}
}

func TestHandMadeModelRoutesMissingAndComparesInFloat32(t *testing.T) {
	t.Parallel()
	m, err := Load(filepath.Join(testdata, "handmade-missing.json"))
	require.NoError(t, err)
	nan := math.NaN()
	cases := []struct {
		name string
		x, y float64
		want float64
	}{
		{"both present", 0, 0, 121},
		{"both missing: x defaults right, y defaults left", nan, nan, 112},
		{"0.1 equals float32(0.1): not less, goes right", 0.1, -6, 112},
		{"just below the split", 0.09999999, -5, 121},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			// Features given in the other order: matched by name.
			got, err := m.Predict(context.Background(), Batch{Features: []string{"y", "extra", "x"}, Rows: 1, Values: []float64{c.y, 7, c.x}})
			require.NoError(t, err)
			require.Equal(t, c.want, got.Values[0])
		})
	}
}

func TestPredictInParallelEqualsSerial(t *testing.T) {
	t.Parallel()
	m, err := LoadXGBoostFile(filepath.Join(testdata, "binary-breast-cancer", "model-candidate.json"))
	require.NoError(t, err)
	hold := readFrame(t, filepath.Join(testdata, "binary-breast-cancer", "holdout.csv"))
	b, err := BatchFromFrame(hold, m.Info().Features)
	require.NoError(t, err)
	// Repeat the holdout to get many blocks.
	big := Batch{Features: b.Features}
	for k := 0; k < 40; k++ {
		big.Values = append(big.Values, b.Values...)
		big.Rows += b.Rows
	}
	m.SetThreads(1)
	serial, err := m.Predict(context.Background(), big)
	require.NoError(t, err)
	m2, _ := LoadXGBoostFile(filepath.Join(testdata, "binary-breast-cancer", "model-candidate.json"))
	m2.SetThreads(4)
	par, err := m2.Predict(context.Background(), big)
	require.NoError(t, err)
	require.Equal(t, serial.Values, par.Values)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = m2.Predict(ctx, big)
	require.ErrorIs(t, err, context.Canceled)
}

func TestLoadRejectsBadModels(t *testing.T) {
	t.Parallel()
	good, err := os.ReadFile(filepath.Join(testdata, "handmade-missing.json"))
	require.NoError(t, err)
	edit := func(f func(m map[string]any)) []byte {
		var m map[string]any
		require.NoError(t, json.Unmarshal(good, &m))
		f(m)
		b, _ := json.Marshal(m)
		return b
	}
	learner := func(m map[string]any) map[string]any { return m["learner"].(map[string]any) }
	tree := func(m map[string]any, i int) map[string]any {
		gb := learner(m)["gradient_booster"].(map[string]any)
		return gb["model"].(map[string]any)["trees"].([]any)[i].(map[string]any)
	}
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"not json", []byte("hello"), "not an XGBoost JSON model"},
		{"ubjson", []byte("{L\x00\x00\x00\x07learner"), "UBJSON"},
		{"no learner", []byte(`{"version":[1,7,4]}`), `no "learner"`},
		{"objective", edit(func(m map[string]any) {
			learner(m)["objective"] = map[string]any{"name": "rank:pairwise"}
		}), `unsupported objective "rank:pairwise"`},
		{"booster", edit(func(m map[string]any) {
			learner(m)["gradient_booster"].(map[string]any)["name"] = "gblinear"
		}), `unsupported booster "gblinear"`},
		{"child out of range", edit(func(m map[string]any) {
			tree(m, 0)["left_children"] = []any{7, -1, -1}
		}), "tree 0: node 0: child 7 out of range"},
		{"cycle", edit(func(m map[string]any) {
			tree(m, 0)["left_children"] = []any{1, 2, -1}
			tree(m, 0)["right_children"] = []any{2, 2, -1}
		}), "reached twice"},
		{"feature out of range", edit(func(m map[string]any) {
			tree(m, 1)["split_indices"] = []any{9, 0, 0, 0, 0}
		}), "tree 1: node 0: split feature 9 out of range"},
		{"categorical", edit(func(m map[string]any) {
			tree(m, 0)["split_type"] = []any{1, 0, 0}
		}), "categorical splits are not supported"},
		{"lengths", edit(func(m map[string]any) {
			tree(m, 0)["split_conditions"] = []any{0.1}
		}), "split_conditions has 1 entries for 3 nodes"},
		{"tree_info", edit(func(m map[string]any) {
			learner(m)["gradient_booster"].(map[string]any)["model"].(map[string]any)["tree_info"] = []any{0}
		}), "tree_info has 1 entries for 2 trees"},
		{"base_score", edit(func(m map[string]any) {
			learner(m)["learner_model_param"].(map[string]any)["base_score"] = "abc"
		}), `base_score "abc" is not a number`},
		{"names", edit(func(m map[string]any) {
			learner(m)["feature_names"] = []any{"x"}
		}), "feature_names has 1 names for num_feature 2"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := LoadXGBoost(bytes.NewReader(c.data), "m")
			require.ErrorContains(t, err, c.want)
		})
	}
}

func TestMissingFeatureIsNamed(t *testing.T) {
	t.Parallel()
	m, err := Load(filepath.Join(testdata, "handmade-missing.json"))
	require.NoError(t, err)
	_, err = m.Predict(context.Background(), Batch{Features: []string{"x", "z"}, Rows: 1, Values: []float64{1, 2}})
	require.EqualError(t, err, "data has no column for model feature(s) y")
	hold := readFrame(t, filepath.Join(testdata, "binary-breast-cancer", "holdout.csv"))
	_, err = BatchFromFrame(hold, []string{"mean_radius", "nope", "gone"})
	require.ErrorContains(t, err, "holdout.csv: data has no column for model feature(s) nope, gone")
}

func FuzzLoadXGBoost(f *testing.F) {
	for _, p := range []string{"handmade-missing.json", "xgb-extra/softmax.json", "binary-breast-cancer/model-production.json"} {
		b, err := os.ReadFile(filepath.Join(testdata, p))
		require.NoError(f, err)
		f.Add(b)
	}
	for _, p := range []string{"sk-missing0.json", "early-multi.json"} {
		// Models that record missing and best_iteration (issue 14).
		b, err := os.ReadFile(filepath.Join(numbers, p))
		require.NoError(f, err)
		f.Add(b)
	}
	f.Add([]byte(`{"learner":{}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := LoadXGBoost(bytes.NewReader(data), "fuzz")
		if err != nil {
			return
		}
		// A model that loads must predict without panicking or looping.
		n := m.NumFeatures()
		if n > 1000 {
			return
		}
		vals := make([]float64, 3*n)
		for i := range vals {
			vals[i] = []float64{math.NaN(), 0, -1e9, 1e9}[i%4]
		}
		names := m.Info().Features
		if len(names) == 0 {
			for i := 0; i < n; i++ {
				names = append(names, "f"+string(rune('a'+i%26))+string(rune('0'+i/26%10))+string(rune('0'+i/260)))
			}
		}
		_, _ = m.Predict(context.Background(), Batch{Features: names, Rows: 3, Values: vals})
	})
}

func TestNonAdjacentChildrenTakeTheGeneralPath(t *testing.T) {
	t.Parallel()
	good, err := os.ReadFile(filepath.Join(testdata, "handmade-missing.json"))
	require.NoError(t, err)
	var raw map[string]any
	require.NoError(t, json.Unmarshal(good, &raw))
	trees := raw["learner"].(map[string]any)["gradient_booster"].(map[string]any)["model"].(map[string]any)["trees"].([]any)
	// Tree 1: swap the numbering of its two leaves (3 <-> 4), so that
	// right = left - 1, keeping the same routing.
	t1 := trees[1].(map[string]any)
	t1["left_children"] = []any{4, -1, -1, -1, -1}
	t1["right_children"] = []any{3, -1, -1, -1, -1}
	t1["split_conditions"] = []any{-5, 0, 0, 20, 10}
	b, _ := json.Marshal(raw)
	m, err := LoadXGBoost(bytes.NewReader(b), "swapped")
	require.NoError(t, err)
	require.False(t, m.adjacent)
	nan := math.NaN()
	got, err := m.Predict(context.Background(), Batch{Features: []string{"x", "y"}, Rows: 3, Values: []float64{0, 0, nan, nan, 0.1, -6}})
	require.NoError(t, err)
	require.Equal(t, []float64{121, 112, 112}, got.Values)
}
