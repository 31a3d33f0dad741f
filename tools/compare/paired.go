package compare

import (
	"errors"
	"math/rand/v2"
)

// Paired is the paired bootstrap of a mean difference: Delta is
// mean(a) - mean(b) over the pairs, CILow and CIHigh its percentile
// interval, PValue the bootstrap p-value of "no change" (as for metric
// deltas). OK is false when there was nothing to resample.
type Paired struct {
	Delta  float64 `json:"delta"`
	CILow  float64 `json:"ci_low"`
	CIHigh float64 `json:"ci_high"`
	PValue float64 `json:"p_value"`
	OK     bool    `json:"ok"`
}

// PairedBootstrap resamples pairs (a[i], b[i]) with replacement,
// resamples times, seeded: the per-case scores of two prompts on one eval
// suite, say, where each case is measured on both. Resample r draws from
// rand.NewPCG(seed, r), so a result is reproducible.
func PairedBootstrap(a, b []float64, resamples int, seed int64, alpha float64) (Paired, error) {
	if len(a) != len(b) {
		return Paired{}, errors.New("paired bootstrap: the two samples differ in length")
	}
	if resamples <= 0 || alpha <= 0 || alpha >= 1 {
		return Paired{}, errors.New("paired bootstrap: want resamples > 0 and 0 < alpha < 1")
	}
	n := len(a)
	if n == 0 {
		return Paired{}, nil
	}
	d := make([]float64, n)
	var sum float64
	for i := range a {
		d[i] = a[i] - b[i]
		sum += d[i]
	}
	out := Paired{Delta: sum / float64(n)}
	means := make([]float64, resamples)
	for r := range resamples {
		rng := rand.New(rand.NewPCG(uint64(seed), uint64(r)))
		var s float64
		for range n {
			s += d[rng.IntN(n)]
		}
		means[r] = s / float64(n)
	}
	lo, hi, p, ok := interval(means, alpha)
	out.CILow, out.CIHigh, out.PValue, out.OK = lo, hi, p, ok
	return out, nil
}
