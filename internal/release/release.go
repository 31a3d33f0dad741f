// Package release moves an environment's production pointer: one
// promotion and one rollback, registered and compare-and-swapped the same
// way whoever asks (the coordinator for a registry-only run, a rollout
// that finished, an operator rolling back).
package release

import (
	"context"
	"errors"
	"fmt"

	"github.com/modelgate/modelgate/internal/store"
)

// ErrNoPrevious is a rollback of an environment with no earlier version;
// it wraps store.ErrConflict, so the HTTP API answers 409 without a case of its own.
var ErrNoPrevious = fmt.Errorf("no previous production version to roll back to: %w", store.ErrConflict)

// Register puts a version in the registry. Registering the same version
// with the same digest again (a replay after a crash) is a no-op; the
// same version name with other bytes is an error, never an overwrite.
func Register(ctx context.Context, s store.Store, v store.ModelVersion) error {
	err := s.ModelVersionPut(ctx, v)
	if err == nil {
		return nil
	}
	if !errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("register %s %s: %w", v.Model, v.Version, err)
	}
	have, gerr := s.ModelVersionGet(ctx, v.Model, v.Version)
	if gerr != nil {
		return fmt.Errorf("register %s %s: %w", v.Model, v.Version, gerr)
	}
	if have.Digest != v.Digest || have.Endpoint != v.Endpoint {
		return fmt.Errorf("register %s %s: the registry holds this version with digest %s, the candidate is %s", v.Model, v.Version, have.Digest, v.Digest)
	}
	return nil
}

// PromoteParams is one promotion.
type PromoteParams struct {
	Version     store.ModelVersion // registered first
	Environment string
	// Expect is the production version the caller's decision was about
	// ("" = none); nil promotes over whatever is there.
	Expect *string
	Reason string
}

// Promote registers p.Version and points p.Environment at it. It is safe
// to repeat: when production already is this version (a replay after a
// crash, or a concurrent promoter of the same run), it returns that with
// changed=false. When production moved to a third version since the
// caller looked (Expect), it fails rather than overwrite it.
func Promote(ctx context.Context, s store.Store, p PromoteParams) (store.Production, bool, error) {
	v := p.Version
	if v.Digest == "" && v.Endpoint == "" {
		return store.Production{}, false, errors.New("nothing to promote: the version has neither a digest nor an endpoint")
	}
	if err := Register(ctx, s, v); err != nil {
		return store.Production{}, false, err
	}
	if cur, err := s.ProductionGet(ctx, v.Model, p.Environment); err == nil && cur.Version == v.Version && cur.RunID == v.RunID {
		return cur, false, nil
	}
	out, err := s.ProductionSet(ctx, store.ProductionSetParams{Model: v.Model, Environment: p.Environment,
		Version: v.Version, ExpectVersion: p.Expect, RunID: v.RunID, Reason: p.Reason})
	if errors.Is(err, store.ErrConflict) {
		cur, gerr := s.ProductionGet(ctx, v.Model, p.Environment)
		if gerr == nil && cur.Version == v.Version {
			return cur, false, nil
		}
		return cur, false, fmt.Errorf("set production of %s in %s: it changed under the promotion (now %q, expected %q)", v.Model, p.Environment, cur.Version, deref(p.Expect))
	}
	if err != nil {
		return store.Production{}, false, fmt.Errorf("set production of %s in %s: %w", v.Model, p.Environment, err)
	}
	return out, true, nil
}

// Target says what a rollback of model in env would restore: the current
// production record and the registered version before it.
func Target(ctx context.Context, s store.Store, model, env string) (store.Production, store.ModelVersion, error) {
	cur, err := s.ProductionGet(ctx, model, env)
	if err != nil {
		return store.Production{}, store.ModelVersion{}, fmt.Errorf("rollback %s in %s: %w", model, env, err)
	}
	if cur.Previous == "" {
		return cur, store.ModelVersion{}, fmt.Errorf("rollback %s in %s (now %s): %w", model, env, cur.Version, ErrNoPrevious)
	}
	prev, err := s.ModelVersionGet(ctx, model, cur.Previous)
	if err != nil {
		return cur, store.ModelVersion{}, fmt.Errorf("rollback %s in %s: previous version %s: %w", model, env, cur.Previous, err)
	}
	return cur, prev, nil
}

// RollbackParams is one rollback, from the Target the caller acted on.
type RollbackParams struct {
	From   store.Production   // production as the caller saw it
	To     store.ModelVersion // the version to restore
	Reason string
}

// Rollback points the environment at p.To if production is still p.From,
// so a promotion that landed meanwhile is not silently overwritten.
func Rollback(ctx context.Context, s store.Store, p RollbackParams) (store.Production, error) {
	expect := p.From.Version
	out, err := s.ProductionSet(ctx, store.ProductionSetParams{Model: p.From.Model, Environment: p.From.Environment,
		Version: p.To.Version, ExpectVersion: &expect, Reason: p.Reason})
	if err != nil {
		return p.From, fmt.Errorf("rollback %s in %s: record production %s: %w", p.From.Model, p.From.Environment, p.To.Version, err)
	}
	return out, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
