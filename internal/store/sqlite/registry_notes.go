package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"

	"github.com/modelgate/modelgate/internal/store"
)

// registryMigration adds a version's lineage (immutable, written with the
// version) and the registry's mutable parts: notes (description, tags)
// and aliases.
const registryMigration = `
ALTER TABLE model_versions ADD COLUMN lineage TEXT;

CREATE TABLE model_version_notes (
	model       TEXT NOT NULL,
	version     TEXT NOT NULL,
	description TEXT NOT NULL,
	tags        TEXT NOT NULL,
	updated_at  INTEGER NOT NULL,
	PRIMARY KEY (model, version)
) WITHOUT ROWID;

CREATE TABLE model_aliases (
	model      TEXT NOT NULL,
	name       TEXT NOT NULL,
	version    TEXT NOT NULL,
	previous   TEXT NOT NULL,
	actor      TEXT NOT NULL,
	reason     TEXT NOT NULL,
	updated_at INTEGER NOT NULL,
	PRIMARY KEY (model, name)
) WITHOUT ROWID;
`

func (s *Store) versionExists(ctx context.Context, tx *sql.Tx, model, version string) error {
	var one int
	err := s.txRow(ctx, tx, `SELECT 1 FROM model_versions WHERE model = ? AND version = ?`, model, version).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("model version %s@%s: %w", model, version, store.ErrNotFound)
	}
	return err
}

// ModelVersionAnnotate changes a version's description and tags in one
// transaction.
func (s *Store) ModelVersionAnnotate(ctx context.Context, p store.ModelVersionAnnotateParams) (store.VersionNotes, error) {
	if err := p.Validate(); err != nil {
		return store.VersionNotes{}, err
	}
	var out store.VersionNotes
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if err := s.versionExists(ctx, tx, p.Model, p.Version); err != nil {
			return err
		}
		cur, err := scanNotes(s.txRow(ctx, tx, `SELECT description, tags, updated_at FROM model_version_notes WHERE model = ? AND version = ?`, p.Model, p.Version))
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if p.Description != nil {
			cur.Description = *p.Description
		}
		tags := maps.Clone(cur.Tags)
		if tags == nil {
			tags = map[string]string{}
		}
		maps.Copy(tags, p.SetTags)
		for _, k := range p.DeleteTags {
			delete(tags, k)
		}
		cur.Tags = tags
		cur.UpdatedAt = s.now().UTC()
		b, err := json.Marshal(tags)
		if err != nil {
			return err
		}
		if _, err := s.txExec(ctx, tx, `INSERT INTO model_version_notes (model, version, description, tags, updated_at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (model, version) DO UPDATE SET description = excluded.description, tags = excluded.tags, updated_at = excluded.updated_at`,
			p.Model, p.Version, cur.Description, string(b), ts(cur.UpdatedAt)); err != nil {
			return err
		}
		if len(cur.Tags) == 0 {
			cur.Tags = nil
		}
		out = cur
		return nil
	})
	if err != nil {
		return store.VersionNotes{}, fmt.Errorf("annotate %s@%s: %w", p.Model, p.Version, err)
	}
	return out, nil
}

func scanNotes(row *sql.Row) (store.VersionNotes, error) {
	var (
		n       store.VersionNotes
		tags    string
		updated int64
	)
	if err := row.Scan(&n.Description, &tags, &updated); err != nil {
		return store.VersionNotes{}, err
	}
	if err := json.Unmarshal([]byte(tags), &n.Tags); err != nil {
		return store.VersionNotes{}, fmt.Errorf("decode tags: %w", err)
	}
	if len(n.Tags) == 0 {
		n.Tags = nil
	}
	n.UpdatedAt = fromNanos(updated)
	return n, nil
}

// ModelVersionNotes returns a version's description and tags.
func (s *Store) ModelVersionNotes(ctx context.Context, model, version string) (store.VersionNotes, error) {
	n, err := scanNotes(s.rrow(ctx, `SELECT description, tags, updated_at FROM model_version_notes WHERE model = ? AND version = ?`, model, version))
	if errors.Is(err, sql.ErrNoRows) {
		if _, gerr := s.ModelVersionGet(ctx, model, version); gerr != nil {
			return store.VersionNotes{}, gerr
		}
		return store.VersionNotes{}, nil
	}
	if err != nil {
		return store.VersionNotes{}, fmt.Errorf("notes of %s@%s: %w", model, version, err)
	}
	return n, nil
}

const aliasColumns = `model, name, version, previous, actor, reason, updated_at`

func scanAlias(sc scanner) (store.Alias, error) {
	var (
		a       store.Alias
		updated int64
	)
	if err := sc.Scan(&a.Model, &a.Name, &a.Version, &a.Previous, &a.Actor, &a.Reason, &updated); err != nil {
		return store.Alias{}, err
	}
	a.UpdatedAt = fromNanos(updated)
	return a, nil
}

// AliasSet points an alias at a registered version, compare-and-swapped
// on p.Expect.
func (s *Store) AliasSet(ctx context.Context, p store.AliasSetParams) (store.Alias, error) {
	if err := p.Validate(); err != nil {
		return store.Alias{}, err
	}
	var out store.Alias
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if err := s.versionExists(ctx, tx, p.Model, p.Version); err != nil {
			return err
		}
		cur, err := scanAlias(s.txRow(ctx, tx, `SELECT `+aliasColumns+` FROM model_aliases WHERE model = ? AND name = ?`, p.Model, p.Name))
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if p.Expect != nil && *p.Expect != cur.Version {
			return fmt.Errorf("alias points at %q, expected %q: %w", cur.Version, *p.Expect, store.ErrConflict)
		}
		prev := cur.Version
		if prev == p.Version {
			prev = cur.Previous
		}
		out = store.Alias{Model: p.Model, Name: p.Name, Version: p.Version, Previous: prev, Actor: p.Actor, Reason: p.Reason, UpdatedAt: s.now().UTC()}
		_, err = s.txExec(ctx, tx, `INSERT INTO model_aliases (`+aliasColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (model, name) DO UPDATE SET version = excluded.version, previous = excluded.previous, actor = excluded.actor,
			reason = excluded.reason, updated_at = excluded.updated_at`,
			out.Model, out.Name, out.Version, out.Previous, out.Actor, out.Reason, ts(out.UpdatedAt))
		return err
	})
	if err != nil {
		return store.Alias{}, fmt.Errorf("set alias %s of %s to %s: %w", p.Name, p.Model, p.Version, err)
	}
	return out, nil
}

// AliasGet returns one alias.
func (s *Store) AliasGet(ctx context.Context, model, name string) (store.Alias, error) {
	a, err := scanAlias(s.rrow(ctx, `SELECT `+aliasColumns+` FROM model_aliases WHERE model = ? AND name = ?`, model, name))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Alias{}, fmt.Errorf("alias %s of %s: %w", name, model, store.ErrNotFound)
	}
	if err != nil {
		return store.Alias{}, fmt.Errorf("get alias %s of %s: %w", name, model, err)
	}
	return a, nil
}

// AliasList returns a model's aliases by name.
func (s *Store) AliasList(ctx context.Context, model string) ([]store.Alias, error) {
	rows, err := s.rquery(ctx, `SELECT `+aliasColumns+` FROM model_aliases WHERE model = ? ORDER BY name`, model)
	if err != nil {
		return nil, fmt.Errorf("list aliases of %s: %w", model, err)
	}
	defer rows.Close()
	out := []store.Alias{}
	for rows.Next() {
		a, err := scanAlias(rows)
		if err != nil {
			return nil, fmt.Errorf("list aliases of %s: %w", model, err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list aliases of %s: %w", model, err)
	}
	return out, nil
}
