package demo_test

import (
	"bytes"
	"context"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/internal/app/demo"
	"github.com/modelgate/modelgate/internal/store"
)

// TestDemo runs the whole demo: the end-to-end test of the pipeline with
// every real component (SQLite, OPA, agents, gateway, model servers as
// child processes, audit trail).
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end: builds the binary and runs two rollouts")
	}
	runDemo(t, "")
}

// TestDemoOnRedis: the same pipeline, run for run, on the Redis store
// (modelgate server --store redis://…): nothing in it depends on SQLite.
func TestDemoOnRedis(t *testing.T) {
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
	// A database of its own: the driver's conformance tests use /0.
	opt, err := goredis.ParseURL(u)
	require.NoError(t, err)
	opt.DB = 9
	c := goredis.NewClient(opt)
	require.NoError(t, c.FlushDB(context.Background()).Err())
	c.Close()
	pu, err := url.Parse(u)
	require.NoError(t, err)
	pu.Path = "/9"
	runDemo(t, pu.String())
}

func runDemo(t *testing.T, storeURL string) {
	bin := filepath.Join(t.TempDir(), "modelgate")
	out, err := exec.Command("go", "build", "-o", bin, "../../../cmd/modelgate").CombinedOutput()
	require.NoError(t, err, "%s", out)

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var buf bytes.Buffer
	res, err := demo.Run(ctx, demo.Options{Out: &buf, DataDir: t.TempDir(), ServeBinary: bin, StoreURL: storeURL})
	t.Log(buf.String())
	require.NoError(t, err)

	require.Equal(t, store.RunSucceeded, res.Good.State, res.Good.Error)
	require.Equal(t, "v1", res.ProductionBefore)
	require.Equal(t, "v2", res.ProductionAfter)
	require.Equal(t, store.RunRolledBack, res.Broken.State, res.Broken.Error)
	require.Contains(t, res.Broken.Error, "agreement")
	require.GreaterOrEqual(t, res.Approvals, 2, "at least one reviewer per run")
	require.Contains(t, res.Brief, "[change:candidate]", "reviewers get a brief, its template form without an LLM")
	require.True(t, res.AuditOK)
	require.Greater(t, res.AuditEntries, int64(30))
	// clients never saw the broken candidate: the shadow phase caught it
	require.Zero(t, res.TrafficBroken.ByVersion[res.Broken.Candidate.Version])
	require.Equal(t, res.TrafficBroken.Sent, res.TrafficBroken.OK)
	require.Contains(t, buf.String(), "refused")
	checkReadme(t, buf.String())
}
