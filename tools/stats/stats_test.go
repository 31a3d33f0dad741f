package stats

import (
	"cmp"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

type oracle struct {
	KS []struct {
		X, Y []float64
		Grid *struct {
			N1, N2 int
			Scale2 float64
			Ties   bool
		}
		Statistic, Pvalue, Wasserstein float64
	}
	KstwoSF []struct {
		N     int
		X, SF float64
	} `json:"kstwo_sf"`
	Smirnov []struct {
		N     int
		X, SF float64
	}
	Chi2 []struct {
		Ref, Cur          []float64
		Statistic, Pvalue float64
		DoF               int
	}
	JS []struct {
		P, Q     []float64
		Distance float64
	}
}

func loadOracle(t *testing.T) oracle {
	t.Helper()
	b, err := os.ReadFile("../../testdata/drift/stats-oracle.json")
	require.NoError(t, err)
	var o oracle
	require.NoError(t, json.Unmarshal(b, &o))
	return o
}

// grid repeats gen_oracle.py's formula exactly.
func grid(n, mult int, scale float64, ties bool) []float64 {
	out := make([]float64, n)
	for i := range out {
		v := (i * mult) % n
		if ties {
			v %= 97
		}
		out[i] = float64(v) / float64(n) * scale
	}
	return out
}

// close reports whether got is within rel of want, or within abs.
func near(got, want, rel, abs float64) bool {
	if got == want {
		return true
	}
	return math.Abs(got-want) <= abs || math.Abs(got-want) <= rel*math.Abs(want)
}

func TestKS2SampMatchesScipy(t *testing.T) {
	t.Parallel()
	o := loadOracle(t)
	require.Len(t, o.KS, 15)
	for _, c := range o.KS {
		x, y := c.X, c.Y
		if c.Grid != nil {
			x = grid(c.Grid.N1, 7919, 1.0, c.Grid.Ties)
			y = grid(c.Grid.N2, 7907, c.Grid.Scale2, c.Grid.Ties)
		}
		r, err := KS2Samp(x, y)
		require.NoError(t, err)
		require.InDelta(t, c.Statistic, r.Statistic, 1e-12, "n=%d,%d", len(x), len(y))
		require.True(t, near(r.PValue, c.Pvalue, 1e-9, 1e-300), "n=%d,%d p=%g want %g (%s)", len(x), len(y), r.PValue, c.Pvalue, r.Method)
		w, err := Wasserstein1(x, y)
		require.NoError(t, err)
		require.True(t, near(w, c.Wasserstein, 1e-9, 0), "wasserstein %g want %g", w, c.Wasserstein)
	}
}

func TestKolmogorovSFMatchesScipy(t *testing.T) {
	t.Parallel()
	o := loadOracle(t)
	require.Len(t, o.KstwoSF, 14*13)
	require.Len(t, o.Smirnov, 48)
	for _, c := range o.KstwoSF {
		got := KolmogorovSF(c.N, c.X)
		require.True(t, near(got, c.SF, 1e-9, 1e-300), "kstwo.sf(%g, %d) = %g, scipy %g", c.X, c.N, got, c.SF)
	}
	for _, c := range o.Smirnov {
		got := SmirnovSF(c.N, c.X)
		require.True(t, near(got, c.SF, 1e-9, 1e-300), "smirnov(%d, %g) = %g, scipy %g", c.N, c.X, got, c.SF)
	}
}

func TestChiSquareAndJSMatchScipy(t *testing.T) {
	t.Parallel()
	o := loadOracle(t)
	// A renamed key in the oracle file would leave these loops empty.
	require.NotEmpty(t, o.Chi2)
	require.NotEmpty(t, o.JS)
	for _, c := range o.Chi2 {
		r := ChiSquareHomogeneity(c.Ref, c.Cur)
		require.Equal(t, c.DoF, r.DoF)
		require.True(t, near(r.Statistic, c.Statistic, 1e-9, 1e-12), "chi2 %g want %g", r.Statistic, c.Statistic)
		require.True(t, near(r.PValue, c.Pvalue, 1e-7, 1e-300), "p %g want %g", r.PValue, c.Pvalue)
	}
	for _, c := range o.JS {
		require.True(t, near(JensenShannon(c.P, c.Q), c.Distance, 1e-12, 1e-15))
	}
}

func TestProperties(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 7, 100, 5000, 20000} {
		x := make([]float64, n)
		y := make([]float64, n/2+3)
		for i := range x {
			x[i] = r.NormFloat64()
		}
		for i := range y {
			y[i] = r.NormFloat64() + 0.1
		}
		same, err := KS2Samp(x, x)
		require.NoError(t, err)
		require.Equal(t, 0.0, same.Statistic)
		require.Equal(t, 1.0, same.PValue)
		w, _ := Wasserstein1(x, x)
		require.Equal(t, 0.0, w)
		ab, _ := KS2Samp(x, y)
		ba, _ := KS2Samp(y, x)
		require.Equal(t, ab.Statistic, ba.Statistic, "KS is symmetric")
		require.Equal(t, ab.PValue, ba.PValue)
		require.GreaterOrEqual(t, ab.PValue, 0.0)
		require.LessOrEqual(t, ab.PValue, 1.0)
		w1, _ := Wasserstein1(x, y)
		w2, _ := Wasserstein1(y, x)
		require.InDelta(t, w1, w2, 1e-12)
	}
	_, err := KS2Samp(nil, []float64{1})
	require.ErrorIs(t, err, ErrEmpty)
}

func TestPSI(t *testing.T) {
	t.Parallel()
	ref := make([]float64, 1000)
	for i := range ref {
		ref[i] = float64(i)
	}
	same, err := PSISorted(ref, ref, 10)
	require.NoError(t, err)
	require.InDelta(t, 0, same.PSI, 1e-15)
	require.Len(t, same.Edges, 9)
	shifted := make([]float64, 1000)
	for i := range shifted {
		shifted[i] = float64(i) + 500
	}
	s, _ := PSISorted(ref, shifted, 10)
	// Bins 0-4 of the current are empty, bins 5-8 hold 10% each, the top bin 60%.
	want := 5*(PSIEmptyBin-0.1)*math.Log(PSIEmptyBin/0.1) + (0.6-0.1)*math.Log(6)
	require.InDelta(t, want, s.PSI, 1e-12)
	// Constant reference: every edge collapses to one.
	c, _ := PSISorted([]float64{1, 1, 1}, []float64{1, 2}, 10)
	require.Len(t, c.Edges, 1)
}

func TestTwoProportionZAndBH(t *testing.T) {
	t.Parallel()
	z := TwoProportionZ(50, 100, 50, 100)
	require.Equal(t, 0.0, z.Statistic)
	require.InDelta(t, 1.0, z.PValue, 1e-15)
	// statsmodels proportions_ztest([30, 50], [100, 100]) = (-2.8867513459481287, 0.0038924171227786)
	z = TwoProportionZ(30, 100, 50, 100)
	require.InDelta(t, -2.8867513459481287, z.Statistic, 1e-12)
	require.InDelta(t, 0.0038924171227786, z.PValue, 1e-12)
	require.Equal(t, 1.0, TwoProportionZ(0, 10, 0, 20).PValue)
	// statsmodels multipletests([0.01, 0.04, 0.03, 0.2], method="fdr_bh")[1]
	got := BenjaminiHochberg([]float64{0.01, 0.04, 0.03, 0.2, math.NaN()})
	require.InDeltaSlice(t, []float64{0.04, 0.05333333333333334, 0.05333333333333334, 0.2}, got[:4], 1e-15)
	require.True(t, math.IsNaN(got[4]))
}

func TestSortFloat64s(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{0, 1, 10, 255, 256, 1000, 100000} {
		x := make([]float64, n)
		for i := range x {
			switch i % 4 {
			case 0:
				x[i] = r.NormFloat64() * 1e6
			case 1:
				x[i] = -r.Float64()
			case 2:
				x[i] = float64(r.IntN(10)) // ties and zeros
			default:
				x[i] = math.Copysign(0, -1)
			}
		}
		want := slices.Clone(x)
		slices.Sort(want)
		SortFloat64s(x)
		for i := range x {
			require.True(t, x[i] == want[i], "n=%d i=%d", n, i)
		}
	}
}

// BenchmarkSortFloat64s compares the radix sort with slices.Sort on a
// million normal values (the figure quoted in SortFloat64s' comment).
func BenchmarkSortFloat64s(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 6))
	src := make([]float64, 1_000_000)
	for i := range src {
		src[i] = r.NormFloat64()
	}
	x := make([]float64, len(src))
	for name, sort := range map[string]func([]float64){"radix": SortFloat64s, "slices.Sort": slices.Sort[[]float64]} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				copy(x, src)
				sort(x)
			}
		})
	}
}

func TestKLLErrorBound(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(7, 8))
	const n = 1_000_000
	x := make([]float64, n)
	for i := range x {
		x[i] = r.NormFloat64()*3 + r.ExpFloat64()
	}
	sorted := slices.Clone(x)
	SortFloat64s(sorted)
	for _, k := range []int{200, 2000} {
		// Two half sketches merged must keep the bound too.
		a, b := NewKLL(k), NewKLL(k)
		for i, v := range x {
			if i%2 == 0 {
				a.Add(v)
			} else {
				b.Add(v)
			}
		}
		a.Merge(b)
		require.EqualValues(t, n, a.N())
		vs, ws := a.Items()
		require.InDelta(t, float64(n), sum(ws), 0)
		require.Less(t, len(vs), 4*k)
		worst := 0.0
		for q := 1; q < 200; q++ {
			v := a.Quantile(float64(q) / 200)
			// true rank of v
			idx := sortSearch(sorted, v)
			worst = math.Max(worst, math.Abs(float64(idx)/n-float64(q)/200))
		}
		require.Less(t, worst, 3.0/float64(k), "k=%d max rank error %g", k, worst)
		t.Logf("k=%d retained=%d max rank error %.5f (bound %.5f)", k, len(vs), worst, 3.0/float64(k))
	}
}

func sortSearch(s []float64, v float64) int {
	lo, hi := 0, len(s)
	for lo < hi {
		m := (lo + hi) / 2
		if s[m] <= v {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

func TestWeightedMatchesExact(t *testing.T) {
	t.Parallel()
	a := []float64{1, 2, 2, 3, 5}
	b := []float64{2, 4, 4, 6}
	ones := func(n int) []float64 {
		w := make([]float64, n)
		for i := range w {
			w[i] = 1
		}
		return w
	}
	ks, _ := KS2SampSorted(a, b)
	w, _ := Wasserstein1Sorted(a, b)
	require.InDelta(t, ks.Statistic, WeightedKS(a, ones(5), b, ones(4)), 1e-15)
	require.InDelta(t, w, WeightedWasserstein(a, ones(5), b, ones(4)), 1e-15)

	// A value of weight w stands for w copies of it, as a compacted sketch
	// item does: weighted and expanded samples must agree. Unit weights
	// alone would pass an implementation that ignored the weights.
	r := rand.New(rand.NewPCG(11, 12))
	for range 50 {
		av, aw, ax := weightedSample(r, 1+r.IntN(20))
		bv, bw, bx := weightedSample(r, 1+r.IntN(20))
		ks, _ := KS2SampSorted(ax, bx)
		w, _ := Wasserstein1Sorted(ax, bx)
		require.InDelta(t, ks.Statistic, WeightedKS(av, aw, bv, bw), 1e-12)
		require.InDelta(t, w, WeightedWasserstein(av, aw, bv, bw), 1e-9)
	}
}

// weightedSample returns n sorted values (with repeats) and weights, and
// the sample with each value repeated weight times.
func weightedSample(r *rand.Rand, n int) (vals, weights, expanded []float64) {
	for range n {
		vals = append(vals, float64(r.IntN(12))/2)
		weights = append(weights, float64(1+r.IntN(8)))
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(i, j int) int { return cmp.Compare(vals[i], vals[j]) })
	sv, sw := make([]float64, n), make([]float64, n)
	for k, i := range idx {
		sv[k], sw[k] = vals[i], weights[i]
		for range int(weights[i]) {
			expanded = append(expanded, vals[i])
		}
	}
	return sv, sw, expanded
}

// ItemsCDF answers as the sketch does, at every retained value and between.
func TestItemsCDFMatchesSketch(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(21, 22))
	s := NewKLL(64)
	for range 20_000 {
		s.Add(math.Round(r.NormFloat64()*40) / 8) // ties on purpose
	}
	vs, ws := s.Items()
	c := NewItemsCDF(vs, ws, s.N())
	probes := append(slices.Clone(vs), -1e9, 1e9)
	for range 200 {
		probes = append(probes, r.NormFloat64()*6)
	}
	for _, x := range probes {
		require.Equal(t, s.CDF(x), c.CDF(x), "CDF(%g)", x)
	}
	for q := 0.0; q <= 1; q += 0.01 {
		want := func() float64 { // KLL.Quantile's definition, spelled out
			target, cum := q*float64(s.N()), 0.0
			for i, v := range vs {
				if cum += ws[i]; cum >= target {
					return v
				}
			}
			return vs[len(vs)-1]
		}()
		require.Equal(t, want, c.Quantile(q), "Quantile(%g)", q)
	}
}
