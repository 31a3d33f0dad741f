package stats

import (
	"encoding/json"
	"math"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

// The oracle is scipy 1.10's mannwhitneyu and numpy's histogram
// (testdata/stats/gen_rank_oracle.py).
func TestMannWhitneyAndEqualWidthPSIMatchScipy(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../testdata/stats/rank-oracle.json")
	require.NoError(t, err)
	var o struct {
		Cases []struct {
			Name      string
			X, Y      []float64
			U, P, PSI float64
		}
	}
	require.NoError(t, json.Unmarshal(raw, &o))
	require.Len(t, o.Cases, 6)
	for _, c := range o.Cases {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			mw := MannWhitneyU(c.X, c.Y)
			require.InDelta(t, c.U, mw.U, 1e-9)
			require.InEpsilon(t, c.P, mw.PValue, 1e-9)
			require.InDelta(t, 2*c.U/float64(len(c.X)*len(c.Y))-1, mw.Effect, 1e-12)
			require.InDelta(t, c.PSI, PSIEqualWidth(c.Y, c.X, 10), 1e-9)
		})
	}
}

func TestRankEdgeCases(t *testing.T) {
	t.Parallel()
	require.True(t, math.IsNaN(MannWhitneyU(nil, []float64{1}).PValue))
	require.Equal(t, 1.0, MannWhitneyU([]float64{1, 1}, []float64{1, 1}).PValue, "all tied: no evidence of a difference")
	require.Equal(t, -1.0, MannWhitneyU([]float64{0, 1}, []float64{2, 3}).Effect, "x entirely below y")
	require.True(t, math.IsNaN(PSIEqualWidth(nil, []float64{1}, 10)))
	same := []float64{0.1, 0.2, 0.3, 0.4, 0.5}
	require.InDelta(t, 0, PSIEqualWidth(same, same, 10), 1e-12)
	// a constant sample on both sides still bins (a range of one around it)
	require.Greater(t, PSIEqualWidth([]float64{0.5, 0.5, 0.5}, []float64{0.9, 0.9}, 10), 1.0)
	require.Equal(t, PSIEqualWidth(same, []float64{0.9}, 0), PSIEqualWidth(same, []float64{0.9}, 10), "bins < 1 means 10")
}
