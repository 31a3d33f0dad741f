package release

import (
	"context"
	"fmt"

	"github.com/modelgate/modelgate/internal/store"
)

// TargetVersion is Target for a rollback to a chosen registered version,
// any of them, not only the one before the current: it must be in the
// registry and must not be what already serves (that is a conflict, so a
// repeated rollback does not re-route traffic for nothing).
func TargetVersion(ctx context.Context, s store.Store, model, env, version string) (store.Production, store.ModelVersion, error) {
	cur, err := s.ProductionGet(ctx, model, env)
	if err != nil {
		return store.Production{}, store.ModelVersion{}, fmt.Errorf("rollback %s in %s: %w", model, env, err)
	}
	to, err := s.ModelVersionGet(ctx, model, version)
	if err != nil {
		return cur, store.ModelVersion{}, fmt.Errorf("rollback %s in %s to %s: %w", model, env, version, err)
	}
	if cur.Version == version {
		return cur, to, fmt.Errorf("rollback %s in %s to %s: it is already in production: %w", model, env, version, store.ErrConflict)
	}
	return cur, to, nil
}
