package compare

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPairedBootstrap(t *testing.T) {
	t.Parallel()
	a := []float64{1, 1, 0, 1, 0, 1, 1, 1, 0, 1}
	b := []float64{1, 0, 0, 1, 0, 0, 1, 0, 0, 1}
	p, err := PairedBootstrap(a, b, 2000, 3, 0.05)
	require.NoError(t, err)
	// mean(a) - mean(b) = 0.7 - 0.4 = 0.3; every pair's difference is 0 or
	// 1, so every resampled mean is in [0, 1] and the interval is too.
	require.InDelta(t, 0.3, p.Delta, 1e-12)
	require.True(t, p.OK)
	require.True(t, p.CILow >= 0 && p.CILow <= 0.3 && p.CIHigh >= 0.3 && p.CIHigh <= 1, "%+v", p)
	again, _ := PairedBootstrap(a, b, 2000, 3, 0.05)
	require.Equal(t, p, again, "seeded: the same numbers twice")

	same, err := PairedBootstrap(a, a, 500, 1, 0.05)
	require.NoError(t, err)
	require.Equal(t, Paired{Delta: 0, CILow: 0, CIHigh: 0, PValue: 1, OK: true}, same)

	_, err = PairedBootstrap(a, b[:3], 10, 1, 0.05)
	require.Error(t, err)
	_, err = PairedBootstrap(a, b, 0, 1, 0.05)
	require.Error(t, err)
	empty, err := PairedBootstrap(nil, nil, 10, 1, 0.05)
	require.NoError(t, err)
	require.False(t, empty.OK)
}
