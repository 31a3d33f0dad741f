package deployment

import (
	"math"
	"math/rand/v2"
	"slices"
)

// A distribution check decides only when its sample can tell its limit
// from chance. Two windows of an identical model differ by sampling
// alone, and at a few dozen scores that difference is larger than the
// usual limits (PSI 0.2 reached 0.77 between two servers of one model on
// 50 scores each): a check that fails there rolls back a model for the
// traffic it got, not for what it is.

// noiseSplits is how many random splits estimate a statistic's null.
const noiseSplits = 1000

// noiseQuantile is the share of identical-model splits a limit must clear.
const noiseQuantile = 0.999

// psiNoise is what PSI between two versions serving the same model
// reaches by chance at these sample sizes: the 99.9th percentile of PSI
// over random splits of the pooled scores into groups of the same sizes
// (a permutation null, so it holds for any score distribution, ties and
// empty bins included). It is deterministic for the same inputs.
func psiNoise(stable, cand []float64) float64 {
	pool := make([]float64, 0, len(stable)+len(cand))
	pool = append(append(pool, stable...), cand...)
	seed := uint64(len(stable))<<32 | uint64(len(cand))
	for _, x := range pool {
		seed = seed*0x9E3779B97F4A7C15 + math.Float64bits(x)
	}
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	null := make([]float64, noiseSplits)
	for i := range null {
		rng.Shuffle(len(pool), func(a, b int) { pool[a], pool[b] = pool[b], pool[a] })
		null[i] = PSI(pool[:len(stable)], pool[len(stable):])
	}
	slices.Sort(null)
	return null[int(math.Ceil(noiseQuantile*noiseSplits))-1]
}

// ksNoise is the two-sample KS statistic that identical distributions
// exceed with probability 0.1 %: c(0.001)·sqrt((n+m)/(n·m)), c = 1.949.
func ksNoise(n, m int) float64 {
	if n == 0 || m == 0 {
		return 1
	}
	return 1.949 * math.Sqrt(float64(n+m)/float64(n*m))
}

// scoresNeeded scales the current sizes up to where noise would fall to
// the limit: both statistics' null shrinks as 1/n_eff (PSI) or
// 1/sqrt(n_eff) (KS), so the estimate is n·noise/limit or n·(noise/limit)².
func scoresNeeded(n int, noise, limit float64, squared bool) int {
	if limit <= 0 {
		return 0
	}
	r := noise / limit
	if squared {
		r *= r
	}
	return int(math.Ceil(float64(n) * r))
}
