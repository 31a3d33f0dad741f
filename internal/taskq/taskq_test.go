package taskq_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/internal/taskq"
)

type bundle struct {
	q      *taskq.Queue
	mu     sync.Mutex
	alerts []taskq.DeadLetter
}

func setup(t *testing.T, o taskq.Options) *bundle {
	t.Helper()
	u := os.Getenv("MODELGATE_TEST_REDIS")
	if u == "" {
		if os.Getenv("MODELGATE_CI") == "1" {
			t.Fatal("MODELGATE_TEST_REDIS is not set but MODELGATE_CI=1")
		}
		t.Skip("MODELGATE_TEST_REDIS is not set")
	}
	b := &bundle{}
	o.URL, o.Prefix = u, "mgtest:"+uuid.NewString()+":"
	o.Alert = func(_ context.Context, d taskq.DeadLetter) {
		b.mu.Lock()
		b.alerts = append(b.alerts, d)
		b.mu.Unlock()
	}
	q, err := taskq.Open(context.Background(), o)
	require.NoError(t, err)
	t.Cleanup(func() { _ = q.DeleteAll(context.Background(), "test", "scan", "evaluate"); _ = q.Close() })
	b.q = q
	return b
}

func recv(t *testing.T, q *taskq.Queue, consumer string, stages ...string) []taskq.Task {
	t.Helper()
	got, err := q.Receive(context.Background(), taskq.ReceiveParams{Stages: stages, Consumer: consumer, Count: 10})
	require.NoError(t, err)
	return got
}

func TestDeliveredOnceAndAcked(t *testing.T) {
	t.Parallel()
	b := setup(t, taskq.Options{ClaimIdle: time.Minute})
	ctx := context.Background()
	for _, st := range []string{"test", "scan"} {
		_, err := b.q.Publish(ctx, taskq.Task{RunID: "r1", Stage: st, Attempt: 1})
		require.NoError(t, err)
	}
	got := recv(t, b.q, "w1", "test", "scan")
	require.Len(t, got, 2)
	require.Empty(t, recv(t, b.q, "w2", "test", "scan"), "a delivered task goes to one worker")
	for _, tk := range got {
		require.Equal(t, int64(1), tk.Deliveries)
		require.Equal(t, "r1/"+tk.Stage+"/1", tk.Key())
		require.NoError(t, b.q.Ack(ctx, tk))
	}
	n, err := b.q.Pending(ctx, "test")
	require.NoError(t, err)
	require.Zero(t, n)
}

// A worker that dies holding a task (no ack) loses it to another worker
// once it has been idle past ClaimIdle, and not before.
func TestCrashedWorkersTaskIsReclaimed(t *testing.T) {
	t.Parallel()
	b := setup(t, taskq.Options{ClaimIdle: 200 * time.Millisecond})
	ctx := context.Background()
	_, err := b.q.Publish(ctx, taskq.Task{RunID: "r1", Stage: "test", Attempt: 1, Body: []byte(`{"inputs":"sha256:ab"}`)})
	require.NoError(t, err)
	first := recv(t, b.q, "dies", "test")
	require.Len(t, first, 1)
	require.Empty(t, recv(t, b.q, "survivor", "test"), "not idle long enough yet")
	time.Sleep(300 * time.Millisecond)
	again := recv(t, b.q, "survivor", "test")
	require.Len(t, again, 1)
	require.Equal(t, first[0].ID, again[0].ID)
	require.Equal(t, int64(2), again[0].Deliveries)
	require.JSONEq(t, `{"inputs":"sha256:ab"}`, string(again[0].Body))
	require.NoError(t, b.q.Ack(ctx, again[0]))
	time.Sleep(300 * time.Millisecond)
	require.Empty(t, recv(t, b.q, "third", "test"), "an acked task is never delivered again")
}

func TestPoisonTaskIsDeadLettered(t *testing.T) {
	t.Parallel()
	b := setup(t, taskq.Options{ClaimIdle: 50 * time.Millisecond, MaxDeliveries: 2})
	ctx := context.Background()
	_, err := b.q.Publish(ctx, taskq.Task{RunID: "r1", Stage: "scan", Attempt: 3})
	require.NoError(t, err)
	for i := range 2 {
		got := recv(t, b.q, fmt.Sprintf("w%d", i), "scan")
		require.Len(t, got, 1, "delivery %d", i+1)
		time.Sleep(80 * time.Millisecond) // the worker dies
	}
	require.Empty(t, recv(t, b.q, "w9", "scan"), "the third delivery is a dead letter, not a task")
	dl, err := b.q.DeadLetters(ctx)
	require.NoError(t, err)
	require.Len(t, dl, 1)
	require.Equal(t, "r1/scan/3", dl[0].Task.Key())
	require.Equal(t, int64(3), dl[0].Deliveries)
	require.Contains(t, dl[0].Reason, "delivered 3 times")
	b.mu.Lock()
	require.Len(t, b.alerts, 1)
	b.mu.Unlock()
	n, err := b.q.Pending(ctx, "scan")
	require.NoError(t, err)
	require.Zero(t, n, "the dead letter left the stage stream's pending list")
}

// Many workers racing for many tasks: each task goes to exactly one.
func TestRacingWorkersShareWithoutDuplicates(t *testing.T) {
	t.Parallel()
	b := setup(t, taskq.Options{ClaimIdle: time.Minute})
	ctx := context.Background()
	const n = 60
	for i := range n {
		_, err := b.q.Publish(ctx, taskq.Task{RunID: fmt.Sprintf("r%d", i), Stage: "evaluate", Attempt: 1})
		require.NoError(t, err)
	}
	var (
		mu   sync.Mutex
		seen = map[string]int{}
		wg   sync.WaitGroup
	)
	for w := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				got, err := b.q.Receive(ctx, taskq.ReceiveParams{Stages: []string{"evaluate"}, Consumer: fmt.Sprintf("w%d", w), Count: 3})
				if err != nil || len(got) == 0 {
					return
				}
				for _, tk := range got {
					mu.Lock()
					seen[tk.Key()]++
					mu.Unlock()
					_ = b.q.Ack(ctx, tk)
				}
			}
		}()
	}
	wg.Wait()
	require.Len(t, seen, n)
	for k, c := range seen {
		require.Equal(t, 1, c, k)
	}
}

func TestUndecodableEntryIsDeadLetteredWithWhy(t *testing.T) {
	t.Parallel()
	cases := []struct {
		values map[string]any
		want   string
	}{
		{map[string]any{"nope": "x"}, `no "task" field`},
		{map[string]any{"task": "{"}, "task entry"},
		{map[string]any{"task": `{"run_id":"r","stage":"test","extra":1}`}, "unknown field"},
		{map[string]any{"task": `{"stage":"test"}`}, "run_id is empty"},
		{map[string]any{"task": `{"run_id":"r"}`}, "stage is empty"},
		{map[string]any{"task": `{"run_id":"r","stage":"s","attempt":-1}`}, "negative"},
	}
	for _, tc := range cases {
		_, err := taskq.Decode(tc.values)
		require.ErrorContains(t, err, tc.want)
	}
	_, err := taskq.Decode(map[string]any{"task": `{"run_id":"r","stage":"s","attempt":1}`})
	require.NoError(t, err)
}

func TestBadParamsAreRefused(t *testing.T) {
	t.Parallel()
	_, err := taskq.Open(context.Background(), taskq.Options{})
	require.ErrorContains(t, err, "URL is required")
	b := setup(t, taskq.Options{})
	_, err = b.q.Publish(context.Background(), taskq.Task{Stage: "test"})
	require.ErrorContains(t, err, "run id and stage")
	_, err = b.q.Receive(context.Background(), taskq.ReceiveParams{Stages: []string{"test"}})
	require.ErrorContains(t, err, "consumer")
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{`{"run_id":"r","stage":"s","attempt":1}`, `{`, `{"run_id":1}`, `null`, `{"body":{"a":[1,2]},"run_id":"r","stage":"s"}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tk, err := taskq.Decode(map[string]any{"task": s})
		if err == nil && (tk.RunID == "" || tk.Stage == "" || tk.Attempt < 0) {
			t.Fatalf("accepted an invalid task %+v from %q", tk, s)
		}
	})
}
