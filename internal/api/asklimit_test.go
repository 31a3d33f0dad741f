package api

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestAskLimiter: a reader may have the LLM read askPerMinute sentences a
// minute, no more, and another identity's asks do not count against it.
func TestAskLimiter(t *testing.T) {
	t.Parallel()
	var l askLimiter
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range askPerMinute {
		_, ok := l.take("reader", t0.Add(time.Duration(i)*time.Second))
		require.True(t, ok, "ask %d", i)
	}
	wait, ok := l.take("reader", t0.Add(30*time.Second))
	require.False(t, ok, "one more within the minute is refused")
	require.Equal(t, 30*time.Second, wait, "until the first ask leaves the window")
	_, ok = l.take("other", t0.Add(30*time.Second))
	require.True(t, ok, "limits are per identity")
	_, ok = l.take("reader", t0.Add(61*time.Second))
	require.True(t, ok, "the window slides")
}
