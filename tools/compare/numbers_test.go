package compare

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/tools/model"
)

// TestGateOnValuesNear1e300 runs regression comparisons on the 1e300
// holdout of testdata/numbers (scikit-learn's metrics, computed on the
// values scaled by an exact power of two): rmse must come out finite and
// equal to the oracle, and a guarded metric that cannot be measured must
// fail the gate with a reason instead of vanishing from the JSON.
func TestGateOnValuesNear1e300(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(filepath.Join("../../testdata/numbers", "numbers-oracle.json"))
	require.NoError(t, err)
	var o struct {
		Reg struct {
			Y, P []float64
			RMSE float64
		} `json:"regression_1e300"`
	}
	require.NoError(t, json.Unmarshal(raw, &o))
	require.NotEmpty(t, o.Reg.Y)
	reg := func(v []float64) model.Predictions {
		return model.Predictions{Kind: model.Regression, Rows: len(v), Values: v}
	}
	zeroY := make([]float64, len(o.Reg.Y)) // targets 0: mape's |e|/eps overflows
	cases := []struct {
		name       string
		y, cand    []float64
		base       []float64
		thresholds map[string]Threshold
		passed     bool
		reason     string
	}{
		{name: "rmse near 1e300 is finite and passes", y: o.Reg.Y, cand: o.Reg.P, base: o.Reg.P, passed: true},
		{name: "an infinite guarded mape fails", y: zeroY, cand: o.Reg.P, base: o.Reg.P,
			thresholds: map[string]Threshold{"mape": {MaxDelta: f(0)}}, reason: "guarded metric mape is undefined for the candidate"},
		{name: "an infinite mape floor fails", y: zeroY, cand: o.Reg.P,
			thresholds: map[string]Threshold{"mape": {Max: f(1)}}, reason: "mape is undefined, so its floor cannot be met"},
		{name: "a constant target leaves r2 undefined, guarded it fails", y: zeroY, cand: o.Reg.P, base: o.Reg.P,
			thresholds: map[string]Threshold{"r2": {MinDelta: f(0)}}, reason: "guarded metric r2 is undefined for the candidate, so the gate cannot pass: the target is constant"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			p := Params{Task: "regression", Labels: c.y, Candidate: reg(c.cand), Seed: 1, Resamples: 50, Thresholds: c.thresholds}
			if c.base != nil {
				b := reg(c.base)
				p.Baseline = &b
			}
			r, err := Run(context.Background(), p)
			require.NoError(t, err)
			require.Equal(t, c.passed, r.Passed, "%v", r.Reasons)
			if c.reason != "" {
				require.NotEmpty(t, r.Reasons)
				require.Contains(t, r.Reasons[0], c.reason)
			} else {
				require.InDelta(t, o.Reg.RMSE, r.Candidate.Values["rmse"], 1e-9*o.Reg.RMSE)
				out, err := json.Marshal(r)
				require.NoError(t, err)
				require.Contains(t, string(out), `"rmse"`)
			}
			// Whatever could not be computed, the report still encodes.
			out, err := json.Marshal(r)
			require.NoError(t, err)
			require.True(t, json.Valid(out))
			require.False(t, math.IsInf(r.Candidate.Values["rmse"], 0))
		})
	}
}
