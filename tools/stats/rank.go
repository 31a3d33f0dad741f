package stats

import (
	"math"
	"slices"
)

// MannWhitneyResult is a two-sided Mann-Whitney U test of x against y.
type MannWhitneyResult struct {
	U      float64 `json:"u"`      // U statistic of x (scipy's mannwhitneyu statistic)
	PValue float64 `json:"p"`      // asymptotic, tie-corrected, continuity-corrected
	Effect float64 `json:"effect"` // rank-biserial correlation 2U/(n·m) − 1: 0 none, ±1 complete separation
}

// MannWhitneyU is scipy.stats.mannwhitneyu(x, y, alternative="two-sided",
// method="asymptotic", use_continuity=True), with the rank-biserial
// effect size. An empty sample gives NaN throughout; all values tied
// (no variance) gives p = 1. x and y are not modified.
func MannWhitneyU(x, y []float64) MannWhitneyResult {
	n1, n2 := len(x), len(y)
	if n1 == 0 || n2 == 0 {
		return MannWhitneyResult{U: math.NaN(), PValue: math.NaN(), Effect: math.NaN()}
	}
	type obs struct {
		v   float64
		inX bool
	}
	all := make([]obs, 0, n1+n2)
	for _, v := range x {
		all = append(all, obs{v, true})
	}
	for _, v := range y {
		all = append(all, obs{v, false})
	}
	slices.SortFunc(all, func(a, b obs) int {
		switch {
		case a.v < b.v:
			return -1
		case a.v > b.v:
			return 1
		}
		return 0
	})
	n := float64(n1 + n2)
	r1, ties := 0.0, 0.0
	for i := 0; i < len(all); {
		j := i
		for j < len(all) && all[j].v == all[i].v {
			j++
		}
		rank := float64(i+j+1) / 2 // average of ranks i+1..j
		for k := i; k < j; k++ {
			if all[k].inX {
				r1 += rank
			}
		}
		t := float64(j - i)
		ties += t*t*t - t
		i = j
	}
	fn1, fn2 := float64(n1), float64(n2)
	u1 := r1 - fn1*(fn1+1)/2
	u2 := fn1*fn2 - u1
	mu := fn1 * fn2 / 2
	sigma := math.Sqrt(fn1 * fn2 / 12 * ((n + 1) - ties/(n*(n-1))))
	res := MannWhitneyResult{U: u1, Effect: 2*u1/(fn1*fn2) - 1}
	if sigma == 0 {
		res.PValue = 1
		return res
	}
	z := (math.Max(u1, u2) - mu - 0.5) / sigma
	res.PValue = math.Min(1, math.Erfc(z/math.Sqrt2))
	return res
}

// PSIEqualWidth is the population stability index of actual against
// expected as Evidently computes it: bins equal-width bins over the range
// of both samples together (numpy's histogram_bin_edges; the last bin
// closed), empty bins' shares replaced by PSIEmptyBin, Σ (e−a)·ln(e/a).
// Unlike PSISorted's deciles of the reference, equal-width bins over the
// joint range stay meaningful when the reference takes few distinct
// values, as a small tree ensemble's scores do. NaN when either sample
// is empty; bins < 1 means 10.
func PSIEqualWidth(expected, actual []float64, bins int) float64 {
	if len(expected) == 0 || len(actual) == 0 {
		return math.NaN()
	}
	if bins < 1 {
		bins = 10
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range [][]float64{expected, actual} {
		for _, x := range v {
			lo, hi = math.Min(lo, x), math.Max(hi, x)
		}
	}
	if lo == hi {
		lo, hi = lo-0.5, hi+0.5
	}
	shares := func(v []float64) []float64 {
		c := make([]float64, bins)
		for _, x := range v {
			j := int((x - lo) / (hi - lo) * float64(bins))
			j = max(0, min(j, bins-1))
			c[j]++
		}
		for i := range c {
			c[i] /= float64(len(v))
			if c[i] == 0 {
				c[i] = PSIEmptyBin
			}
		}
		return c
	}
	ce, ca := shares(expected), shares(actual)
	psi := 0.0
	for i := range ce {
		psi += (ce[i] - ca[i]) * math.Log(ce[i]/ca[i])
	}
	return psi
}
