package lease_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/internal/lease"
	"github.com/modelgate/modelgate/internal/store"
	"github.com/modelgate/modelgate/internal/store/redis"
)

// privateRedis starts a Redis of the test's own (it is killed and
// restarted, so never the shared one) with the documented settings:
// AOF on, fsync always. It returns its URL and a function that kills it
// with SIGKILL and starts it again on the same files.
func privateRedis(t *testing.T) (string, func()) {
	t.Helper()
	if os.Getenv("MODELGATE_TEST_REDIS") == "" && os.Getenv("MODELGATE_CI") != "1" {
		t.Skip("Redis tests are off (MODELGATE_TEST_REDIS is not set)")
	}
	bin, err := exec.LookPath("redis-server")
	require.NoError(t, err, "redis-server is needed (.ci/run installs it)")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	require.NoError(t, ln.Close())
	dir := t.TempDir()
	var cmd *exec.Cmd
	start := func() {
		cmd = exec.Command(bin, "--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes",
			"--appendfsync", "always", "--dir", dir)
		cmd.Stdout, cmd.Stderr = nil, nil
		require.NoError(t, cmd.Start())
		deadline := time.Now().Add(5 * time.Second)
		for {
			c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
			if err == nil {
				c.Close()
				return
			}
			require.True(t, time.Now().Before(deadline), "redis did not start")
			time.Sleep(20 * time.Millisecond)
		}
	}
	start()
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	restart := func() {
		require.NoError(t, cmd.Process.Kill())
		_, _ = cmd.Process.Wait()
		time.Sleep(300 * time.Millisecond) // clients see it gone
		start()
	}
	return fmt.Sprintf("redis://127.0.0.1:%d/0", port), restart
}

// Redis is killed and restarted while a lease is held and a run is
// stored: the clients reconnect by themselves, the acknowledged run and
// the lease survive (AOF, fsync always), the holder keeps its lease
// through an outage shorter than the TTL, and fencing still works.
func TestRedisRestartClientsReconnectNothingAcknowledgedLost(t *testing.T) {
	t.Parallel()
	url, restart := privateRedis(t)
	ctx := context.Background()
	st, err := redis.Open(ctx, redis.Options{URL: url, Prefix: "restart:"})
	require.NoError(t, err)
	defer st.Close()
	run, _, err := st.RunCreate(ctx, store.RunCreateParams{Run: store.Run{ID: "run-r", Model: "fraud", Environment: "production",
		Trigger: "api", Requester: "ci", Config: []byte("model: fraud\n")}})
	require.NoError(t, err)
	h, err := lease.Acquire(ctx, st, lease.HoldParams{Key: "run/run-r", Owner: "srv-1", TTL: 5 * time.Second})
	require.NoError(t, err)
	defer h.Release(ctx)
	_, err = st.RunTransitionFenced(ctx, store.RunTransitionFencedParams{
		RunTransitionParams: store.RunTransitionParams{ID: run.ID, From: []store.RunState{store.RunQueued}, To: store.RunRunning}, Lease: h.Lease()})
	require.NoError(t, err)

	restart()

	var got store.Run
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, err = st.RunGet(ctx, run.ID)
		if err == nil {
			break
		}
		require.True(t, time.Now().Before(deadline), "the client did not reconnect: %v", err)
		time.Sleep(50 * time.Millisecond)
	}
	require.Equal(t, store.RunRunning, got.State, "the acknowledged transition survived the crash")
	require.NoError(t, h.Context().Err(), "an outage shorter than the TTL does not cost the lease")
	l, err := st.LeaseGet(ctx, "run/run-r")
	require.NoError(t, err)
	require.Equal(t, h.Lease().Token, l.Token)
	_, err = st.LeaseAcquire(ctx, store.LeaseAcquireParams{Key: "run/run-r", Owner: "srv-2", TTL: time.Second})
	require.ErrorIs(t, err, store.ErrConflict, "the lease is still held after the restart")
	_, err = st.RunTransitionFenced(ctx, store.RunTransitionFencedParams{
		RunTransitionParams: store.RunTransitionParams{ID: run.ID, From: []store.RunState{store.RunRunning}, To: store.RunSucceeded}, Lease: h.Lease()})
	require.NoError(t, err)
}
