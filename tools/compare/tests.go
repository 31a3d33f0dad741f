package compare

import (
	"math"
	"slices"

	"gonum.org/v1/gonum/stat/distuv"
)

// DeLongResult is DeLong's paired test of two correlated ROC AUCs.
type DeLongResult struct {
	AUC1, AUC2 float64
	Delta      float64 // AUC1 - AUC2
	Variance   float64 // of the delta
	Z          float64
	PValue     float64 // two-sided
}

// DeLong compares the AUCs of two scores on the same rows (DeLong,
// DeLong & Clarke-Pearson 1988) with the midrank algorithm of Sun & Xu
// (2014): O(n log n) instead of the O(m·n) pairwise comparisons. Ties
// count one half, as in roc_auc. ok is false with one class only.
func DeLong(y, s1, s2 []float64) (r DeLongResult, ok bool) {
	var pos, neg []int
	for i, v := range y {
		if v == 1 {
			pos = append(pos, i)
		} else {
			neg = append(neg, i)
		}
	}
	m, n := len(pos), len(neg)
	if m == 0 || n == 0 {
		return r, false
	}
	v10 := [2][]float64{}
	v01 := [2][]float64{}
	var auc [2]float64
	for k, s := range [][]float64{s1, s2} {
		x := pick(s, pos)
		z := pick(s, neg)
		tx := midranks(x)
		tz := midranks(z)
		all := midranks(append(append([]float64{}, x...), z...))
		v10[k] = make([]float64, m)
		v01[k] = make([]float64, n)
		var sum float64
		for i := 0; i < m; i++ {
			v10[k][i] = (all[i] - tx[i]) / float64(n)
			sum += v10[k][i]
		}
		for j := 0; j < n; j++ {
			v01[k][j] = 1 - (all[m+j]-tz[j])/float64(m)
		}
		auc[k] = sum / float64(m)
	}
	s10 := cov2(v10[0], v10[1])
	s01 := cov2(v01[0], v01[1])
	variance := (s10[0]+s10[1]-2*s10[2])/float64(m) + (s01[0]+s01[1]-2*s01[2])/float64(n)
	r = DeLongResult{AUC1: auc[0], AUC2: auc[1], Delta: auc[0] - auc[1], Variance: variance}
	switch {
	case variance > 0:
		r.Z = r.Delta / math.Sqrt(variance)
		r.PValue = 2 * distuv.UnitNormal.CDF(-math.Abs(r.Z))
	case r.Delta == 0:
		r.PValue = 1
	default:
		r.Z = math.Copysign(math.Inf(1), r.Delta)
		r.PValue = 0
	}
	return r, true
}

func pick(s []float64, idx []int) []float64 {
	out := make([]float64, len(idx))
	for i, j := range idx {
		out[i] = s[j]
	}
	return out
}

// midranks returns 1-based ranks with ties given their average rank.
func midranks(v []float64) []float64 {
	idx := make([]int, len(v))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case v[a] < v[b]:
			return -1
		case v[a] > v[b]:
			return 1
		}
		return 0
	})
	r := make([]float64, len(v))
	for i := 0; i < len(idx); {
		j := i
		for j < len(idx) && v[idx[j]] == v[idx[i]] {
			j++
		}
		mid := float64(i+j+1) / 2 // average of ranks i+1..j
		for k := i; k < j; k++ {
			r[idx[k]] = mid
		}
		i = j
	}
	return r
}

// cov2 returns var(a), var(b), cov(a, b) with n-1 in the denominator.
func cov2(a, b []float64) [3]float64 {
	n := float64(len(a))
	if n < 2 {
		return [3]float64{}
	}
	var ma, mb float64
	for i := range a {
		ma += a[i]
		mb += b[i]
	}
	ma /= n
	mb /= n
	var va, vb, c float64
	for i := range a {
		da, db := a[i]-ma, b[i]-mb
		va += da * da
		vb += db * db
		c += da * db
	}
	return [3]float64{va / (n - 1), vb / (n - 1), c / (n - 1)}
}

// McNemar is the exact two-sided McNemar test: b rows only the first
// model got right, c rows only the second. Under the null each
// discordant row is a fair coin, so p = min(1, 2·P(X <= min(b, c)))
// with X ~ Binomial(b+c, 1/2), as scipy's binomtest.
func McNemar(b, c int) float64 {
	n := b + c
	if n == 0 || b == c {
		return 1
	}
	k := min(b, c)
	p := 2 * distuv.Binomial{N: float64(n), P: 0.5}.CDF(float64(k))
	return min(1, p)
}
