package deployment

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/charmbracelet/log"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/agents"
)

// TestServesOnlyApprovedBytes: the hole was that a local target was
// served from the file system and labelled with the approved digest
// without reading it again. Now the bytes are copied and hashed before a
// model server starts: changed bytes are refused, unchanged ones are
// served from a copy that later edits cannot reach.
func TestServesOnlyApprovedBytes(t *testing.T) {
	t.Parallel()
	e := setup(t)
	cfg := pipeline(t, faultCanary)
	ctx := context.Background()
	copyTo := func(src, dst string) {
		b, err := os.ReadFile(src)
		require.NoError(t, err)
		_ = os.Chmod(dst, 0o644)
		require.NoError(t, os.WriteFile(dst, b, 0o644))
	}
	art := filepath.Join(t.TempDir(), "model.json")
	copyTo(candModel, art)
	approved := fileDigest(t, art)
	task := func(id string) agents.Task {
		return agents.Task{RunID: id, Stage: Stage, Model: "fraud", Environment: "production", Config: cfg,
			Candidate: agents.Candidate{Version: "v2", ArtifactPath: art, Digest: approved}, Logger: log.New(io.Discard)}
	}

	copyTo(prodModel, art) // swapped after approval
	_, _, err := e.agent.Reconcile(ctx, task("run-swapped"))
	require.Error(t, err)
	require.Contains(t, err.Error(), "refusing to serve fraud v2")
	require.Contains(t, err.Error(), approved)
	_, running := e.agent.servers[serverKey("fraud", "v2")]
	require.False(t, running, "no model server was started on the swapped bytes")

	copyTo(candModel, art)
	st, _, err := e.agent.Reconcile(ctx, task("run-intact"))
	require.NoError(t, err)
	require.NotEmpty(t, st.Candidate.URL, "the intact candidate is served")
	s := e.agent.servers[serverKey("fraud", "v2")]
	require.NotNil(t, s)
	served := s.cmd.Args[len(s.cmd.Args)-3] // --model fraud=PATH --addr 127.0.0.1:0
	path := served[len("fraud="):]
	require.NotEqual(t, art, path, "served from the agent's own copy")
	require.Equal(t, approved, fileDigest(t, path))
	copyTo(prodModel, art)
	require.Equal(t, approved, fileDigest(t, path), "a later edit of the source does not reach the served copy")
}
