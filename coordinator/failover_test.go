package coordinator_test

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/internal/store"
	"github.com/modelgate/modelgate/internal/store/redis"
)

// startReplica starts a crash child as one replica on a shared Redis.
func startReplica(t *testing.T, bin, dir, url, prefix, owner string, submit int, ttl time.Duration) *child {
	t.Helper()
	cmd := exec.Command(bin, "-db", filepath.Join(dir, "unused.db"), "-journal", filepath.Join(dir, "journal"),
		"-submit", itoa(submit), "-delay", "120ms", "-redis", url, "-prefix", prefix, "-owner", owner, "-ttl", ttl.String())
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	line, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err, "replica %s did not start", owner)
	require.Equal(t, "ready\n", line)
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	return &child{cmd: cmd}
}

// Two replicas on one Redis; the one driving the runs is killed with
// SIGKILL in the middle of a rollout. The other takes every run over once
// the dead one's leases run out, finishes them, and nothing the dead one
// completed runs again: no stage re-run, no deploy step doubled.
func TestFailoverKillLeaderMidRollout(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills child processes")
	}
	url := os.Getenv("MODELGATE_TEST_REDIS")
	if url == "" {
		if os.Getenv("MODELGATE_CI") == "1" {
			t.Fatal("MODELGATE_TEST_REDIS is not set but MODELGATE_CI=1")
		}
		t.Skip("MODELGATE_TEST_REDIS is not set")
	}
	t.Parallel()
	bin := buildChild(t)
	dir := t.TempDir()
	prefix := "mgtest:" + uuid.NewString() + ":"
	st, err := redis.Open(context.Background(), redis.Options{URL: url, Prefix: prefix})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.DeleteAll(context.Background()); st.Close() })
	const runs, ttl = 3, time.Second

	// a submits the runs before b exists, so a drives them all
	a := startReplica(t, bin, dir, url, prefix, "replica-a", runs, ttl)
	startReplica(t, bin, dir, url, prefix, "replica-b", 0, ttl)
	waitSnap := func(what string, cond func(snapshot) bool) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for time.Now().Before(deadline) {
			if s, err := snapshotOf(st); err == nil && cond(s) {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatalf("timed out waiting for %s", what)
	}
	waitSnap("a rollout half way", func(s snapshot) bool {
		for _, d := range s.stepsDone {
			if d >= 2 {
				return true
			}
		}
		return false
	})
	a.kill(t)
	killedAt := time.Now()
	before, err := snapshotOf(st)
	require.NoError(t, err)
	jb, err := os.ReadFile(filepath.Join(dir, "journal"))
	require.NoError(t, err)
	atKill := len(jb)

	waitSnap("every run terminal", func(s snapshot) bool {
		if len(s.runs) != runs {
			return false
		}
		for _, r := range s.runs {
			if !r.State.Terminal() {
				return false
			}
		}
		return true
	})
	took := time.Since(killedAt)
	after, err := snapshotOf(st)
	require.NoError(t, err)
	for _, r := range after.runs {
		require.Equal(t, store.RunSucceeded, r.State, "run %s: %s", r.ID, r.Error)
		require.Equal(t, 4, after.stepsDone[r.ID])
		f, err := st.RunFence(context.Background(), r.ID)
		require.NoError(t, err)
		require.Positive(t, f)
	}
	// b finishes what was left: 3 runs of ~10 agent delays each, after a lease
	require.Less(t, took, 20*time.Second)

	jb, err = os.ReadFile(filepath.Join(dir, "journal"))
	require.NoError(t, err)
	steps := map[string]int{}
	for _, l := range strings.Split(strings.TrimSpace(string(jb)), "\n") {
		if f := strings.Fields(l); f[0] == "step" {
			steps[f[1]+" "+f[2]]++
		}
	}
	for k, n := range steps {
		require.Equal(t, 1, n, "deploy step %s ran %d times across the replicas", k, n)
	}
	for _, l := range strings.Split(strings.TrimSpace(string(jb[atKill:])), "\n") {
		f := strings.Fields(l)
		if len(f) == 3 && f[0] == "start" {
			require.False(t, before.stagesDone[f[1]+" "+f[2]], "stage %s of %s ran again after it had completed", f[2], f[1])
		}
	}
}
