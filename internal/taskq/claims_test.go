package taskq_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/internal/taskq"
)

func TestParseTaskID(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		id, stage, entry string
		ok               bool
	}{
		{"test:1700000000000-0", "test", "1700000000000-0", true},
		{"evaluate:1-12", "evaluate", "1-12", true},
		{"test", "", "", false},
		{":1-0", "", "", false},
		{"test:", "", "", false},
		{"test:1-0/../../x", "", "", false},
		{"test:abc", "", "", false},
		{"te st:1-0", "", "", false},
		{"test:" + strings.Repeat("1", 300), "", "", false},
	} {
		st, en, err := taskq.ParseTaskID(tc.id)
		if !tc.ok {
			require.Error(t, err, tc.id)
			continue
		}
		require.NoError(t, err, tc.id)
		require.Equal(t, tc.stage, st)
		require.Equal(t, tc.entry, en)
		require.Equal(t, tc.id, taskq.TaskID(taskq.Task{Stage: st, ID: en}))
	}
}

// FuzzParseTaskID: a task id comes from a URL path; whatever it holds,
// parsing never panics, and what it accepts is a stage and an entry id
// of digits and dashes that name the same id again.
func FuzzParseTaskID(f *testing.F) {
	for _, s := range []string{"test:1-0", "scan:1700000000000-3", "", ":", "a:b:c", "test:1-0\n", "../:1-0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		st, en, err := taskq.ParseTaskID(id)
		if err != nil {
			return
		}
		if st+":"+en != id || strings.ContainsAny(en, ":/ ") || strings.Trim(en, "0123456789-") != "" {
			t.Fatalf("accepted %q as %q %q", id, st, en)
		}
	})
}

// TestResultWaitHearsTheResultAtOnce: a waiter learns of a stored result
// from its announcement, long before its fallback look; a second result
// for the key is refused and the first is what waiters get.
func TestResultWaitHearsTheResultAtOnce(t *testing.T) {
	t.Parallel()
	b := setup(t, taskq.Options{})
	ctx := context.Background()
	got := make(chan []byte, 1)
	go func() {
		raw, err := b.q.ResultWait(ctx, "run/test/1", time.Minute)
		require.NoError(t, err)
		got <- raw
	}()
	time.Sleep(200 * time.Millisecond) // the waiter is subscribed
	start := time.Now()
	require.NoError(t, b.q.ResultPut(ctx, "run/test/1", []byte(`first`)))
	require.ErrorIs(t, b.q.ResultPut(ctx, "run/test/1", []byte(`second`)), taskq.ErrReported)
	select {
	case raw := <-got:
		require.Equal(t, "first", string(raw))
		require.Less(t, time.Since(start), 2*time.Second)
	case <-time.After(10 * time.Second):
		t.Fatal("the waiter did not hear of the result")
	}
	cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	_, err := b.q.ResultWait(cctx, "run/test/2", time.Minute)
	require.ErrorIs(t, err, context.DeadlineExceeded)
}
