package release_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/internal/release"
	"github.com/modelgate/modelgate/internal/store"
	"github.com/modelgate/modelgate/internal/store/sqlite"
)

func open(t *testing.T) store.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(t.TempDir(), "m.db")})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

func version(v, digestChar, run string) store.ModelVersion {
	return store.ModelVersion{Model: "fraud", Version: v, Digest: "sha256:" + strings.Repeat(digestChar, 64), RunID: run, CreatedAt: time.Now().UTC()}
}

func ptr(s string) *string { return &s }

// TestPromoteAndRollback: one promotion and one rollback for every caller,
// each safe to repeat and never overwriting a change it did not see.
func TestPromoteAndRollback(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t)

	_, _, err := release.Target(ctx, s, "fraud", "production")
	require.ErrorIs(t, err, store.ErrNotFound, "nothing in production yet")

	p, changed, err := release.Promote(ctx, s, release.PromoteParams{Version: version("v1", "1", "r1"), Environment: "production", Expect: ptr("")})
	require.NoError(t, err)
	require.True(t, changed)
	require.Equal(t, "v1", p.Version)

	_, changed, err = release.Promote(ctx, s, release.PromoteParams{Version: version("v1", "1", "r1"), Environment: "production", Expect: ptr("")})
	require.NoError(t, err, "a replay after a crash is not a conflict")
	require.False(t, changed)

	_, _, err = release.Target(ctx, s, "fraud", "production")
	require.ErrorIs(t, err, release.ErrNoPrevious)
	require.ErrorIs(t, err, store.ErrConflict, "so the API answers 409")

	_, _, err = release.Promote(ctx, s, release.PromoteParams{Version: version("v1", "9", "r9"), Environment: "staging"})
	require.ErrorContains(t, err, "the registry holds this version with digest", "a version name never gets other bytes")

	_, _, err = release.Promote(ctx, s, release.PromoteParams{Version: version("v2", "2", "r2"), Environment: "production", Expect: ptr("v0")})
	require.ErrorContains(t, err, "changed under the promotion", "a decision about another production version does not land")

	_, changed, err = release.Promote(ctx, s, release.PromoteParams{Version: version("v2", "2", "r2"), Environment: "production", Expect: ptr("v1")})
	require.NoError(t, err)
	require.True(t, changed)

	cur, prev, err := release.Target(ctx, s, "fraud", "production")
	require.NoError(t, err)
	require.Equal(t, "v2", cur.Version)
	require.Equal(t, "v1", prev.Version)

	// A promotion lands between the operator's look and the rollback.
	_, _, err = release.Promote(ctx, s, release.PromoteParams{Version: version("v3", "3", "r3"), Environment: "production", Expect: ptr("v2")})
	require.NoError(t, err)
	_, err = release.Rollback(ctx, s, release.RollbackParams{From: cur, To: prev, Reason: "manual"})
	require.ErrorIs(t, err, store.ErrConflict, "the rollback does not silently undo v3")

	cur, prev, err = release.Target(ctx, s, "fraud", "production")
	require.NoError(t, err)
	out, err := release.Rollback(ctx, s, release.RollbackParams{From: cur, To: prev, Reason: "manual"})
	require.NoError(t, err)
	require.Equal(t, "v2", out.Version)

	_, _, err = release.Promote(ctx, s, release.PromoteParams{Version: store.ModelVersion{Model: "fraud", Version: "v4"}, Environment: "production"})
	require.ErrorContains(t, err, "nothing to promote")
}
