package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/modelgate/modelgate/internal/store"
)

// WindowPut replaces a gateway's window of a model.
func (s *Store) WindowPut(ctx context.Context, model, gateway string, doc json.RawMessage) error {
	if err := store.CheckWindow(model, gateway, doc); err != nil {
		return err
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := s.txExec(ctx, tx, `INSERT INTO gateway_windows (model, gateway, doc) VALUES (?, ?, ?)
			ON CONFLICT (model, gateway) DO UPDATE SET doc = excluded.doc`, model, gateway, string(doc)); err != nil {
			return fmt.Errorf("put window of %s from gateway %s: %w", model, gateway, err)
		}
		return nil
	})
}

// WindowList returns every gateway's window of a model.
func (s *Store) WindowList(ctx context.Context, model string) (map[string]json.RawMessage, error) {
	rows, err := s.rquery(ctx, `SELECT gateway, doc FROM gateway_windows WHERE model = ?`, model)
	if err != nil {
		return nil, fmt.Errorf("list windows of %s: %w", model, err)
	}
	defer rows.Close()
	out := map[string]json.RawMessage{}
	for rows.Next() {
		var g, d string
		if err := rows.Scan(&g, &d); err != nil {
			return nil, fmt.Errorf("list windows of %s: %w", model, err)
		}
		out[g] = json.RawMessage(d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list windows of %s: %w", model, err)
	}
	return out, nil
}

// WindowDelete drops a gateway's window of a model.
func (s *Store) WindowDelete(ctx context.Context, model, gateway string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := s.txExec(ctx, tx, `DELETE FROM gateway_windows WHERE model = ? AND gateway = ?`, model, gateway); err != nil {
			return fmt.Errorf("delete window of %s from gateway %s: %w", model, gateway, err)
		}
		return nil
	})
}
