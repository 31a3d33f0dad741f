package validation

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/tools/drift"
)

// TestKeepDriftedHistograms: the stored report keeps the histograms of
// the first drifted columns only, never more than maxStoredHistograms.
func TestKeepDriftedHistograms(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name          string
		columns       int
		drifted       func(i int) bool
		wantKept      int
		wantFirstKept string
	}{
		{"none drifted", 5, func(int) bool { return false }, 0, ""},
		{"some drifted", 6, func(i int) bool { return i%2 == 1 }, 3, "c1"},
		{"more than the bound", 100, func(int) bool { return true }, maxStoredHistograms, "c0"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			res := &drift.Result{Columns: map[string]*drift.ColumnResult{}}
			for i := range c.columns {
				name := fmt.Sprintf("c%d", i)
				res.Order = append(res.Order, name)
				res.Columns[name] = &drift.ColumnResult{Drifted: c.drifted(i), Histogram: &drift.Histogram{Labels: []string{"a"}, Reference: []float64{1}, Current: []float64{1}}}
			}
			res.Columns["outside-order"] = &drift.ColumnResult{Drifted: true, Histogram: &drift.Histogram{}}
			keepDriftedHistograms(res)
			kept, first := 0, ""
			for _, name := range res.Order {
				col := res.Columns[name]
				if col.Histogram != nil {
					require.True(t, col.Drifted, "%s kept a histogram without drifting", name)
					if first == "" {
						first = name
					}
					kept++
				}
			}
			require.Equal(t, c.wantKept, kept)
			require.Equal(t, c.wantFirstKept, first)
			require.Nil(t, res.Columns["outside-order"].Histogram)
		})
	}
}
