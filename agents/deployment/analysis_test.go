package deployment

import (
	"encoding/json"
	"math"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/internal/config"
	"github.com/modelgate/modelgate/tools/gateway"
	"github.com/modelgate/modelgate/tools/stats"
)

type oracleCase struct {
	Name        string    `json:"name"`
	Stable      []float64 `json:"stable"`
	Candidate   []float64 `json:"candidate"`
	KSStatistic float64   `json:"ks_statistic"`
	KSPValue    float64   `json:"ks_pvalue"`
	KSPAuto     float64   `json:"ks_pvalue_auto"`
	MWU         float64   `json:"mw_u"`
	MWPValue    float64   `json:"mw_pvalue"`
	PSI         float64   `json:"psi"`
}

// The oracle was computed by scipy 1.10 and numpy (testdata/deploy/gen_stats_oracle.py).
func TestStatsAgainstScipy(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../testdata/deploy/stats-oracle.json")
	require.NoError(t, err)
	var o struct{ Cases []oracleCase }
	require.NoError(t, json.Unmarshal(raw, &o))
	require.Len(t, o.Cases, 5)
	for _, c := range o.Cases {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			// The rollout's KS is drift's: tools/stats.KS2Samp, scipy's
			// method="auto" (exact at these sizes) to scipy's last digits.
			ks, err := stats.KS2Samp(c.Stable, c.Candidate)
			require.NoError(t, err)
			require.InDelta(t, c.KSStatistic, ks.Statistic, 1e-12)
			require.InEpsilon(t, c.KSPAuto, ks.PValue, 1e-6)
			mw := stats.MannWhitneyU(c.Candidate, c.Stable)
			require.InDelta(t, c.MWU, mw.U, 1e-9)
			require.InEpsilon(t, c.MWPValue, mw.PValue, 1e-6)
			require.InDelta(t, c.PSI, PSI(c.Stable, c.Candidate), 1e-9)
		})
	}
}

func f(v float64) *float64 { return &v }

func versionStats(req, errs uint64, p99 float64, scores []float64) gateway.VersionStats {
	s := gateway.VersionStats{Requests: req, Errors: errs, LatencyP99Ms: p99, Scores: scores}
	if req > 0 {
		s.ErrorRate = float64(errs) / float64(req)
	}
	return s
}

func spread(n int, lo, hi float64) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = lo + (hi-lo)*float64(i)/float64(n-1)
	}
	return out
}

func TestAnalyzeCanary(t *testing.T) {
	t.Parallel()
	checks := config.CanaryChecks{
		ErrorRate:    config.Bound{Max: f(0.01)},
		LatencyP99Ms: config.Bound{Max: f(50), MaxRatio: f(2)},
		ScorePSI:     config.Bound{Max: f(0.2)},
		ScoreKS:      config.Bound{Max: f(0.3)},
		MannWhitney:  &config.MannWhitney{Alpha: 0.05, MaxEffect: 0.2},
	}
	good := spread(200, 0, 1)
	tests := []struct {
		name      string
		cand, st  gateway.VersionStats
		hasStable bool
		phase     Phase
		failed    []string
	}{
		{"healthy", versionStats(200, 0, 10, good), versionStats(1800, 0, 9, good), true, Successful, nil},
		{"no data", versionStats(5, 0, 10, good[:5]), versionStats(1800, 0, 9, good), true, Inconclusive, nil},
		{"errors", versionStats(200, 20, 10, good), versionStats(1800, 0, 9, good), true, Failed, []string{"error_rate"}},
		{"slow absolute", versionStats(200, 0, 80, good), versionStats(1800, 0, 60, good), true, Failed, []string{"latency_p99_ms"}},
		{"slow ratio", versionStats(200, 0, 30, good), versionStats(1800, 0, 10, good), true, Failed, []string{"latency_p99_ms"}},
		// zero baseline: stable's p99 of 0 makes the ratio undefined; absolute bound decides
		{"zero baseline latency", versionStats(200, 0, 30, good), versionStats(1800, 0, 0, good), true, Successful, nil},
		{"garbage scores", versionStats(200, 0, 10, spread(200, 0.9, 1)), versionStats(1800, 0, 9, good), true, Failed,
			[]string{"score_psi", "score_ks", "mann_whitney_effect"}},
		{"nan scores", versionStats(200, 0, 10, append(spread(199, 0, 1), math.NaN())), versionStats(1800, 0, 9, good), true, Failed, []string{"score_finite"}},
		// no stable traffic: absolute checks still run, distributions are inconclusive
		{"no baseline", versionStats(200, 0, 10, good), versionStats(3, 0, 9, good[:3]), true, Inconclusive, nil},
		// at 100% stable serves nothing: absolute checks only, garbage scores not compared
		{"full weight", versionStats(200, 0, 10, spread(200, 0.9, 1)), versionStats(0, 0, 0, nil), false, Successful, nil},
		{"no baseline but errors", versionStats(200, 50, 10, good), versionStats(3, 0, 9, good[:3]), true, Failed, []string{"error_rate"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := AnalyzeCanary(CanaryParams{Checks: checks, MinRequests: 20, Candidate: tc.cand, Stable: tc.st, HasStable: tc.hasStable})
			require.Equal(t, tc.phase, a.Phase, "%+v", a.Measurements)
			var failed []string
			for _, m := range a.Failures() {
				failed = append(failed, m.Check)
				require.NotEmpty(t, m.Message)
			}
			require.Equal(t, tc.failed, failed)
		})
	}
}

func TestAnalyzeShadow(t *testing.T) {
	t.Parallel()
	checks := config.ShadowChecks{Agreement: config.Bound{Min: f(0.95)}, ErrorRate: config.Bound{Max: f(0.01)},
		LatencyP99Ms: config.Bound{MaxRatio: f(3)}, ScoreDelta: config.Bound{Max: f(0.05)}}
	tests := []struct {
		name   string
		s      gateway.ShadowSummary
		phase  Phase
		failed []string
	}{
		{"agree", gateway.ShadowSummary{Compared: 100, Rows: 100, AgreeRows: 99, Agreement: 0.99, MeanAbsDelta: 0.01, PrimaryP99Ms: 5, ShadowP99Ms: 6}, Successful, nil},
		{"disagree", gateway.ShadowSummary{Compared: 100, Rows: 100, AgreeRows: 80, Agreement: 0.8, MeanAbsDelta: 0.2, PrimaryP99Ms: 5, ShadowP99Ms: 6}, Failed, []string{"agreement", "score_delta"}},
		{"errors", gateway.ShadowSummary{Compared: 90, Errors: 10, ErrorRate: 0.1, Rows: 90, AgreeRows: 90, Agreement: 1, PrimaryP99Ms: 5, ShadowP99Ms: 6}, Failed, []string{"error_rate"}},
		{"slow", gateway.ShadowSummary{Compared: 100, Rows: 100, AgreeRows: 100, Agreement: 1, PrimaryP99Ms: 5, ShadowP99Ms: 200}, Failed, []string{"latency_p99_ms"}},
		{"no data", gateway.ShadowSummary{Compared: 3, Dropped: 50}, Inconclusive, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := AnalyzeShadow(ShadowParams{Checks: checks, MinRequests: 20, Summary: tc.s})
			require.Equal(t, tc.phase, a.Phase, "%+v", a.Measurements)
			var failed []string
			for _, m := range a.Failures() {
				failed = append(failed, m.Check)
			}
			require.Equal(t, tc.failed, failed)
		})
	}
}

func TestPSIEdgeCases(t *testing.T) {
	t.Parallel()
	require.True(t, math.IsNaN(PSI(nil, []float64{1})))
	require.InDelta(t, 0, PSI(spread(100, 0, 1), spread(100, 0, 1)), 1e-12)
	// a constant baseline still bins (one cut point, two bins)
	require.Greater(t, PSI([]float64{0.5, 0.5, 0.5}, []float64{0.9, 0.9}), 1.0)
}
