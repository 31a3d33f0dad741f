package demo_test

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

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
	bin := filepath.Join(t.TempDir(), "modelgate")
	out, err := exec.Command("go", "build", "-o", bin, "../../../cmd/modelgate").CombinedOutput()
	require.NoError(t, err, "%s", out)

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var buf bytes.Buffer
	res, err := demo.Run(ctx, demo.Options{Out: &buf, DataDir: t.TempDir(), ServeBinary: bin})
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
}
