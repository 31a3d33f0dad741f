package deployment

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/internal/store"
)

// TestRollbackToAnyVersion: a rollback may name any registered version,
// not only the previous one; traffic moves to it through the real
// gateway, and what already serves or was never registered is refused.
func TestRollbackToAnyVersion(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.production() // v1
	ctx := context.Background()
	old := serveModel(t, "fraud", prodModel)
	require.NoError(t, e.store.ModelVersionPut(ctx, store.ModelVersion{Model: "fraud", Version: "v0", Digest: "sha256:" + strings.Repeat("0", 64),
		Endpoint: old.URL, CreatedAt: e.clock.Now()}))
	newer := serveModel(t, "fraud", prodModel)
	require.NoError(t, e.store.ModelVersionPut(ctx, store.ModelVersion{Model: "fraud", Version: "v2", Digest: "sha256:" + strings.Repeat("2", 64),
		Endpoint: newer.URL, CreatedAt: e.clock.Now()}))
	v1 := "v1"
	_, err := e.store.ProductionSet(ctx, store.ProductionSetParams{Model: "fraud", Environment: "production", Version: "v2", ExpectVersion: &v1})
	require.NoError(t, err)

	prod, err := e.agent.Rollback(ctx, RollbackParams{Model: "fraud", Actor: "dave", Version: "v0", Reason: "v1 and v2 both regressed"})
	require.NoError(t, err)
	require.Equal(t, "v0", prod.Version)
	require.Equal(t, "v2", prod.Previous)
	require.Equal(t, map[string]int{"v0": 20}, e.traffic(20).ByVersion)
	rb := e.audit.OfType("deploy.rollback")
	require.Len(t, rb, 1)
	require.Equal(t, "v0", rb[0].Data["to"])
	require.Equal(t, "v2", rb[0].Data["from"])

	_, err = e.agent.Rollback(ctx, RollbackParams{Model: "fraud", Actor: "dave", Version: "v0"})
	require.ErrorIs(t, err, store.ErrConflict, "already in production")
	_, err = e.agent.Rollback(ctx, RollbackParams{Model: "fraud", Actor: "dave", Version: "v9"})
	require.ErrorIs(t, err, store.ErrNotFound)
	require.Len(t, e.audit.OfType("deploy.rollback"), 1, "refused rollbacks record nothing")
}
