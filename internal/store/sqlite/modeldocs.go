package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/modelgate/modelgate/internal/store"
)

// modelDoc is a table holding one JSON document per model (route tables,
// model settings): the same three statements for each, named here once.
// Table and column are constants of this package, never input.
type modelDoc struct {
	table, col string
	what       string // in errors: "routes", "settings"
	listWhat   string // in the list's errors
}

var (
	routesDoc   = modelDoc{table: "routes", col: "tbl", what: "routes", listWhat: "routes"}
	settingsDoc = modelDoc{table: "model_settings", col: "doc", what: "settings", listWhat: "model settings"}
)

func (s *Store) docSet(ctx context.Context, d modelDoc, model string, doc json.RawMessage) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := s.txExec(ctx, tx, `INSERT INTO `+d.table+` (model, `+d.col+`) VALUES (?, ?) ON CONFLICT (model) DO UPDATE SET `+d.col+` = excluded.`+d.col,
			model, string(doc)); err != nil {
			return fmt.Errorf("set %s of %s: %w", d.what, model, err)
		}
		return nil
	})
}

func (s *Store) docGet(ctx context.Context, d modelDoc, model string) (json.RawMessage, error) {
	var v string
	err := s.rrow(ctx, `SELECT `+d.col+` FROM `+d.table+` WHERE model = ?`, model).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%s of %s: %w", d.what, model, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get %s of %s: %w", d.what, model, err)
	}
	return json.RawMessage(v), nil
}

func (s *Store) docList(ctx context.Context, d modelDoc) (map[string]json.RawMessage, error) {
	rows, err := s.rquery(ctx, `SELECT model, `+d.col+` FROM `+d.table)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", d.listWhat, err)
	}
	defer rows.Close()
	out := map[string]json.RawMessage{}
	for rows.Next() {
		var m, v string
		if err := rows.Scan(&m, &v); err != nil {
			return nil, fmt.Errorf("list %s: %w", d.listWhat, err)
		}
		out[m] = json.RawMessage(v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list %s: %w", d.listWhat, err)
	}
	return out, nil
}
