package gateway

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestTakeInputsStartsANewWindow: what was taken is not in the next
// window, and the next window counts only its own requests.
func TestTakeInputsStartsANewWindow(t *testing.T) {
	t.Parallel()
	g := &Gateway{states: map[string]*modelState{}}
	ms := g.state("m")
	ms.inputs.k = 10
	for i := range 5 {
		if s := ms.inputs.slot(); s >= 0 {
			ms.inputs.add(s, []string{"x"}, [][]float64{{float64(i)}})
		}
	}
	first := g.TakeInputs("m")
	require.EqualValues(t, 5, first.Seen)
	require.Len(t, first.Rows, 5)
	for i := range 3 {
		if s := ms.inputs.slot(); s >= 0 {
			ms.inputs.add(s, []string{"x"}, [][]float64{{100 + float64(i)}})
		}
	}
	second := g.TakeInputs("m")
	require.EqualValues(t, 3, second.Seen)
	require.Len(t, second.Rows, 3)
	for _, r := range second.Rows {
		require.GreaterOrEqual(t, r[0], 100.0)
	}
	require.Empty(t, g.TakeInputs("m").Rows)
}
