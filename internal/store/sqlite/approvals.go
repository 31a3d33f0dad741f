package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/modelgate/modelgate/internal/store"
)

// Approvals are kept as one JSON document each, with the columns the
// queries filter on copied out; the document is the source of truth.

// ApprovalCreate stores a new approval request at version 1.
func (s *Store) ApprovalCreate(ctx context.Context, a store.Approval) (store.Approval, error) {
	a, err := store.PrepareApproval(a, s.now())
	if err != nil {
		return store.Approval{}, err
	}
	body, err := json.Marshal(a)
	if err != nil {
		return store.Approval{}, fmt.Errorf("create approval %s: encode: %w", a.ID, err)
	}
	err = s.tx(ctx, func(tx *sql.Tx) error {
		_, err := s.txExec(ctx, tx, `INSERT INTO approvals (id, run_id, state, created_at, version, body) VALUES (?, ?, ?, ?, ?, ?)`,
			a.ID, a.RunID, string(a.State), ts(a.CreatedAt), a.Version, string(body))
		if isConstraint(err) {
			return fmt.Errorf("create approval %s: an approval with this id exists: %w", a.ID, store.ErrConflict)
		}
		if err != nil {
			return fmt.Errorf("create approval %s: %w", a.ID, err)
		}
		return nil
	})
	if err != nil {
		return store.Approval{}, err
	}
	return decodeApproval(body)
}

func decodeApproval(body []byte) (store.Approval, error) {
	var a store.Approval
	if err := json.Unmarshal(body, &a); err != nil {
		return store.Approval{}, fmt.Errorf("decode approval: %w", err)
	}
	return a, nil
}

// ApprovalGet returns one approval.
func (s *Store) ApprovalGet(ctx context.Context, id string) (store.Approval, error) {
	var body string
	err := s.rrow(ctx, `SELECT body FROM approvals WHERE id = ?`, id).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Approval{}, fmt.Errorf("approval %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.Approval{}, fmt.Errorf("get approval %s: %w", id, err)
	}
	a, err := decodeApproval([]byte(body))
	if err != nil {
		return store.Approval{}, fmt.Errorf("get approval %s: %w", id, err)
	}
	return a, nil
}

// ApprovalList returns approvals newest first.
func (s *Store) ApprovalList(ctx context.Context, p store.ApprovalListParams) ([]store.Approval, error) {
	var f filter
	f.eq("run_id", p.RunID)
	inStates(&f, p.States)
	rows, err := s.rquery(ctx, `SELECT body FROM approvals`+f.where()+` ORDER BY created_at DESC, rowid DESC LIMIT ?`,
		append(f.args, limitOr(p.Limit, 100))...)
	if err != nil {
		return nil, fmt.Errorf("list approvals: %w", err)
	}
	defer rows.Close()
	out := []store.Approval{}
	for rows.Next() {
		var body string
		if err := rows.Scan(&body); err != nil {
			return nil, fmt.Errorf("list approvals: %w", err)
		}
		a, err := decodeApproval([]byte(body))
		if err != nil {
			return nil, fmt.Errorf("list approvals: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list approvals: %w", err)
	}
	return out, nil
}

// ApprovalDecide writes the new state and votes when the stored version is
// still p.ExpectVersion.
func (s *Store) ApprovalDecide(ctx context.Context, p store.ApprovalDecideParams) (store.Approval, error) {
	var out store.Approval
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var body string
		err := s.txRow(ctx, tx, `SELECT body FROM approvals WHERE id = ?`, p.ID).Scan(&body)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("decide approval %s: %w", p.ID, store.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("decide approval %s: %w", p.ID, err)
		}
		a, err := decodeApproval([]byte(body))
		if err != nil {
			return fmt.Errorf("decide approval %s: %w", p.ID, err)
		}
		if a, err = p.Apply(a); err != nil {
			return fmt.Errorf("decide approval %s: %w", p.ID, err)
		}
		nb, err := json.Marshal(a)
		if err != nil {
			return fmt.Errorf("decide approval %s: encode: %w", p.ID, err)
		}
		res, err := s.txExec(ctx, tx, `UPDATE approvals SET state = ?, version = ?, body = ? WHERE id = ? AND version = ?`,
			string(a.State), a.Version, string(nb), p.ID, p.ExpectVersion)
		if err != nil {
			return fmt.Errorf("decide approval %s: %w", p.ID, err)
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return fmt.Errorf("decide approval %s: lost the race: %w", p.ID, store.ErrConflict)
		}
		out, err = decodeApproval(nb)
		return err
	})
	return out, err
}
