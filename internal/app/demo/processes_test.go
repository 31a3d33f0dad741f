package demo_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/internal/app/demo"
	"github.com/modelgate/modelgate/internal/store"
	"github.com/modelgate/modelgate/internal/store/redis"
)

// TestDemoThreeProcesses: modelgate demo --redis: the server in the
// demo's process, the validate/test/scan/evaluate stages on a worker
// process, the traffic through a gateway process, all on the Redis of
// MODELGATE_TEST_REDIS (keys under a prefix of their own); the pipeline
// ends as the embedded demo's does, with the README's figures.
func TestDemoThreeProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end: builds the binary and runs two rollouts")
	}
	u := os.Getenv("MODELGATE_TEST_REDIS")
	if u == "" {
		if os.Getenv("MODELGATE_CI") == "1" {
			t.Fatal("MODELGATE_TEST_REDIS is not set but MODELGATE_CI=1")
		}
		t.Skip("MODELGATE_TEST_REDIS is not set")
	}
	prefix := "mgdemo:" + uuid.NewString() + ":"
	st, err := redis.Open(context.Background(), redis.Options{URL: u, Prefix: prefix})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.DeleteAll(context.Background()); st.Close() })

	bin := filepath.Join(t.TempDir(), "modelgate")
	out, err := exec.Command("go", "build", "-o", bin, "../../../cmd/modelgate").CombinedOutput()
	require.NoError(t, err, "%s", out)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var buf, logs bytes.Buffer
	res, err := demo.Run(ctx, demo.Options{Out: &buf, DataDir: t.TempDir(), ServeBinary: bin, StoreURL: u, Split: true,
		StorePrefix: prefix, ChildLogs: &logs})
	t.Log(buf.String())
	if t.Failed() || err != nil {
		t.Log(logs.String())
	}
	require.NoError(t, err)
	require.Regexp(t, regexp.MustCompile(`processes: worker \(pid \d+, stages validate,test,scan,evaluate\) and gateway \(pid \d+, http://127\.0\.0\.1:\d+\)`), buf.String())

	require.Equal(t, store.RunSucceeded, res.Good.State, res.Good.Error)
	require.Equal(t, "v2", res.ProductionAfter)
	require.Equal(t, store.RunRolledBack, res.Broken.State, res.Broken.Error)
	require.Contains(t, res.Broken.Error, "agreement")
	require.True(t, res.AuditOK)
	require.Zero(t, res.TrafficBroken.ByVersion[res.Broken.Candidate.Version])
	require.Equal(t, res.TrafficBroken.Sent, res.TrafficBroken.OK)
	checkReadme(t, buf.String())

	// the checks of both runs were the worker's
	entries, err := st.AuditList(ctx, store.AuditListParams{Type: "task.reported"})
	require.NoError(t, err)
	require.Len(t, entries, 8, "validate, test, scan and evaluate of two runs")
	for _, e := range entries {
		require.Equal(t, "demo-worker", e.Actor)
	}
}
