package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/modelgate/modelgate/internal/store"
)

// ModelVersionPut registers a version; registering it again with the same
// digest is a no-op, with another digest ErrConflict.
func (s *Store) ModelVersionPut(ctx context.Context, v store.ModelVersion) error {
	if v.Model == "" || v.Version == "" {
		return fmt.Errorf("put model version %q of %q: model and version are required", v.Version, v.Model)
	}
	if v.CreatedAt.IsZero() {
		v.CreatedAt = s.now()
	}
	var metrics any
	if len(v.Metrics) > 0 {
		b, err := json.Marshal(v.Metrics)
		if err != nil {
			return fmt.Errorf("put model version %s@%s: encode metrics: %w", v.Model, v.Version, err)
		}
		metrics = string(b)
	}
	var lineage any
	if v.Lineage != nil {
		b, err := json.Marshal(v.Lineage)
		if err != nil {
			return fmt.Errorf("put model version %s@%s: encode lineage: %w", v.Model, v.Version, err)
		}
		lineage = string(b)
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		var digest string
		err := s.txRow(ctx, tx, `SELECT digest FROM model_versions WHERE model = ? AND version = ?`, v.Model, v.Version).Scan(&digest)
		switch {
		case err == nil:
			if digest != v.Digest {
				return fmt.Errorf("put model version %s@%s: registered with digest %s, not %s: %w", v.Model, v.Version, digest, v.Digest, store.ErrConflict)
			}
			return nil
		case !errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("put model version %s@%s: %w", v.Model, v.Version, err)
		}
		if _, err := s.txExec(ctx, tx, `INSERT INTO model_versions (model, version, digest, artifact_path, endpoint, run_id, metrics, created_at, lineage)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, v.Model, v.Version, v.Digest, v.ArtifactPath, v.Endpoint, v.RunID, metrics, ts(v.CreatedAt), lineage); err != nil {
			return fmt.Errorf("put model version %s@%s: %w", v.Model, v.Version, err)
		}
		return nil
	})
}

const modelVersionColumns = `model, version, digest, artifact_path, endpoint, run_id, metrics, created_at, lineage`

func scanModelVersion(sc scanner) (store.ModelVersion, error) {
	var (
		v       store.ModelVersion
		metrics sql.NullString
		lineage sql.NullString
		created int64
	)
	if err := sc.Scan(&v.Model, &v.Version, &v.Digest, &v.ArtifactPath, &v.Endpoint, &v.RunID, &metrics, &created, &lineage); err != nil {
		return store.ModelVersion{}, err
	}
	if metrics.Valid {
		if err := json.Unmarshal([]byte(metrics.String), &v.Metrics); err != nil {
			return store.ModelVersion{}, fmt.Errorf("decode metrics of %s@%s: %w", v.Model, v.Version, err)
		}
	}
	if lineage.Valid {
		v.Lineage = new(store.Lineage)
		if err := json.Unmarshal([]byte(lineage.String), v.Lineage); err != nil {
			return store.ModelVersion{}, fmt.Errorf("decode lineage of %s@%s: %w", v.Model, v.Version, err)
		}
	}
	v.CreatedAt = fromNanos(created)
	return v, nil
}

// ModelVersionGet returns one registered version.
func (s *Store) ModelVersionGet(ctx context.Context, model, version string) (store.ModelVersion, error) {
	v, err := scanModelVersion(s.rrow(ctx, `SELECT `+modelVersionColumns+` FROM model_versions WHERE model = ? AND version = ?`, model, version))
	if errors.Is(err, sql.ErrNoRows) {
		return store.ModelVersion{}, fmt.Errorf("model version %s@%s: %w", model, version, store.ErrNotFound)
	}
	if err != nil {
		return store.ModelVersion{}, fmt.Errorf("get model version %s@%s: %w", model, version, err)
	}
	return v, nil
}

// ModelVersionList returns a model's versions, newest first.
func (s *Store) ModelVersionList(ctx context.Context, model string) ([]store.ModelVersion, error) {
	rows, err := s.rquery(ctx, `SELECT `+modelVersionColumns+` FROM model_versions WHERE model = ? ORDER BY created_at DESC, rowid DESC`, model)
	if err != nil {
		return nil, fmt.Errorf("list versions of model %s: %w", model, err)
	}
	defer rows.Close()
	out := []store.ModelVersion{}
	for rows.Next() {
		v, err := scanModelVersion(rows)
		if err != nil {
			return nil, fmt.Errorf("list versions of model %s: %w", model, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list versions of model %s: %w", model, err)
	}
	return out, nil
}

// ModelList returns the names of every model with a version or a
// production pointer, sorted.
func (s *Store) ModelList(ctx context.Context) ([]string, error) {
	rows, err := s.rquery(ctx, `SELECT model FROM model_versions UNION SELECT model FROM production ORDER BY model`)
	if err != nil {
		return nil, fmt.Errorf("list models: %w", err)
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var m string
		if err := rows.Scan(&m); err != nil {
			return nil, fmt.Errorf("list models: %w", err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list models: %w", err)
	}
	return out, nil
}

const productionColumns = `model, environment, version, previous, run_id, reason, updated_at`

func scanProduction(sc scanner) (store.Production, error) {
	var (
		p       store.Production
		updated int64
	)
	if err := sc.Scan(&p.Model, &p.Environment, &p.Version, &p.Previous, &p.RunID, &p.Reason, &updated); err != nil {
		return store.Production{}, err
	}
	p.UpdatedAt = fromNanos(updated)
	return p, nil
}

// ProductionSet points an environment at a version, keeping the one it
// replaces as Previous.
func (s *Store) ProductionSet(ctx context.Context, p store.ProductionSetParams) (store.Production, error) {
	if p.Model == "" || p.Version == "" {
		return store.Production{}, fmt.Errorf("set production of %q in %q: model and version are required", p.Model, p.Environment)
	}
	var out store.Production
	err := s.tx(ctx, func(tx *sql.Tx) error {
		cur, err := scanProduction(s.txRow(ctx, tx, `SELECT `+productionColumns+` FROM production WHERE model = ? AND environment = ?`, p.Model, p.Environment))
		exists := err == nil
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("set production of %s in %s: %w", p.Model, p.Environment, err)
		}
		if p.ExpectVersion != nil && *p.ExpectVersion != cur.Version {
			return fmt.Errorf("set production of %s in %s: current version is %q, expected %q: %w",
				p.Model, p.Environment, cur.Version, *p.ExpectVersion, store.ErrConflict)
		}
		out = store.Production{
			Model: p.Model, Environment: p.Environment, Version: p.Version,
			RunID: p.RunID, Reason: p.Reason, UpdatedAt: s.now().UTC().Round(0),
		}
		switch {
		case !exists:
		case cur.Version == p.Version:
			// Re-pointing at the same version must not lose the rollback target.
			out.Previous = cur.Previous
		default:
			out.Previous = cur.Version
		}
		_, err = s.txExec(ctx, tx, `INSERT INTO production (`+productionColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (model, environment) DO UPDATE SET version = excluded.version, previous = excluded.previous,
				run_id = excluded.run_id, reason = excluded.reason, updated_at = excluded.updated_at`,
			out.Model, out.Environment, out.Version, out.Previous, out.RunID, out.Reason, ts(out.UpdatedAt))
		if err != nil {
			return fmt.Errorf("set production of %s in %s: %w", p.Model, p.Environment, err)
		}
		return nil
	})
	return out, err
}

// ProductionGet returns which version serves model in env.
func (s *Store) ProductionGet(ctx context.Context, model, env string) (store.Production, error) {
	p, err := scanProduction(s.rrow(ctx, `SELECT `+productionColumns+` FROM production WHERE model = ? AND environment = ?`, model, env))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Production{}, fmt.Errorf("production of %s in %s: %w", model, env, store.ErrNotFound)
	}
	if err != nil {
		return store.Production{}, fmt.Errorf("get production of %s in %s: %w", model, env, err)
	}
	return p, nil
}

// ProductionList returns a model's production pointers by environment;
// every model's when model is empty.
func (s *Store) ProductionList(ctx context.Context, model string) ([]store.Production, error) {
	rows, err := s.rquery(ctx, `SELECT `+productionColumns+` FROM production WHERE ? = '' OR model = ? ORDER BY model, environment`, model, model)
	if err != nil {
		return nil, fmt.Errorf("list production of %s: %w", model, err)
	}
	defer rows.Close()
	out := []store.Production{}
	for rows.Next() {
		p, err := scanProduction(rows)
		if err != nil {
			return nil, fmt.Errorf("list production of %s: %w", model, err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list production of %s: %w", model, err)
	}
	return out, nil
}

// RouteSet replaces a model's gateway route table.
func (s *Store) RouteSet(ctx context.Context, model string, table json.RawMessage) error {
	if err := store.CheckRoutes(model, table); err != nil {
		return err
	}
	return s.docSet(ctx, routesDoc, model, table)
}

// RouteGet returns a model's route table.
func (s *Store) RouteGet(ctx context.Context, model string) (json.RawMessage, error) {
	return s.docGet(ctx, routesDoc, model)
}

// RouteList returns every model's route table.
func (s *Store) RouteList(ctx context.Context) (map[string]json.RawMessage, error) {
	return s.docList(ctx, routesDoc)
}

// RolloutGet returns a run's rollout state.
func (s *Store) RolloutGet(ctx context.Context, runID string) (store.Rollout, error) {
	var (
		r       store.Rollout
		data    sql.NullString
		updated int64
	)
	err := s.rrow(ctx, `SELECT run_id, model, data, version, updated_at FROM rollouts WHERE run_id = ?`, runID).
		Scan(&r.RunID, &r.Model, &data, &r.Version, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Rollout{}, fmt.Errorf("rollout of run %s: %w", runID, store.ErrNotFound)
	}
	if err != nil {
		return store.Rollout{}, fmt.Errorf("get rollout of run %s: %w", runID, err)
	}
	if data.Valid {
		r.Data = json.RawMessage(data.String)
	}
	r.UpdatedAt = fromNanos(updated)
	return r, nil
}

// RolloutSave writes r if r.Version is the stored version (0 = new) and
// returns it with the bumped version.
func (s *Store) RolloutSave(ctx context.Context, r store.Rollout) (store.Rollout, error) {
	if err := store.CheckRollout(r); err != nil {
		return store.Rollout{}, err
	}
	now := s.now().UTC().Round(0)
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if r.Version == 0 {
			_, err := s.txExec(ctx, tx, `INSERT INTO rollouts (run_id, model, data, version, updated_at) VALUES (?, ?, ?, 1, ?)`,
				r.RunID, r.Model, nullIfEmpty(r.Data), ts(now))
			if isConstraint(err) {
				return fmt.Errorf("save rollout of run %s: it already exists: %w", r.RunID, store.ErrConflict)
			}
			if err != nil {
				return fmt.Errorf("save rollout of run %s: %w", r.RunID, err)
			}
			return nil
		}
		res, err := s.txExec(ctx, tx, `UPDATE rollouts SET model = ?, data = ?, version = version + 1, updated_at = ?
			WHERE run_id = ? AND version = ?`, r.Model, nullIfEmpty(r.Data), ts(now), r.RunID, r.Version)
		if err != nil {
			return fmt.Errorf("save rollout of run %s: %w", r.RunID, err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			return nil
		}
		var cur int64
		err = s.txRow(ctx, tx, `SELECT version FROM rollouts WHERE run_id = ?`, r.RunID).Scan(&cur)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("save rollout of run %s at version %d: no rollout is stored: %w", r.RunID, r.Version, store.ErrConflict)
		}
		if err != nil {
			return fmt.Errorf("save rollout of run %s: %w", r.RunID, err)
		}
		return fmt.Errorf("save rollout of run %s: version is %d, expected %d: %w", r.RunID, cur, r.Version, store.ErrConflict)
	})
	if err != nil {
		return store.Rollout{}, err
	}
	r.Version++
	r.UpdatedAt = now
	return r, nil
}
