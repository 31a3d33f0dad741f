package stats

import (
	"errors"
	"math"
	"slices"
)

// ErrEmpty is returned when a sample has no values.
var ErrEmpty = errors.New("sample is empty")

// KSMethod is how the p-value was computed.
type KSMethod string

const (
	KSExact KSMethod = "exact"
	KSAsymp KSMethod = "asymp"
)

// KSResult is scipy's KstestResult for the two-sided test.
type KSResult struct {
	Statistic float64
	PValue    float64
	Method    KSMethod
}

// maxAutoN is scipy's MAX_AUTO_N: exact when both samples are this small.
const maxAutoN = 10000

// KS2Samp is scipy.stats.ks_2samp(x, y, alternative="two-sided",
// method="auto"). x and y are not modified.
func KS2Samp(x, y []float64) (KSResult, error) {
	a, b := slices.Clone(x), slices.Clone(y)
	slices.Sort(a)
	slices.Sort(b)
	return KS2SampSorted(a, b)
}

// KS2SampSorted is KS2Samp on samples already sorted ascending.
func KS2SampSorted(a, b []float64) (KSResult, error) {
	n1, n2 := len(a), len(b)
	if n1 == 0 || n2 == 0 {
		return KSResult{}, ErrEmpty
	}
	d := ksStatistic(a, b)
	return ksPValue(d, n1, n2), nil
}

// ksStatistic computes max |F1 - F2| exactly as scipy does: both ECDFs
// evaluated (side="right") at every pooled value, the difference taken
// in float64, and the larger of the positive and negative extremes.
func ksStatistic(a, b []float64) float64 {
	n1, n2 := float64(len(a)), float64(len(b))
	i, j := 0, 0
	maxS, minS := math.Inf(-1), math.Inf(1)
	for i < len(a) || j < len(b) {
		var v float64
		switch {
		case j >= len(b) || (i < len(a) && a[i] <= b[j]):
			v = a[i]
		default:
			v = b[j]
		}
		for i < len(a) && a[i] == v {
			i++
		}
		for j < len(b) && b[j] == v {
			j++
		}
		diff := float64(i)/n1 - float64(j)/n2
		if diff > maxS {
			maxS = diff
		}
		if diff < minS {
			minS = diff
		}
	}
	lo := math.Min(math.Max(-minS, 0), 1)
	if lo > maxS {
		return lo
	}
	return maxS
}

// ksPValue follows scipy's ks_2samp after the statistic is known.
func ksPValue(d float64, n1, n2 int) KSResult {
	if max(n1, n2) <= maxAutoN {
		if ok, dd, p := attemptExact2KS(n1, n2, d); ok {
			return KSResult{Statistic: dd, PValue: clip01(p), Method: KSExact}
		}
	}
	m, n := float64(max(n1, n2)), float64(min(n1, n2))
	en := m * n / (m + n)
	p := KolmogorovSF(int(math.RoundToEven(en)), d)
	return KSResult{Statistic: d, PValue: clip01(p), Method: KSAsymp}
}

func clip01(p float64) float64 {
	if math.IsNaN(p) {
		return p
	}
	return math.Min(math.Max(p, 0), 1)
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// attemptExact2KS is scipy's _attempt_exact_2kssamp for two-sided.
func attemptExact2KS(n1, n2 int, d float64) (bool, float64, float64) {
	g := gcd(n1, n2)
	lcm := (n1 / g) * n2
	h := int(math.RoundToEven(d * float64(lcm)))
	d = float64(h) / float64(lcm)
	if h == 0 {
		return true, d, 1.0
	}
	var p float64
	if n1 == n2 {
		p = probOutsideSquare(n1, h)
	} else {
		p = outerProbInsideMethod(n1, n2, g, h)
	}
	if math.IsNaN(p) || math.IsInf(p, 0) || p < 0 || p > 1 {
		return false, d, p
	}
	return true, d, p
}

// probOutsideSquare is scipy's _compute_prob_outside_square.
func probOutsideSquare(n, h int) float64 {
	P := 0.0
	k := int(math.Floor(float64(n) / float64(h)))
	for ; k >= 0; k-- {
		p1 := 1.0
		for j := 0; j < h; j++ {
			p1 = float64(n-k*h-j) * p1 / float64(n+k*h+j+1)
		}
		P = p1 * (1.0 - P)
	}
	return 2 * P
}

// outerProbInsideMethod is scipy's _compute_outer_prob_inside_method
// (Hodges' inside method with Viehmann's recursion for 1-p).
func outerProbInsideMethod(m, n, g, h int) float64 {
	if m < n {
		m, n = n, m
	}
	mg, ng := m/g, n/g
	minj, maxj := 0, min(int(math.Ceil(float64(h)/float64(mg))), n+1)
	curlen := maxj - minj
	lenA := min(2*maxj+2, n+1)
	A := make([]float64, lenA)
	for i := range A {
		A[i] = 1
	}
	for i := minj; i < maxj; i++ {
		A[i] = 0
	}
	for i := 1; i <= m; i++ {
		lastminj, lastlen := minj, curlen
		minj = max(int(math.Floor(float64(ng*i-h)/float64(mg)))+1, 0)
		minj = min(minj, n)
		maxj = min(int(math.Ceil(float64(ng*i+h)/float64(mg))), n+1)
		if maxj <= minj {
			return 1.0
		}
		val := 0.0
		if minj != 0 {
			val = 1.0
		}
		fi := float64(i)
		for jj := 0; jj < maxj-minj; jj++ {
			j := jj + minj
			val = (A[jj+minj-lastminj]*fi + val*float64(j)) / (fi + float64(j))
			A[jj] = val
		}
		curlen = maxj - minj
		if lastlen > curlen {
			for k := maxj - minj; k < maxj-minj+(lastlen-curlen) && k < len(A); k++ {
				A[k] = 1
			}
		}
	}
	return A[maxj-minj-1]
}
