package stats

import (
	"math"
	"slices"
	"sort"

	"gonum.org/v1/gonum/stat/distuv"
)

// Wasserstein1 is scipy.stats.wasserstein_distance(u, v) (unweighted).
func Wasserstein1(u, v []float64) (float64, error) {
	a, b := slices.Clone(u), slices.Clone(v)
	slices.Sort(a)
	slices.Sort(b)
	return Wasserstein1Sorted(a, b)
}

// Wasserstein1Sorted is Wasserstein1 on samples sorted ascending: the
// integral of |F_u - F_v| between consecutive pooled values.
func Wasserstein1Sorted(a, b []float64) (float64, error) {
	if len(a) == 0 || len(b) == 0 {
		return 0, ErrEmpty
	}
	n1, n2 := float64(len(a)), float64(len(b))
	i, j := 0, 0
	sum := 0.0
	prev := 0.0
	first := true
	for i < len(a) || j < len(b) {
		var v float64
		if j >= len(b) || (i < len(a) && a[i] <= b[j]) {
			v = a[i]
		} else {
			v = b[j]
		}
		if !first {
			sum += math.Abs(float64(i)/n1-float64(j)/n2) * (v - prev)
		}
		first = false
		for i < len(a) && a[i] == v {
			i++
		}
		for j < len(b) && b[j] == v {
			j++
		}
		prev = v
	}
	return sum, nil
}

// StdDev is the population standard deviation (numpy's np.std, ddof=0).
func StdDev(x []float64) float64 {
	if len(x) == 0 {
		return math.NaN()
	}
	mean := 0.0
	for _, v := range x {
		mean += v
	}
	mean /= float64(len(x))
	ss := 0.0
	for _, v := range x {
		d := v - mean
		ss += d * d
	}
	return math.Sqrt(ss / float64(len(x)))
}

// Quantile is numpy's default (linear) quantile of sorted data.
func Quantile(sorted []float64, q float64) float64 {
	n := len(sorted)
	if n == 0 {
		return math.NaN()
	}
	pos := q * float64(n-1)
	lo := int(math.Floor(pos))
	if lo >= n-1 {
		return sorted[n-1]
	}
	frac := pos - float64(lo)
	return sorted[lo] + (sorted[lo+1]-sorted[lo])*frac
}

// PSIEmptyBin replaces an empty bin's share so that the log stays finite
// (Evidently's choice).
const PSIEmptyBin = 0.0001

// PSIResult is the population stability index and its bins.
type PSIResult struct {
	PSI       float64   `json:"psi"`
	Edges     []float64 `json:"edges"`     // inner edges: bins are (-inf,e0], (e0,e1], ..., (ek,+inf)
	Reference []float64 `json:"reference"` // share of the reference in each bin
	Current   []float64 `json:"current"`
}

// PSISorted computes PSI with bins cut at the reference's deciles
// (bins-1 inner edges at quantiles 1/bins ... (bins-1)/bins, duplicates
// merged). An empty bin's share is PSIEmptyBin in both samples' terms.
func PSISorted(ref, cur []float64, bins int) (PSIResult, error) {
	if len(ref) == 0 || len(cur) == 0 {
		return PSIResult{}, ErrEmpty
	}
	if bins < 2 {
		bins = 10
	}
	var edges []float64
	for k := 1; k < bins; k++ {
		e := Quantile(ref, float64(k)/float64(bins))
		if len(edges) == 0 || e > edges[len(edges)-1] {
			edges = append(edges, e)
		}
	}
	count := func(s []float64) []float64 {
		out := make([]float64, len(edges)+1)
		prev := 0
		for k, e := range edges {
			// values <= e: upper bound in sorted data
			idx := sort.Search(len(s), func(i int) bool { return s[i] > e })
			out[k] = float64(idx - prev)
			prev = idx
		}
		out[len(edges)] = float64(len(s) - prev)
		for k := range out {
			out[k] /= float64(len(s))
		}
		return out
	}
	r, c := count(ref), count(cur)
	psi := 0.0
	for k := range r {
		pr, pc := r[k], c[k]
		if pr == 0 {
			pr = PSIEmptyBin
		}
		if pc == 0 {
			pc = PSIEmptyBin
		}
		psi += (pc - pr) * math.Log(pc/pr)
	}
	return PSIResult{PSI: psi, Edges: edges, Reference: r, Current: c}, nil
}

// ChiSquareResult is scipy.stats.chi2_contingency's statistic and p-value.
type ChiSquareResult struct {
	Statistic float64
	PValue    float64
	DoF       int
}

// ChiSquareHomogeneity tests whether two count vectors over the same
// categories come from one distribution: scipy.stats.chi2_contingency on
// the 2×k table (Yates' correction when there is one degree of freedom,
// as scipy does). Categories with zero count in both rows are dropped.
func ChiSquareHomogeneity(ref, cur []float64) ChiSquareResult {
	var r, c []float64
	for i := range ref {
		if ref[i]+cur[i] > 0 {
			r = append(r, ref[i])
			c = append(c, cur[i])
		}
	}
	k := len(r)
	if k < 2 {
		return ChiSquareResult{Statistic: 0, PValue: 1, DoF: 0}
	}
	var nr, nc float64
	for i := range r {
		nr += r[i]
		nc += c[i]
	}
	total := nr + nc
	dof := k - 1
	stat := 0.0
	for i := range r {
		col := r[i] + c[i]
		for _, obs := range [2][2]float64{{r[i], nr}, {c[i], nc}} {
			exp := obs[1] * col / total
			d := obs[0] - exp
			if dof == 1 {
				// Yates: move each observation half a unit toward its expectation.
				d = math.Copysign(math.Max(math.Abs(d)-0.5, 0), d)
			}
			stat += d * d / exp
		}
	}
	p := distuv.ChiSquared{K: float64(dof)}.Survival(stat)
	return ChiSquareResult{Statistic: stat, PValue: p, DoF: dof}
}

// ZTestResult is a two-proportion Z-test.
type ZTestResult struct {
	Statistic float64
	PValue    float64
}

// TwoProportionZ tests whether the share of successes differs between two
// samples (pooled variance, two-sided). Identical all-or-nothing shares
// give z = 0, p = 1.
func TwoProportionZ(x1, n1, x2, n2 float64) ZTestResult {
	if n1 == 0 || n2 == 0 {
		return ZTestResult{PValue: math.NaN()}
	}
	p1, p2 := x1/n1, x2/n2
	p := (x1 + x2) / (n1 + n2)
	se := math.Sqrt(p * (1 - p) * (1/n1 + 1/n2))
	if se == 0 {
		return ZTestResult{Statistic: 0, PValue: 1}
	}
	z := (p1 - p2) / se
	return ZTestResult{Statistic: z, PValue: math.Erfc(math.Abs(z) / math.Sqrt2)}
}

// JensenShannon is scipy.spatial.distance.jensenshannon(p, q) with the
// natural log: both vectors are normalised to sum to one first.
func JensenShannon(p, q []float64) float64 {
	var sp, sq float64
	for i := range p {
		sp += p[i]
		sq += q[i]
	}
	js := 0.0
	for i := range p {
		a, b := p[i]/sp, q[i]/sq
		m := (a + b) / 2
		js += relEntr(a, m) + relEntr(b, m)
	}
	return math.Sqrt(math.Max(js/2, 0))
}

func relEntr(x, y float64) float64 {
	switch {
	case x > 0 && y > 0:
		return x * math.Log(x/y)
	case x == 0 && y >= 0:
		return 0
	}
	return math.Inf(1)
}

// BenjaminiHochberg returns the BH-adjusted p-values (statsmodels'
// multipletests method="fdr_bh"), in the input order. NaN stays NaN and
// does not count towards m.
func BenjaminiHochberg(p []float64) []float64 {
	type ip struct {
		i int
		p float64
	}
	var v []ip
	for i, x := range p {
		if !math.IsNaN(x) {
			v = append(v, ip{i, x})
		}
	}
	out := make([]float64, len(p))
	for i := range out {
		out[i] = math.NaN()
	}
	m := float64(len(v))
	sort.SliceStable(v, func(a, b int) bool { return v[a].p < v[b].p })
	minv := 1.0
	for k := len(v) - 1; k >= 0; k-- {
		adj := v[k].p * m / float64(k+1)
		minv = math.Min(minv, adj)
		out[v[k].i] = minv
	}
	return out
}
