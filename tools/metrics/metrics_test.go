package metrics

import (
	"encoding/csv"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

const testdata = "../../testdata/eval"

// readColumn reads one column of a fixture CSV as floats (test helper:
// the fixtures are plain, well-formed files).
func readColumn(t *testing.T, path, col string) []float64 {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err)
	j := -1
	for i, h := range recs[0] {
		if h == col {
			j = i
		}
	}
	require.GreaterOrEqual(t, j, 0, "column %s in %s", col, path)
	out := make([]float64, len(recs)-1)
	for i, r := range recs[1:] {
		out[i], err = strconv.ParseFloat(r[j], 64)
		require.NoError(t, err)
	}
	return out
}

func float32s(v []float64) []float64 {
	for i := range v {
		v[i] = float64(float32(v[i]))
	}
	return v
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, v))
}

func TestBinaryMatchesSklearnOracle(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(testdata, "binary-breast-cancer")
	var oracle map[string]json.RawMessage
	readJSON(t, filepath.Join(dir, "metrics-oracle.json"), &oracle)
	y := readColumn(t, filepath.Join(dir, "holdout.csv"), "target")
	cases := []struct {
		which, logLoss string
		float32        bool
	}{
		// The oracle's log_loss scored xgboost's float32 array; %.9g
		// round-trips float32, so the file's scores are that array.
		{"candidate", "log_loss", true},
		{"production", "log_loss", true},
		// log_loss_float64 is sklearn on the same file read by pandas.
		{"candidate", "log_loss_float64", false},
		{"production", "log_loss_float64", false},
	}
	for _, c := range cases {
		t.Run(c.which+"/"+c.logLoss, func(t *testing.T) {
			t.Parallel()
			var want map[string]any
			require.NoError(t, json.Unmarshal(oracle[c.which], &want))
			p := readColumn(t, filepath.Join(dir, "predictions-"+c.which+".csv"), "score")
			newData := NewBinaryData
			if c.float32 {
				newData = NewBinaryDataFloat32
			}
			d, err := newData(y, p)
			require.NoError(t, err)
			m := d.Binary(0.5, nil)
			got := m.Map()
			require.Contains(t, want, c.logLoss)
			for k, v := range want {
				switch k {
				case "confusion_matrix":
					cm := v.(map[string]any)
					require.Equal(t, Confusion{TN: cm["tn"].(float64), FP: cm["fp"].(float64), FN: cm["fn"].(float64), TP: cm["tp"].(float64)}, m.Confusion)
				case "log_loss", "log_loss_float64":
					if k == c.logLoss {
						require.InDelta(t, v.(float64), got["log_loss"], 1e-9, k)
					}
				default:
					require.InDelta(t, v.(float64), got[k], 1e-9, k)
				}
			}
		})
	}
}

// numbersOracle is testdata/numbers/numbers-oracle.json (gen_numbers.py).
type numbersOracle struct {
	Hard struct {
		Y, P    []float64
		LogLoss float64 `json:"log_loss"`
	} `json:"hard_log_loss"`
	Reg struct {
		Y, P                []float64
		RMSE, MAE, R2, MAPE float64
	} `json:"regression_1e300"`
}

const numbers = "../../testdata/numbers"

// Hard 0/1 scores read from text: scikit-learn on float64 clips at 2.2e-16
// (about 36 nats a wrong row), never at float32's 1.2e-7 (about 16).
func TestHardPredictionsLogLossFollowsSklearnFloat64(t *testing.T) {
	t.Parallel()
	var o numbersOracle
	readJSON(t, filepath.Join(numbers, "numbers-oracle.json"), &o)
	require.NotEmpty(t, o.Hard.Y)
	d, err := NewBinaryData(o.Hard.Y, o.Hard.P)
	require.NoError(t, err)
	require.InDelta(t, o.Hard.LogLoss, d.LogLoss(nil), 1e-9)
}

func TestRegressionNear1e300DoesNotOverflow(t *testing.T) {
	t.Parallel()
	var o numbersOracle
	readJSON(t, filepath.Join(numbers, "numbers-oracle.json"), &o)
	cases := []struct {
		name string
		mul  float64 // applied to targets and predictions; rmse/mae scale with it
	}{{"as generated", 1}, {"times 100", 100}, {"times -1", -1}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			y := make([]float64, len(o.Reg.Y))
			p := make([]float64, len(o.Reg.P))
			for i := range y {
				y[i], p[i] = o.Reg.Y[i]*c.mul, o.Reg.P[i]*c.mul
			}
			d, err := NewRegressionData(y, p)
			require.NoError(t, err)
			got := d.Regression(nil)
			m := math.Abs(c.mul)
			require.InDelta(t, o.Reg.RMSE*m, got["rmse"], 1e-9*o.Reg.RMSE*m)
			require.InDelta(t, o.Reg.MAE*m, got["mae"], 1e-9*o.Reg.MAE*m)
			require.InDelta(t, o.Reg.R2, got["r2"], 1e-9)
			require.InDelta(t, o.Reg.MAPE, got["mape"], 1e-9)
		})
	}
}

type extraOracle struct {
	Binary []struct {
		Name      string             `json:"name"`
		Y         []float64          `json:"y"`
		P         []float64          `json:"p"`
		W         []float64          `json:"w"`
		Threshold float64            `json:"threshold"`
		Metrics   map[string]float64 `json:"metrics"`
	} `json:"binary"`
	Multiclass struct {
		Y       []float64          `json:"y"`
		P       []float64          `json:"p"`
		Classes int                `json:"classes"`
		Metrics map[string]float64 `json:"metrics"`
	} `json:"multiclass"`
	Regression struct {
		Y, P    []float64
		Metrics map[string]float64 `json:"metrics"`
	} `json:"regression"`
}

func TestBinaryEdgeCasesMatchSklearn(t *testing.T) {
	t.Parallel()
	var o extraOracle
	readJSON(t, filepath.Join(testdata, "metrics-extra-oracle.json"), &o)
	require.NotEmpty(t, o.Binary)
	for _, c := range o.Binary {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			d, err := NewBinaryData(c.Y, c.P)
			require.NoError(t, err)
			got := d.Binary(c.Threshold, c.W).Map()
			for k, v := range c.Metrics {
				require.InDelta(t, v, got[k], 1e-9, k)
			}
			if _, ok := c.Metrics["roc_auc"]; !ok {
				require.True(t, math.IsNaN(got["roc_auc"]), "roc_auc with one class must be undefined")
			}
		})
	}
}

func TestMulticlassAndRegressionMatchSklearn(t *testing.T) {
	t.Parallel()
	var o extraOracle
	readJSON(t, filepath.Join(testdata, "metrics-extra-oracle.json"), &o)
	md, err := NewMulticlassData(o.Multiclass.Y, o.Multiclass.P, o.Multiclass.Classes)
	require.NoError(t, err)
	got := md.Multiclass(nil)
	// A renamed key in the oracle file would leave these loops empty.
	require.NotEmpty(t, o.Multiclass.Metrics)
	require.NotEmpty(t, o.Regression.Metrics)
	for k, v := range o.Multiclass.Metrics {
		require.InDelta(t, v, got[k], 1e-9, k)
	}
	rd, err := NewRegressionData(o.Regression.Y, o.Regression.P)
	require.NoError(t, err)
	got = rd.Regression(nil)
	for k, v := range o.Regression.Metrics {
		require.InDelta(t, v, got[k], 1e-9*max(1, math.Abs(v)), k)
	}

	// The fixture folders.
	wine := filepath.Join(testdata, "multiclass-wine")
	y := readColumn(t, filepath.Join(wine, "holdout.csv"), "target")
	var p []float64
	cols := [][]float64{}
	for _, c := range []string{"p0", "p1", "p2"} {
		cols = append(cols, readColumn(t, filepath.Join(wine, "predictions.csv"), c))
	}
	for i := range y {
		p = append(p, cols[0][i], cols[1][i], cols[2][i])
	}
	md, err = NewMulticlassDataFloat32(y, p, 3)
	require.NoError(t, err)
	var want map[string]any
	readJSON(t, filepath.Join(wine, "metrics-oracle.json"), &want)
	got = md.Multiclass(nil)
	for _, k := range []string{"accuracy", "macro_f1", "log_loss"} {
		require.InDelta(t, want[k].(float64), got[k], 1e-9, k)
	}
	// The same file read as text (float64), as pandas would.
	md, err = NewMulticlassData(y, p, 3)
	require.NoError(t, err)
	require.InDelta(t, want["log_loss_float64"].(float64), md.Multiclass(nil)["log_loss"], 1e-9)

	diab := filepath.Join(testdata, "regression-diabetes")
	rd, err = NewRegressionData(readColumn(t, filepath.Join(diab, "holdout.csv"), "target"), readColumn(t, filepath.Join(diab, "predictions.csv"), "prediction"))
	require.NoError(t, err)
	readJSON(t, filepath.Join(diab, "metrics-oracle.json"), &want)
	got = rd.Regression(nil)
	for _, k := range []string{"rmse", "mae", "r2", "mape"} {
		require.InDelta(t, want[k].(float64), got[k], 1e-9*max(1, math.Abs(want[k].(float64))), k)
	}
}

func TestBadInputNamesTheRow(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		y, p []float64
		want string
	}{
		{"nan score", []float64{0, 1}, []float64{0.1, math.NaN()}, "score row 1: score is NaN"},
		{"inf score", []float64{0, 1}, []float64{math.Inf(1), 0.2}, "score row 0: score is +Inf"},
		{"not a probability", []float64{0, 1}, []float64{0.1, 1.5}, "not a probability"},
		{"label 2", []float64{0, 2}, []float64{0.1, 0.5}, "label row 1: 2 is not 0 or 1"},
		{"lengths", []float64{0}, []float64{0.1, 0.5}, "1 labels but 2 scores"},
		{"empty", nil, nil, "no rows"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := NewBinaryData(c.y, c.p)
			require.ErrorContains(t, err, c.want)
		})
	}
}

func TestSortDescIsStableAndOrdered(t *testing.T) {
	t.Parallel()
	cases := [][]float64{
		{},
		{0.5},
		{0.1, 0.9, 0.5, 0.9, 0, 1, 0.5, -0.0, 1e-300, 0.3},
		{-1, 2, -3.5, 4, 0, -0.25},
	}
	for _, v := range cases {
		idx := SortDesc(v)
		require.Len(t, idx, len(v))
		for i := 1; i < len(idx); i++ {
			a, b := v[idx[i-1]], v[idx[i]]
			require.GreaterOrEqual(t, a, b)
			if a == b && math.Signbit(a) == math.Signbit(b) {
				require.Less(t, idx[i-1], idx[i], "stable")
			}
		}
	}
}

func TestCostAndOptimalThreshold(t *testing.T) {
	t.Parallel()
	y := []float64{0, 0, 1, 1, 0, 1}
	p := []float64{0.1, 0.4, 0.35, 0.8, 0.7, 0.9}
	d, err := NewBinaryData(y, p)
	require.NoError(t, err)
	c := CostMatrix{FN: 500, FP: 5}
	// At 0.5: positives predicted are 0.8, 0.7, 0.9 → TP 2, FP 1, FN 1 (0.35).
	require.InDelta(t, 1000*(500+5)/6.0, c.PerThousand(d.ConfusionAt(0.5, nil)), 1e-9)
	th, cost := d.OptimalThreshold(c)
	// Lowering to 0.35 catches every positive at the price of two false alarms (0.4, 0.7).
	require.Equal(t, 0.35, th)
	require.InDelta(t, 1000*(2*5)/6.0, cost, 1e-9)
	// A brute-force check over all thresholds.
	best := math.Inf(1)
	for _, t0 := range append([]float64{math.Inf(1)}, p...) {
		best = min(best, c.PerThousand(d.ConfusionAt(t0, nil)))
	}
	require.InDelta(t, best, cost, 1e-9)
}

func TestPartition(t *testing.T) {
	t.Parallel()
	g, err := Partition(SliceSpec{Column: "c", MinSize: 2}, []string{"a", "b", "a", "", "b", "c"}, nil)
	require.NoError(t, err)
	require.Len(t, g, 2)
	require.Equal(t, "a", g[0].Value)
	require.Equal(t, []int{0, 2}, g[0].Rows)
	g, err = Partition(SliceSpec{Column: "x", Bins: []float64{10, 20}}, nil, []float64{5, 10, 15, 20, 25, math.NaN()})
	require.NoError(t, err)
	var names []string
	for _, x := range g {
		names = append(names, x.Value)
	}
	require.Equal(t, []string{"< 10", "[10, 20)", ">= 20", "(missing)"}, names)
	require.Equal(t, []int{1, 2}, g[1].Rows)
	_, err = Partition(SliceSpec{Column: "x", Bins: []float64{2, 1}}, nil, []float64{1})
	require.ErrorContains(t, err, "strictly ascending")
}

func TestECEAndCurves(t *testing.T) {
	t.Parallel()
	d, err := NewBinaryData([]float64{0, 1, 1, 0}, []float64{0.05, 0.95, 0.55, 0.45})
	require.NoError(t, err)
	// bins: [0,.1): p .05 y 0; [.4,.5): .45 y 0; [.5,.6): .55 y 1; [.9,1]: .95 y 1
	want := (0.05 + 0.45 + 0.45 + 0.05) / 4
	require.InDelta(t, want, d.ECE(10, nil), 1e-12)
	roc := d.ROCCurve()
	require.Equal(t, Point{1, 1, 0.05}, roc[len(roc)-1])
	pr := d.PRCurve()
	require.Equal(t, 1.0, pr[1].Y)
	require.Len(t, d.Reliability(10), 4)
}
