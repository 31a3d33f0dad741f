package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/modelgate/modelgate/internal/store"
)

const runColumns = `id, model, environment, state, trigger, requester, commit_author, config, base_dir,
	candidate, decision, error, labels, created_at, updated_at, version, request_digest`

type scanner interface{ Scan(dest ...any) error }

func scanRun(sc scanner) (store.Run, string, error) {
	var (
		r                store.Run
		state            string
		cand             string
		decision, labels sql.NullString
		created, updated int64
		digest           string
		config           []byte
	)
	err := sc.Scan(&r.ID, &r.Model, &r.Environment, &state, &r.Trigger, &r.Requester, &r.CommitAuthor,
		&config, &r.BaseDir, &cand, &decision, &r.Error, &labels, &created, &updated, &r.Version, &digest)
	if err != nil {
		return store.Run{}, "", err
	}
	r.State = store.RunState(state)
	if len(config) > 0 {
		r.Config = config
	}
	if err := json.Unmarshal([]byte(cand), &r.Candidate); err != nil {
		return store.Run{}, "", fmt.Errorf("run %s: decode candidate: %w", r.ID, err)
	}
	if decision.Valid {
		r.Decision = json.RawMessage(decision.String)
	}
	if labels.Valid {
		if err := json.Unmarshal([]byte(labels.String), &r.Labels); err != nil {
			return store.Run{}, "", fmt.Errorf("run %s: decode labels: %w", r.ID, err)
		}
	}
	r.CreatedAt = fromNanos(created)
	r.UpdatedAt = fromNanos(updated)
	return r, digest, nil
}

// RunCreate inserts a run, or replays the one created with the same
// idempotency key.
func (s *Store) RunCreate(ctx context.Context, p store.RunCreateParams) (store.Run, bool, error) {
	r, err := store.PrepareRun(p.Run, s.now())
	if err != nil {
		return store.Run{}, false, err
	}
	cand, err := json.Marshal(r.Candidate)
	if err != nil {
		return store.Run{}, false, fmt.Errorf("create run %s: encode candidate: %w", r.ID, err)
	}
	var labels any
	if len(r.Labels) > 0 {
		b, err := json.Marshal(r.Labels)
		if err != nil {
			return store.Run{}, false, fmt.Errorf("create run %s: encode labels: %w", r.ID, err)
		}
		labels = string(b)
	}

	var out store.Run
	created := true
	idem := store.IdempotencyScope(r.Requester, p.IdempotencyKey)
	err = s.tx(ctx, func(tx *sql.Tx) error {
		if idem != "" {
			row := s.txRow(ctx, tx, `SELECT `+runColumns+` FROM runs WHERE idempotency_key = ?`, idem)
			prev, digest, err := scanRun(row)
			switch {
			case err == nil:
				if digest != p.RequestDigest {
					return fmt.Errorf("create run: idempotency key %q was used for run %s with another request: %w",
						p.IdempotencyKey, prev.ID, store.ErrConflict)
				}
				out, created = prev, false
				return nil
			case !errors.Is(err, sql.ErrNoRows):
				return fmt.Errorf("create run: look up idempotency key: %w", err)
			}
		}
		_, err := s.txExec(ctx, tx, `INSERT INTO runs (`+runColumns+`, idempotency_key)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			r.ID, r.Model, r.Environment, string(r.State), r.Trigger, r.Requester, r.CommitAuthor,
			r.Config, r.BaseDir, string(cand), nullIfEmpty(r.Decision), r.Error, labels,
			ts(r.CreatedAt), ts(r.UpdatedAt), r.Version, p.RequestDigest, nullIfEmptyStr(idem))
		if isConstraint(err) {
			return fmt.Errorf("create run %s: a run with this id exists: %w", r.ID, store.ErrConflict)
		}
		if err != nil {
			return fmt.Errorf("create run %s: %w", r.ID, err)
		}
		out = r
		return nil
	})
	if err != nil {
		return store.Run{}, false, err
	}
	return out, created, nil
}

// RunGet returns one run.
func (s *Store) RunGet(ctx context.Context, id string) (store.Run, error) {
	r, _, err := scanRun(s.rrow(ctx, `SELECT `+runColumns+` FROM runs WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Run{}, fmt.Errorf("run %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.Run{}, fmt.Errorf("get run %s: %w", id, err)
	}
	return r, nil
}

// RunList returns runs newest first.
func (s *Store) RunList(ctx context.Context, p store.RunListParams) ([]store.Run, error) {
	var f filter
	f.eq("model", p.Model)
	inStates(&f, p.States)
	if !p.Before.IsZero() {
		f.add("created_at < ?", ts(p.Before))
	}
	rows, err := s.rquery(ctx, `SELECT `+runColumns+` FROM runs`+f.where()+` ORDER BY created_at DESC, rowid DESC LIMIT ?`,
		append(f.args, limitOr(p.Limit, 100))...)
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	defer rows.Close()
	out := []store.Run{}
	for rows.Next() {
		r, _, err := scanRun(rows)
		if err != nil {
			return nil, fmt.Errorf("list runs: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	return out, nil
}

// RunTransition moves a run between states as one conditional update.
func (s *Store) RunTransition(ctx context.Context, p store.RunTransitionParams) (store.Run, error) {
	return s.transition(ctx, p, nil)
}

// transition moves a run from one of p.From to p.To in one statement;
// with a lease (RunTransitionFenced) only while the lease is held, and the
// lease's fencing token is stored with the transition.
func (s *Store) transition(ctx context.Context, p store.RunTransitionParams, lease *store.Lease) (store.Run, error) {
	if p.To == "" {
		return store.Run{}, fmt.Errorf("transition run %s: target state is empty", p.ID)
	}
	from := p.FromStates()
	var out store.Run
	err := s.tx(ctx, func(tx *sql.Tx) error {
		now := s.now()
		args := []any{string(p.To), p.Error, p.Error, ts(now)}
		fence := ""
		if lease != nil {
			if err := s.held(ctx, tx, *lease, now); err != nil {
				return fmt.Errorf("transition run %s to %s: %w", p.ID, p.To, err)
			}
			fence = ", fence = ?"
			args = append(args, lease.Token)
		}
		args = append(args, p.ID)
		for _, st := range from {
			args = append(args, string(st))
		}
		row := s.txRow(ctx, tx, `UPDATE runs SET state = ?,
			error = CASE WHEN ? <> '' THEN ? ELSE error END,
			updated_at = ?, version = version + 1`+fence+`
			WHERE id = ? AND state IN (`+placeholders(len(from))+`)
			RETURNING `+runColumns, args...)
		r, _, err := scanRun(row)
		if errors.Is(err, sql.ErrNoRows) {
			var cur string
			err := s.txRow(ctx, tx, `SELECT state FROM runs WHERE id = ?`, p.ID).Scan(&cur)
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("transition run %s: %w", p.ID, store.ErrNotFound)
			}
			if err != nil {
				return fmt.Errorf("transition run %s: %w", p.ID, err)
			}
			return fmt.Errorf("transition run %s to %s: it is %s, not one of %v: %w", p.ID, p.To, cur, from, store.ErrConflict)
		}
		if err != nil {
			return fmt.Errorf("transition run %s: %w", p.ID, err)
		}
		out = r
		return nil
	})
	return out, err
}

// RunUpdate changes the fields that are set.
func (s *Store) RunUpdate(ctx context.Context, p store.RunUpdateParams) (store.Run, error) {
	sets := []string{"updated_at = ?", "version = version + 1"}
	args := []any{ts(s.now())}
	if p.Candidate != nil {
		b, err := json.Marshal(p.Candidate)
		if err != nil {
			return store.Run{}, fmt.Errorf("update run %s: encode candidate: %w", p.ID, err)
		}
		sets = append(sets, "candidate = ?")
		args = append(args, string(b))
	}
	if p.Decision != nil {
		if !json.Valid(p.Decision) {
			return store.Run{}, fmt.Errorf("update run %s: decision is not valid JSON", p.ID)
		}
		sets = append(sets, "decision = ?")
		args = append(args, string(p.Decision))
	}
	if p.Error != nil {
		sets = append(sets, "error = ?")
		args = append(args, *p.Error)
	}
	args = append(args, p.ID)
	var out store.Run
	err := s.tx(ctx, func(tx *sql.Tx) error {
		r, _, err := scanRun(s.txRow(ctx, tx, `UPDATE runs SET `+strings.Join(sets, ", ")+
			` WHERE id = ? RETURNING `+runColumns, args...))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("update run %s: %w", p.ID, store.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("update run %s: %w", p.ID, err)
		}
		out = r
		return nil
	})
	return out, err
}

// StagePut inserts or replaces a stage of a run; ErrNotFound when the run
// does not exist.
func (s *Store) StagePut(ctx context.Context, st store.Stage) error {
	return s.tx(ctx, func(tx *sql.Tx) error { return s.stagePutTx(ctx, tx, st) })
}

// stagePutTx is StagePut inside tx (StagePutFenced checks its lease first).
func (s *Store) stagePutTx(ctx context.Context, tx *sql.Tx, st store.Stage) error {
	if st.Name == "" {
		return fmt.Errorf("put stage of run %s: stage name is empty", st.RunID)
	}
	if st.Report != nil && !json.Valid(st.Report) {
		return fmt.Errorf("put stage %s of run %s: report is not valid JSON", st.Name, st.RunID)
	}
	_, err := s.txExec(ctx, tx, `INSERT INTO stages (run_id, name, state, attempt, verdict, report, error, started_at, finished_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (run_id, name) DO UPDATE SET state = excluded.state, attempt = excluded.attempt,
			verdict = excluded.verdict, report = excluded.report, error = excluded.error,
			started_at = excluded.started_at, finished_at = excluded.finished_at`,
		st.RunID, st.Name, string(st.State), st.Attempt, st.Verdict, nullIfEmpty(st.Report), st.Error,
		tsOrNull(st.StartedAt), tsOrNull(st.FinishedAt))
	if isForeignKey(err) {
		return fmt.Errorf("put stage %s: run %s: %w", st.Name, st.RunID, store.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("put stage %s of run %s: %w", st.Name, st.RunID, err)
	}
	return nil
}

// StageList returns a run's stages in the order they were first put.
func (s *Store) StageList(ctx context.Context, runID string) ([]store.Stage, error) {
	rows, err := s.rquery(ctx, `SELECT run_id, name, state, attempt, verdict, report, error, started_at, finished_at
		FROM stages WHERE run_id = ? ORDER BY rowid`, runID)
	if err != nil {
		return nil, fmt.Errorf("list stages of run %s: %w", runID, err)
	}
	defer rows.Close()
	out := []store.Stage{}
	for rows.Next() {
		var (
			st              store.Stage
			state           string
			report          sql.NullString
			started, finish sql.NullInt64
		)
		if err := rows.Scan(&st.RunID, &st.Name, &state, &st.Attempt, &st.Verdict, &report, &st.Error, &started, &finish); err != nil {
			return nil, fmt.Errorf("list stages of run %s: %w", runID, err)
		}
		st.State = store.StageState(state)
		if report.Valid {
			st.Report = json.RawMessage(report.String)
		}
		st.StartedAt, st.FinishedAt = fromTS(started), fromTS(finish)
		out = append(out, st)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list stages of run %s: %w", runID, err)
	}
	return out, nil
}

// LogAppend appends lines to a run's log, numbering them after the last.
func (s *Store) LogAppend(ctx context.Context, p store.LogAppendParams) error {
	if len(p.Lines) == 0 {
		return nil
	}
	now := ts(s.now())
	return s.tx(ctx, func(tx *sql.Tx) error {
		var last int64
		if err := s.txRow(ctx, tx, `SELECT coalesce(max(seq), 0) FROM logs WHERE run_id = ?`, p.RunID).Scan(&last); err != nil {
			return fmt.Errorf("append log of run %s: %w", p.RunID, err)
		}
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO logs (run_id, seq, stage, time, text) VALUES (?, ?, ?, ?, ?)`)
		if err != nil {
			return fmt.Errorf("append log of run %s: %w", p.RunID, err)
		}
		defer stmt.Close()
		for i, line := range p.Lines {
			_, err := stmt.ExecContext(ctx, p.RunID, last+int64(i)+1, p.Stage, now, line)
			if isForeignKey(err) {
				return fmt.Errorf("append log: run %s: %w", p.RunID, store.ErrNotFound)
			}
			if err != nil {
				return fmt.Errorf("append log of run %s: %w", p.RunID, err)
			}
		}
		return nil
	})
}

// LogList returns a run's log in order.
func (s *Store) LogList(ctx context.Context, runID string) ([]store.LogLine, error) {
	rows, err := s.rquery(ctx, `SELECT run_id, seq, stage, time, text FROM logs WHERE run_id = ? ORDER BY seq`, runID)
	if err != nil {
		return nil, fmt.Errorf("list log of run %s: %w", runID, err)
	}
	defer rows.Close()
	out := []store.LogLine{}
	for rows.Next() {
		var (
			l store.LogLine
			t int64
		)
		if err := rows.Scan(&l.RunID, &l.Seq, &l.Stage, &t, &l.Text); err != nil {
			return nil, fmt.Errorf("list log of run %s: %w", runID, err)
		}
		l.Time = fromNanos(t)
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list log of run %s: %w", runID, err)
	}
	return out, nil
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// filter collects the conditions of a list query that apply, with their
// arguments, in order.
type filter struct {
	conds []string
	args  []any
}

// eq adds "col = v" when v is set.
func (f *filter) eq(col, v string) {
	if v != "" {
		f.add(col+" = ?", v)
	}
}

func (f *filter) add(cond string, args ...any) {
	f.conds = append(f.conds, cond)
	f.args = append(f.args, args...)
}

// where is the WHERE clause, or "" when nothing applies.
func (f *filter) where() string {
	if len(f.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(f.conds, " AND ")
}

// inStates adds "state IN (...)" when states are given.
func inStates[S ~string](f *filter, states []S) {
	if len(states) == 0 {
		return
	}
	args := make([]any, len(states))
	for i, st := range states {
		args[i] = string(st)
	}
	f.add("state IN ("+placeholders(len(states))+")", args...)
}
