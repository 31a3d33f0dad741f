package gateway

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestReservoirUniform checks the sampling odds: over many trials, the
// first and second halves of the traffic are equally represented, and
// Seen counts every request, parsed or not.
func TestReservoirUniform(t *testing.T) {
	t.Parallel()
	const k, n, trials = 100, 10000, 40
	early := 0
	for range trials {
		r := &reservoir{k: k}
		for i := range n {
			if slot := r.slot(); slot >= 0 {
				r.add(slot, []string{"x"}, [][]float64{{float64(i)}})
			}
		}
		s := r.sample()
		require.EqualValues(t, n, s.Seen)
		require.Len(t, s.Rows, k)
		for _, row := range s.Rows {
			if row[0] < n/2 {
				early++
			}
		}
	}
	share := float64(early) / (k * trials)
	// 4,000 draws: the standard error of the share is under 0.008
	require.InDelta(t, 0.5, share, 0.04, "sample leans towards early traffic: %.3f", share)
}

func TestReservoirUnparsedSlotsAreSkipped(t *testing.T) {
	t.Parallel()
	r := &reservoir{k: 3}
	s0, s1 := r.slot(), r.slot()
	r.add(s1, []string{"x"}, [][]float64{{1}}) // finished before the first
	_ = s0                                     // its body did not parse: no add
	got := r.sample()
	require.Equal(t, [][]float64{{1}}, got.Rows)
	require.EqualValues(t, 2, got.Seen)
}
