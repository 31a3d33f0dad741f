package compare

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/tools/metrics"
	"github.com/modelgate/modelgate/tools/model"
)

const testdata = "../../testdata/eval"

func column(t *testing.T, path, col string) []float64 {
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
	require.GreaterOrEqual(t, j, 0)
	out := make([]float64, len(recs)-1)
	for i, r := range recs[1:] {
		out[i], err = strconv.ParseFloat(r[j], 64)
		require.NoError(t, err)
	}
	return out
}

type oracle struct {
	Mcnemar []struct {
		B, C   int
		PValue float64 `json:"p_value"`
	} `json:"mcnemar"`
	DeLongFixture struct {
		AUC1, AUC2, Delta, Var, Z float64
		PValue                    float64 `json:"p_value"`
	} `json:"delong_fixture"`
	DeLongTies struct {
		AUC1, AUC2, Delta, Var, Z float64
		PValue                    float64   `json:"p_value"`
		Y                         []float64 `json:"y"`
		P1                        []float64 `json:"p1"`
		P2                        []float64 `json:"p2"`
	} `json:"delong_ties"`
}

func loadOracle(t *testing.T) oracle {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testdata, "metrics-extra-oracle.json"))
	require.NoError(t, err)
	var o oracle
	require.NoError(t, json.Unmarshal(b, &o))
	return o
}

func TestMcNemarMatchesScipy(t *testing.T) {
	t.Parallel()
	o := loadOracle(t)
	require.NotEmpty(t, o.Mcnemar)
	for _, c := range o.Mcnemar {
		require.InDelta(t, c.PValue, McNemar(c.B, c.C), 1e-9, "b=%d c=%d", c.B, c.C)
	}
}

func TestDeLongMatchesPairwiseDefinition(t *testing.T) {
	t.Parallel()
	o := loadOracle(t)
	dir := filepath.Join(testdata, "binary-breast-cancer")
	y := column(t, filepath.Join(dir, "holdout.csv"), "target")
	pc := column(t, filepath.Join(dir, "predictions-candidate.csv"), "score")
	pp := column(t, filepath.Join(dir, "predictions-production.csv"), "score")
	cases := []struct {
		name       string
		y, s1, s2  []float64
		auc1, auc2 float64
		variance   float64
		p          float64
	}{
		{"fixture", y, pc, pp, o.DeLongFixture.AUC1, o.DeLongFixture.AUC2, o.DeLongFixture.Var, o.DeLongFixture.PValue},
		{"ties", o.DeLongTies.Y, o.DeLongTies.P1, o.DeLongTies.P2, o.DeLongTies.AUC1, o.DeLongTies.AUC2, o.DeLongTies.Var, o.DeLongTies.PValue},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r, ok := DeLong(c.y, c.s1, c.s2)
			require.True(t, ok)
			require.InDelta(t, c.auc1, r.AUC1, 1e-12)
			require.InDelta(t, c.auc2, r.AUC2, 1e-12)
			require.InDelta(t, c.variance, r.Variance, 1e-12)
			require.InDelta(t, c.p, r.PValue, 1e-9)
		})
	}
	_, ok := DeLong([]float64{1, 1}, []float64{0.1, 0.2}, []float64{0.3, 0.4})
	require.False(t, ok, "one class: undefined")
}

func binaryPreds(v []float64) model.Predictions {
	return model.Predictions{Kind: model.Binary, Rows: len(v), Values: v}
}

func fixtureParams(t *testing.T) Params {
	dir := filepath.Join(testdata, "binary-breast-cancer")
	y := column(t, filepath.Join(dir, "holdout.csv"), "target")
	pc := column(t, filepath.Join(dir, "predictions-candidate.csv"), "score")
	pp := column(t, filepath.Join(dir, "predictions-production.csv"), "score")
	b := binaryPreds(pp)
	return Params{Task: "binary", Labels: y, Candidate: binaryPreds(pc), Baseline: &b, Seed: 1, Resamples: 300}
}

func f(v float64) *float64 { return &v }

func TestRunFixtureIsDeterministicAndPasses(t *testing.T) {
	t.Parallel()
	p := fixtureParams(t)
	p.Cost = &metrics.CostMatrix{FN: 500, FP: 5}
	p.Thresholds = map[string]Threshold{"roc_auc": {Min: f(0.9), MinDelta: f(-0.005)}, "recall": {Min: f(0.8)}, "cost_per_1000": {MaxDelta: f(0)}}
	r1, err := Run(context.Background(), p)
	require.NoError(t, err)
	p.Workers = 1
	r2, err := Run(context.Background(), p)
	require.NoError(t, err)
	j1, _ := json.Marshal(r1)
	j2, _ := json.Marshal(r2)
	require.JSONEq(t, string(j1), string(j2), "same seed, any worker count, same result")

	require.True(t, r1.Passed, "%v", r1.Reasons)
	require.NotEqual(t, Regressed, r1.Verdict)
	auc := r1.Comparison["roc_auc"]
	require.Equal(t, "delong", auc.Test)
	require.True(t, auc.Guarded)
	require.InDelta(t, 0.9975175233644861-0.9951080607476636, *auc.Delta, 1e-12)
	require.Less(t, *auc.CILow, *auc.Delta)
	require.Greater(t, *auc.CIHigh, *auc.Delta)
	require.Equal(t, "mcnemar", r1.Comparison["accuracy"].Test)
	require.Len(t, r1.Floors, 2)
	require.NotNil(t, r1.Cost)
	require.InDelta(t, 1000*(4*500+2*5)/171.0, r1.Cost.CandidatePer1000, 1e-9)

	// Swapping the models: production is now "better", but not beyond noise
	// at min_delta -0.005, so still no regression; with min_delta 0.01
	// (the candidate must gain a point) it regresses.
	p2 := fixtureParams(t)
	p2.Candidate, p2.Baseline = *p2.Baseline, &p2.Candidate
	p2.Thresholds = map[string]Threshold{"roc_auc": {MinDelta: f(0.01)}}
	r3, err := Run(context.Background(), p2)
	require.NoError(t, err)
	require.Equal(t, Regressed, r3.Verdict)
	require.False(t, r3.Passed)
	require.Contains(t, r3.Reasons[0], "roc_auc regressed")
}

func TestVerdictUsesTheInterval(t *testing.T) {
	t.Parallel()
	c := func(d, lo, hi float64) Comparison { return Comparison{Delta: &d, CILow: &lo, CIHigh: &hi} }
	cases := []struct {
		name   string
		metric string
		c      Comparison
		th     Threshold
		want   Verdict
	}{
		{"point drop inside noise", "roc_auc", c(-0.01, -0.03, 0.01), Threshold{MinDelta: f(-0.005)}, NoRegression},
		{"whole interval below min_delta", "roc_auc", c(-0.02, -0.03, -0.01), Threshold{MinDelta: f(-0.005)}, Regressed},
		{"interval above zero", "roc_auc", c(0.02, 0.01, 0.03), Threshold{MinDelta: f(-0.005)}, Improved},
		{"lower is better: loss up beyond max_delta", "log_loss", c(0.05, 0.02, 0.08), Threshold{MaxDelta: f(0.01)}, Regressed},
		{"lower is better: loss down", "log_loss", c(-0.05, -0.08, -0.02), Threshold{MaxDelta: f(0.01)}, Improved},
		{"unguarded significant drop", "recall", c(-0.05, -0.08, -0.02), Threshold{}, Regressed},
		{"no interval: point decides", "roc_auc", Comparison{Delta: f(-0.1)}, Threshold{MinDelta: f(0)}, Regressed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, verdict(tc.metric, tc.c, tc.th))
		})
	}
}

func TestFirstModelIsJudgedOnFloorsAlone(t *testing.T) {
	t.Parallel()
	p := fixtureParams(t)
	p.Baseline = nil
	p.Thresholds = map[string]Threshold{"roc_auc": {Min: f(0.999)}}
	r, err := Run(context.Background(), p)
	require.NoError(t, err)
	require.Nil(t, r.Comparison)
	require.False(t, r.Passed)
	require.Contains(t, r.Reasons[0], "roc_auc 0.9975 is outside its bounds (min 0.999)")
	require.Equal(t, NoRegression, r.Verdict)
}

func TestSliceRegressionFailsAndUndefinedIsReported(t *testing.T) {
	t.Parallel()
	// 400 rows; in slice "b" the candidate scores at random while the
	// baseline is sharp, elsewhere both are sharp. Slice "c" holds one
	// class only.
	rng := rand.New(rand.NewPCG(3, 4))
	n := 400
	y := make([]float64, n)
	cand := make([]float64, n)
	base := make([]float64, n)
	seg := make([]string, n)
	for i := range y {
		seg[i] = []string{"a", "b"}[i%2]
		y[i] = float64(rng.IntN(2))
		if i >= 380 {
			seg[i], y[i] = "c", 1
		}
		sharp := 0.2 + 0.6*y[i] + 0.1*(rng.Float64()-0.5)
		base[i] = sharp
		cand[i] = sharp
		if seg[i] == "b" {
			cand[i] = rng.Float64()
		}
	}
	groups, err := metrics.Partition(metrics.SliceSpec{Column: "seg", MinSize: 10}, seg, nil)
	require.NoError(t, err)
	b := binaryPreds(base)
	r, err := Run(context.Background(), Params{Task: "binary", Labels: y, Candidate: binaryPreds(cand), Baseline: &b,
		Slices: []SliceInput{{Column: "seg", Groups: groups}}, Resamples: 200, Seed: 9})
	require.NoError(t, err)
	require.Len(t, r.Slices, 3)
	require.Equal(t, NoRegression, r.Slices[0].Verdict)
	require.Equal(t, Regressed, r.Slices[1].Verdict)
	require.Equal(t, Undefined, r.Slices[2].Comparison["roc_auc"].Verdict)
	require.Equal(t, Regressed, r.Verdict)
	require.False(t, r.Passed)
	var found bool
	for _, u := range r.Undefined {
		if u.Metric == "roc_auc" && u.Subject == "slice seg=c candidate" {
			found = true
		}
	}
	require.True(t, found, "%+v", r.Undefined)
	out, err := json.Marshal(r)
	require.NoError(t, err)
	require.NotContains(t, string(out), "NaN")
}

func TestRunBadInput(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		edit func(p *Params)
		want string
	}{
		{"misaligned", func(p *Params) { p.Candidate = binaryPreds(p.Candidate.Values[:10]) }, "candidate: 10 predictions for 171 labelled rows"},
		{"nan score", func(p *Params) { p.Baseline.Values[3] = math.NaN() }, "baseline: score row 3: score is NaN"},
		{"labels not binary", func(p *Params) { p.Labels[5] = 2 }, "label row 5: 2 is not 0 or 1"},
		{"unknown metric", func(p *Params) { p.Thresholds = map[string]Threshold{"auc": {}} }, `threshold on "auc": not a binary metric`},
		{"wrong kind", func(p *Params) { p.Task = "multiclass" }, "multiclass task needs class probabilities"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			p := fixtureParams(t)
			c.edit(&p)
			_, err := Run(context.Background(), p)
			require.ErrorContains(t, err, c.want)
		})
	}
}
