package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/modelgate/modelgate/internal/store"
)

// AuditAppend stores e when e.Seq is the next sequence number.
func (s *Store) AuditAppend(ctx context.Context, e store.AuditEntry) error {
	return s.AuditAppendBatch(ctx, []store.AuditEntry{e})
}

// AuditAppendBatch stores consecutive entries in one transaction: either
// all of them or none. The first must carry the next sequence number and
// each following one the number after it; ErrConflict otherwise. The audit
// package uses it for group commit.
func (s *Store) AuditAppendBatch(ctx context.Context, es []store.AuditEntry) error {
	if len(es) == 0 {
		return nil
	}
	for i := 1; i < len(es); i++ {
		if es[i].Seq != es[i-1].Seq+1 {
			return fmt.Errorf("append audit batch: seq %d follows %d: %w", es[i].Seq, es[i-1].Seq, store.ErrConflict)
		}
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		var last int64
		if err := s.txRow(ctx, tx, `SELECT coalesce(max(seq), 0) FROM audit`).Scan(&last); err != nil {
			return fmt.Errorf("append audit entry %d: %w", es[0].Seq, err)
		}
		if es[0].Seq != last+1 {
			return fmt.Errorf("append audit entry %d: the next seq is %d: %w", es[0].Seq, last+1, store.ErrConflict)
		}
		one, many := s.auditOne, s.auditMany
		// Full chunks go through the multi-row statement: per-statement
		// overhead, not SQLite, dominates an insert of a few hundred bytes.
		rest := es
		args := make([]any, 0, 7*auditChunk)
		for len(rest) >= auditChunk {
			args = args[:0]
			for _, e := range rest[:auditChunk] {
				args = appendAuditArgs(args, e)
			}
			if _, err := tx.StmtContext(ctx, many).ExecContext(ctx, args...); err != nil {
				return auditInsertErr(rest[0].Seq, err)
			}
			rest = rest[auditChunk:]
		}
		st := tx.StmtContext(ctx, one)
		for _, e := range rest {
			if _, err := st.ExecContext(ctx, appendAuditArgs(args[:0], e)...); err != nil {
				return auditInsertErr(e.Seq, err)
			}
		}
		return nil
	})
}

// auditChunk is how many rows one multi-row INSERT carries (7 parameters
// each, well under SQLite's limit of 32766).
const auditChunk = 64

// prepareAudit prepares the audit inserts once on the writer connection,
// at Open: preparing inside a transaction would wait for the one writer
// connection that the transaction holds.
func (s *Store) prepareAudit(ctx context.Context) error {
	const q = `INSERT INTO audit (seq, time, type, run_id, actor, data, hash) VALUES `
	row := `(?, ?, ?, ?, ?, ?, ?)`
	var err error
	if s.auditOne, err = s.w.PrepareContext(ctx, q+row); err != nil {
		return fmt.Errorf("prepare audit insert: %w", err)
	}
	if s.auditMany, err = s.w.PrepareContext(ctx, q+strings.TrimSuffix(strings.Repeat(row+", ", auditChunk), ", ")); err != nil {
		return fmt.Errorf("prepare audit insert: %w", err)
	}
	return nil
}

func appendAuditArgs(args []any, e store.AuditEntry) []any {
	var data any
	if len(e.Data) > 0 {
		data = []byte(e.Data)
	}
	return append(args, e.Seq, ts(e.Time), e.Type, e.RunID, e.Actor, data, e.Hash)
}

func auditInsertErr(seq int64, err error) error {
	if isConstraint(err) {
		return fmt.Errorf("append audit entry %d: %w", seq, store.ErrConflict)
	}
	return fmt.Errorf("append audit entry %d: %w", seq, err)
}

const auditColumns = `seq, time, type, run_id, actor, data, hash`

func scanAudit(sc scanner) (store.AuditEntry, error) {
	var (
		e    store.AuditEntry
		t    int64
		data []byte
	)
	if err := sc.Scan(&e.Seq, &t, &e.Type, &e.RunID, &e.Actor, &data, &e.Hash); err != nil {
		return store.AuditEntry{}, err
	}
	e.Time = fromNanos(t)
	if len(data) > 0 {
		e.Data = data
	}
	return e, nil
}

// AuditList pages through the trail in sequence order.
func (s *Store) AuditList(ctx context.Context, p store.AuditListParams) ([]store.AuditEntry, error) {
	var f filter
	f.add("seq > ?", p.AfterSeq)
	f.eq("run_id", p.RunID)
	f.eq("type", p.Type)
	limit := limitOr(p.Limit, 1000)
	rows, err := s.rquery(ctx, `SELECT `+auditColumns+` FROM audit`+f.where()+` ORDER BY seq LIMIT ?`, append(f.args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("list audit entries after %d: %w", p.AfterSeq, err)
	}
	defer rows.Close()
	out := make([]store.AuditEntry, 0, min(limit, 1024))
	for rows.Next() {
		e, err := scanAudit(rows)
		if err != nil {
			return nil, fmt.Errorf("list audit entries after %d: %w", p.AfterSeq, err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list audit entries after %d: %w", p.AfterSeq, err)
	}
	return out, nil
}

// AuditLast returns the entry with the highest seq.
func (s *Store) AuditLast(ctx context.Context) (store.AuditEntry, error) {
	e, err := scanAudit(s.rrow(ctx, `SELECT `+auditColumns+` FROM audit ORDER BY seq DESC LIMIT 1`))
	if errors.Is(err, sql.ErrNoRows) {
		return store.AuditEntry{}, fmt.Errorf("last audit entry: trail is empty: %w", store.ErrNotFound)
	}
	if err != nil {
		return store.AuditEntry{}, fmt.Errorf("last audit entry: %w", err)
	}
	return e, nil
}

// AuditCheckpointPut stores a checkpoint. Putting the identical checkpoint
// again is a no-op; another checkpoint at the same seq is ErrConflict.
func (s *Store) AuditCheckpointPut(ctx context.Context, c store.Checkpoint) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		var prev store.Checkpoint
		var t int64
		err := s.txRow(ctx, tx, `SELECT seq, hash, time, key_id, signature FROM audit_checkpoints WHERE seq = ?`, c.Seq).
			Scan(&prev.Seq, &prev.Hash, &t, &prev.KeyID, &prev.Signature)
		switch {
		case err == nil:
			if prev.Hash == c.Hash && t == ts(c.Time) && prev.KeyID == c.KeyID && prev.Signature == c.Signature {
				return nil
			}
			return fmt.Errorf("put audit checkpoint at seq %d: another checkpoint exists there: %w", c.Seq, store.ErrConflict)
		case !errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("put audit checkpoint at seq %d: %w", c.Seq, err)
		}
		if _, err := s.txExec(ctx, tx, `INSERT INTO audit_checkpoints (seq, hash, time, key_id, signature) VALUES (?, ?, ?, ?, ?)`,
			c.Seq, c.Hash, ts(c.Time), c.KeyID, c.Signature); err != nil {
			return fmt.Errorf("put audit checkpoint at seq %d: %w", c.Seq, err)
		}
		return nil
	})
}

// AuditCheckpointList returns every checkpoint by seq.
func (s *Store) AuditCheckpointList(ctx context.Context) ([]store.Checkpoint, error) {
	rows, err := s.rquery(ctx, `SELECT seq, hash, time, key_id, signature FROM audit_checkpoints ORDER BY seq`)
	if err != nil {
		return nil, fmt.Errorf("list audit checkpoints: %w", err)
	}
	defer rows.Close()
	out := []store.Checkpoint{}
	for rows.Next() {
		var (
			c store.Checkpoint
			t int64
		)
		if err := rows.Scan(&c.Seq, &c.Hash, &t, &c.KeyID, &c.Signature); err != nil {
			return nil, fmt.Errorf("list audit checkpoints: %w", err)
		}
		c.Time = fromNanos(t)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list audit checkpoints: %w", err)
	}
	return out, nil
}
