package deployment

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/internal/config"
)

// classifierScores draws n scores shaped like a confident binary
// classifier's: most near 0 or 1, a few in between (what made PSI noisy).
func classifierScores(rng *rand.Rand, n int, shift float64) []float64 {
	out := make([]float64, n)
	for i := range out {
		z := rng.NormFloat64()*2.5 + shift
		if rng.IntN(2) == 0 {
			z = -z
		}
		out[i] = 1 / (1 + math.Exp(-z))
	}
	return out
}

// TestIdenticalCandidatesNeverFail replays an identical candidate 100
// times at the sample sizes a short canary window gets (the case
// was ~30 scores, min_requests 20): no window may fail a distribution
// check. Before the power rule, a PSI limit of 0.2 failed most of them.
func TestIdenticalCandidatesNeverFail(t *testing.T) {
	t.Parallel()
	// The default checks. Mann-Whitney is left out: it is a test at the
	// user's alpha, so it fails an identical model in alpha of windows by
	// definition (6 of 100 at 0.05 here).
	checks := config.CanaryChecks{ErrorRate: config.Bound{Max: f(0.01)}, ScorePSI: config.Bound{Max: f(0.2)}, ScoreKS: config.Bound{Max: f(0.3)}}
	for _, n := range []int{20, 30, 50, 100, 400} {
		rng := rand.New(rand.NewPCG(uint64(n), 7))
		failed, naive := 0, 0
		for range 100 {
			st, cand := classifierScores(rng, n, 3), classifierScores(rng, n, 3)
			if PSI(st, cand) > 0.2 {
				naive++
			}
			a := AnalyzeCanary(CanaryParams{Checks: checks, MinRequests: 20, Candidate: versionStats(uint64(n), 0, 10, cand), Stable: versionStats(uint64(n), 0, 10, st), HasStable: true})
			if a.Phase == Failed {
				failed++
				t.Logf("n=%d failed: %+v", n, a.Failures())
			}
		}
		require.Zero(t, failed, "n=%d: an identical candidate failed a window (PSI alone was above its limit %d times)", n, naive)
		t.Logf("n=%d: PSI above 0.2 in %d of 100 identical windows; 0 failed", n, naive)
	}
}

// TestDifferentCandidatesStillFail: the rule costs no power where there
// is data; a candidate whose scores moved fails once the window can see it.
func TestDifferentCandidatesStillFail(t *testing.T) {
	t.Parallel()
	checks := config.CanaryChecks{ScorePSI: config.Bound{Max: f(0.2)}, ScoreKS: config.Bound{Max: f(0.3)}}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{100, 400} {
		st := classifierScores(rng, n, 3)
		cand := make([]float64, n)
		for i := range cand {
			cand[i] = 0.5 + 0.5*rng.Float64() // a broken model: everything positive-ish
		}
		a := AnalyzeCanary(CanaryParams{Checks: checks, MinRequests: 20, Candidate: versionStats(uint64(n), 0, 10, cand), Stable: versionStats(uint64(n), 0, 10, st), HasStable: true})
		require.Equal(t, Failed, a.Phase, "n=%d: %+v", n, a.Measurements)
	}
	// And at a handful of scores, the same broken model is inconclusive
	// with a message that says how many scores would decide it.
	st, cand := classifierScores(rng, 8, 3), classifierScores(rng, 8, -0.5)
	m := underpowered(Measurement{Check: "score_psi", Value: PSI(st, cand)}, psiNoise(st, cand), 0.2, scoresNeeded(8, psiNoise(st, cand), 0.2, false))
	require.Equal(t, Inconclusive, m.Phase)
	require.Contains(t, m.Message, "scores per version needed")
}
