package ui

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/agents/evaluation"
	"github.com/modelgate/modelgate/tools/compare"
)

// TestChartAndTableColourAlike: the evaluation report's charts
// (evaluation.DeltaClass) and the run page's table (deltaClass) read a
// change the same way, so a reviewer never sees a green row beside a red
// mark.
func TestChartAndTableColourAlike(t *testing.T) {
	t.Parallel()
	p := func(v float64) *float64 { return &v }
	cases := []struct {
		metric          string
		delta, low, hig *float64
		want            string
	}{
		{"roc_auc", p(0.01), p(0.002), p(0.02), "up"},
		{"roc_auc", p(-0.01), p(-0.02), p(-0.001), "down"},
		{"roc_auc", p(0.01), p(-0.01), p(0.03), ""},
		{"log_loss", p(-0.03), p(-0.05), p(-0.01), "up"},
		{"log_loss", p(0.03), p(0.01), p(0.05), "down"},
		{"cost_per_1000", p(-5), nil, nil, "up"},
		{"recall", p(0.02), nil, nil, "up"},
		{"brier", p(0), nil, nil, ""},
	}
	for _, c := range cases {
		table := deltaClass(metricRow{Name: c.metric, Delta: c.delta, Low: c.low, High: c.hig})
		chart := evaluation.DeltaClass(c.metric, compare.Comparison{Delta: c.delta, CILow: c.low, CIHigh: c.hig})
		require.Equal(t, c.want, table, "%s table", c.metric)
		require.Equal(t, c.want, chart, "%s chart", c.metric)
	}
}
