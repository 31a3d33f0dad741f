package app_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/charmbracelet/log"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/internal/app"
	"github.com/modelgate/modelgate/internal/store/redis"
)

// Two servers on one Redis: exactly one is the scheduler leader, and
// when it stops the other takes over within the leader lease (10 s).
func TestTwoServersOneLeader(t *testing.T) {
	if testing.Short() {
		t.Skip("two servers and a lease expiry")
	}
	t.Parallel()
	u := os.Getenv("MODELGATE_TEST_REDIS")
	if u == "" {
		if os.Getenv("MODELGATE_CI") == "1" {
			t.Fatal("MODELGATE_TEST_REDIS is not set but MODELGATE_CI=1")
		}
		t.Skip("MODELGATE_TEST_REDIS is not set")
	}
	ctx := context.Background()
	cleanup, err := redis.Open(ctx, redis.Options{URL: u}) // the servers' default prefix
	require.NoError(t, err)
	t.Cleanup(func() { _ = cleanup.DeleteAll(context.Background()); cleanup.Close() })
	dir := t.TempDir()
	var servers [2]*app.Server
	var cancels [2]context.CancelFunc
	for i := range servers {
		s, err := app.Build(ctx, app.Options{DataDir: filepath.Join(dir, string(rune('a'+i))), StoreURL: u, NoDeploy: true,
			TokensFile: filepath.Join(dir, "tokens.yaml"), Logger: log.NewWithOptions(io.Discard, log.Options{})})
		require.NoError(t, err)
		sctx, cancel := context.WithCancel(ctx)
		require.NoError(t, s.Start(sctx))
		servers[i], cancels[i] = s, cancel
		t.Cleanup(func() { cancel(); s.Close() })
	}
	leader := func() (n, who int) {
		for i, s := range servers {
			if s.IsLeader() {
				n, who = n+1, i
			}
		}
		return n, who
	}
	deadline := time.Now().Add(5 * time.Second)
	for n, _ := leader(); n != 1; n, _ = leader() {
		require.True(t, time.Now().Before(deadline), "no single leader")
		time.Sleep(20 * time.Millisecond)
	}
	_, first := leader()
	require.NotEqual(t, servers[0].Coordinator.Owner(), servers[1].Coordinator.Owner(), "replicas get their own lease names")
	cancels[first]() // stops campaigning and gives the lease up
	other := 1 - first
	deadline = time.Now().Add(12 * time.Second)
	for !servers[other].IsLeader() {
		require.True(t, time.Now().Before(deadline), "no takeover within the lease")
		time.Sleep(20 * time.Millisecond)
	}
	require.False(t, servers[first].IsLeader())
}
