package metrics

import "math"

// CostMatrix is the business cost of each outcome of a binary decision
// (a missed fraud, a false alarm, ...). Negative values are gains.
type CostMatrix struct {
	TN float64 `json:"tn"`
	FP float64 `json:"fp"`
	FN float64 `json:"fn"`
	TP float64 `json:"tp"`
}

// PerThousand is the expected cost per 1,000 decisions of a confusion
// matrix.
func (c CostMatrix) PerThousand(m Confusion) float64 {
	n := m.TN + m.FP + m.FN + m.TP
	if n == 0 {
		return math.NaN()
	}
	return 1000 * (c.TN*m.TN + c.FP*m.FP + c.FN*m.FN + c.TP*m.TP) / n
}

// OptimalThreshold is the decision threshold with the lowest expected
// cost on these rows, and that cost per 1,000 decisions. Candidates are
// the distinct scores (predict positive at score >= t) and +Inf (never
// positive); among equal costs the highest threshold wins, the most
// conservative choice.
func (d *BinaryData) OptimalThreshold(c CostMatrix) (threshold, perThousand float64) {
	var P, N float64
	for _, y := range d.Y {
		P += y
	}
	n := float64(len(d.Y))
	N = n - P
	// Start with nothing predicted positive, then lower the threshold
	// through the distinct scores.
	var tp, fp float64
	cost := func() float64 {
		return 1000 * (c.TP*tp + c.FP*fp + c.FN*(P-tp) + c.TN*(N-fp)) / n
	}
	best, bestT := cost(), math.Inf(1)
	d.steps(func(s, gtp, gfp float64) {
		tp += gtp
		fp += gfp
		if v := cost(); v < best {
			best, bestT = v, s
		}
	})
	return bestT, best
}
