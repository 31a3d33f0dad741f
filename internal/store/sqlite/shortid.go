package sqlite

import (
	"context"
	"fmt"

	"github.com/modelgate/modelgate/internal/store"
)

// RunResolveID implements store.Store.
func (s *Store) RunResolveID(ctx context.Context, prefix string) (string, error) {
	return s.resolveID(ctx, "run", `SELECT id FROM runs WHERE id >= ? AND id < ? ORDER BY id LIMIT 3`, prefix)
}

// ApprovalResolveID implements store.Store.
func (s *Store) ApprovalResolveID(ctx context.Context, prefix string) (string, error) {
	return s.resolveID(ctx, "approval", `SELECT id FROM approvals WHERE id >= ? AND id < ? ORDER BY id LIMIT 3`, prefix)
}

// resolveID finds the ids starting with prefix as a range of the primary
// key ([prefix, prefix+"\xff")), which the index answers without a scan
// and which has no wildcards to escape.
func (s *Store) resolveID(ctx context.Context, kind, q, prefix string) (string, error) {
	if err := store.CheckIDPrefix(prefix); err != nil {
		return "", fmt.Errorf("%s: %w", err.Error(), store.ErrNotFound)
	}
	rows, err := s.rquery(ctx, q, prefix, prefix+"\xff")
	if err != nil {
		return "", fmt.Errorf("resolve %s id %q: %w", kind, prefix, err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return "", fmt.Errorf("resolve %s id %q: %w", kind, prefix, err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return "", fmt.Errorf("resolve %s id %q: %w", kind, prefix, err)
	}
	return store.ResolveIDs(kind, prefix, ids)
}
