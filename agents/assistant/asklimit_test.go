package assistant

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestAskLimiter: a reader may have the LLM read AskPerMinute sentences a
// minute, no more, and another identity's asks do not count against it.
func TestAskLimiter(t *testing.T) {
	t.Parallel()
	var l AskLimiter
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range AskPerMinute {
		_, ok := l.Take("reader", t0.Add(time.Duration(i)*time.Second))
		require.True(t, ok, "ask %d", i)
	}
	wait, ok := l.Take("reader", t0.Add(30*time.Second))
	require.False(t, ok, "one more within the minute is refused")
	require.Equal(t, 30*time.Second, wait, "until the first ask leaves the window")
	_, ok = l.Take("other", t0.Add(30*time.Second))
	require.True(t, ok, "limits are per identity")
	_, ok = l.Take("reader", t0.Add(61*time.Second))
	require.True(t, ok, "the window slides")
}
