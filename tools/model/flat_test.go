package model

import (
	"context"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// walkOnly is m with the flat layout switched off: today's pointer walk,
// the reference the flat layout must match bit for bit.
func walkOnly(m *XGBoost) *XGBoost {
	c := *m
	c.flat, c.flatNodes, c.flatLeaves = nil, nil, nil
	return &c
}

// randomTree grows an unbalanced tree of at most depth levels: leaves at
// every depth (so the padding is exercised), both default directions,
// conditions that are exact float32 values and ones that are not.
func randomTree(rng *rand.Rand, nf, depth int) xgbTree {
	var t xgbTree
	var grow func(d int) int
	grow = func(d int) int {
		i := len(t.Left)
		t.Left = append(t.Left, -1)
		t.Right = append(t.Right, -1)
		t.SplitIdx = append(t.SplitIdx, 0)
		t.DefaultLeft = append(t.DefaultLeft, 0)
		if d == depth || (d > 0 && rng.IntN(4) == 0) {
			t.SplitCond = append(t.SplitCond, rng.NormFloat64())
			return i
		}
		t.SplitCond = append(t.SplitCond, math.Round(rng.NormFloat64()*8)/8+rng.Float64()*1e-9)
		t.SplitIdx[i] = int64(rng.IntN(nf))
		t.DefaultLeft[i] = rng.IntN(2)
		// XGBoost numbers children consecutively; so do we, mostly.
		l := grow(d + 1)
		r := grow(d + 1)
		t.Left[i], t.Right[i] = l, r
		return i
	}
	grow(0)
	return t
}

// randomModel builds a model of trees trees over nf features with groups
// output groups (groups > 1: multiclass), and dart weights when dart.
func randomModel(t testing.TB, rng *rand.Rand, trees, nf, depth, groups int, dart bool) *XGBoost {
	t.Helper()
	raw := &xgbJSON{}
	raw.Learner = &struct {
		FeatureNames []string `json:"feature_names"`
		Params       struct {
			BaseScore  string `json:"base_score"`
			NumClass   string `json:"num_class"`
			NumFeature string `json:"num_feature"`
			NumTarget  string `json:"num_target"`
		} `json:"learner_model_param"`
		Objective struct {
			Name string `json:"name"`
		} `json:"objective"`
		Attributes map[string]string `json:"attributes"`
		Booster    *struct {
			Name  string        `json:"name"`
			Model *xgbTreeModel `json:"model"`
			Param *struct {
				NumParallelTree string `json:"num_parallel_tree"`
			} `json:"gbtree_model_param"`
			Gbtree *struct {
				Model *xgbTreeModel `json:"model"`
			} `json:"gbtree"`
			WeightDrop []float64 `json:"weight_drop"`
		} `json:"gradient_booster"`
	}{}
	L := raw.Learner
	L.Params.BaseScore = "0.5"
	L.Params.NumFeature = strconv.Itoa(nf)
	L.Objective.Name = "binary:logistic"
	if groups > 1 {
		L.Objective.Name = "multi:softprob"
		L.Params.NumClass = strconv.Itoa(groups)
	}
	tm := &xgbTreeModel{}
	for i := 0; i < trees; i++ {
		tm.Trees = append(tm.Trees, randomTree(rng, nf, depth))
		tm.TreeInfo = append(tm.TreeInfo, i%groups)
	}
	L.Booster = &struct {
		Name  string        `json:"name"`
		Model *xgbTreeModel `json:"model"`
		Param *struct {
			NumParallelTree string `json:"num_parallel_tree"`
		} `json:"gbtree_model_param"`
		Gbtree *struct {
			Model *xgbTreeModel `json:"model"`
		} `json:"gbtree"`
		WeightDrop []float64 `json:"weight_drop"`
	}{Name: "gbtree", Model: tm}
	if dart {
		L.Booster.Name = "dart"
		L.Booster.Model = nil
		L.Booster.Gbtree = &struct {
			Model *xgbTreeModel `json:"model"`
		}{Model: tm}
		for range trees {
			L.Booster.WeightDrop = append(L.Booster.WeightDrop, 0.5+rng.Float64())
		}
	}
	m, err := buildXGBoost(raw, "random")
	require.NoError(t, err)
	return m
}

// randomBatch draws rows near the split conditions, a share of them NaN
// (missing) and some exactly on a condition's float32 value.
func randomBatch(rng *rand.Rand, rows, nf int) Batch {
	b := Batch{Rows: rows, Values: make([]float64, rows*nf)}
	for j := 0; j < nf; j++ {
		b.Features = append(b.Features, "f"+strconv.Itoa(j))
	}
	for i := range b.Values {
		switch rng.IntN(10) {
		case 0, 1:
			b.Values[i] = math.NaN()
		case 2:
			b.Values[i] = math.Round(rng.NormFloat64()*8) / 8
		default:
			b.Values[i] = rng.NormFloat64()
		}
	}
	return b
}

func TestFlatLayoutEqualsWalkOnRandomModels(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name                     string
		trees, nf, depth, groups int
		dart                     bool
	}{
		{"depth 3 binary", 80, 30, 3, 1, false},
		{"depth 1", 10, 4, 1, 1, false},
		{"single leaves and deep", 20, 5, 9, 1, false},
		{"multiclass", 30, 8, 4, 3, false},
		{"dart weights", 25, 6, 5, 1, true},
		{"too deep for the flat layout", 4, 6, maxFlatDepth + 3, 1, false},
	}
	for seed, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(uint64(seed), 99))
			m := randomModel(t, rng, c.trees, c.nf, c.depth, c.groups, c.dart)
			if c.depth > maxFlatDepth {
				// A deep tree only keeps the flat layout if it happened
				// to stop short; the walk must be used otherwise.
				if m.flat != nil {
					for _, ft := range m.flat {
						require.LessOrEqual(t, int(ft.depth), maxFlatDepth)
					}
				}
			} else {
				require.NotNil(t, m.flat, "the flat layout is built")
			}
			b := randomBatch(rng, 1000+rng.IntN(200), c.nf)
			for _, threads := range []int{1, 2} {
				m.SetThreads(threads)
				got, err := m.Predict(context.Background(), b)
				require.NoError(t, err)
				ref := walkOnly(m)
				want, err := ref.Predict(context.Background(), b)
				require.NoError(t, err)
				for i := range want.Values {
					require.Equal(t, math.Float64bits(want.Values[i]), math.Float64bits(got.Values[i]), "value %d", i)
				}
			}
		})
	}
}

// The fixture models (trained by xgboost) give bit-identical predictions
// with and without the flat layout, on their holdouts and with a quarter
// of the values removed.
func TestFlatLayoutEqualsWalkOnFixtures(t *testing.T) {
	t.Parallel()
	models, _ := filepath.Glob(filepath.Join(testdata, "*", "model*.json"))
	extra, _ := filepath.Glob(filepath.Join(testdata, "xgb-extra", "*.json"))
	models = append(models, extra...)
	require.NotEmpty(t, models)
	for _, path := range models {
		t.Run(filepath.Base(filepath.Dir(path))+"/"+filepath.Base(path), func(t *testing.T) {
			t.Parallel()
			m, err := LoadXGBoostFile(path)
			require.NoError(t, err)
			require.NotNil(t, m.flat)
			hold := filepath.Join(filepath.Dir(path), "holdout.csv")
			if _, err := os.Stat(hold); err != nil {
				hold = filepath.Join(filepath.Dir(path), "input.csv")
			}
			fr := readFrame(t, hold)
			b, err := BatchFromFrame(fr, m.Info().Features)
			require.NoError(t, err)
			rng := rand.New(rand.NewPCG(5, 6))
			for i := range b.Values {
				if rng.IntN(4) == 0 {
					b.Values[i] = math.NaN()
				}
			}
			got, err := m.Predict(context.Background(), b)
			require.NoError(t, err)
			want, err := walkOnly(m).Predict(context.Background(), b)
			require.NoError(t, err)
			require.Equal(t, want.Values, got.Values)
		})
	}
}
