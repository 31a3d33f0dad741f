package sqlite

import (
	"context"
	"database/sql"
	"sync"
)

// stmtCache keeps prepared statements by query text. Parsing SQL is a
// quarter of the coordinator's CPU when every call prepares afresh;
// database/sql re-prepares a cached *sql.Stmt on whichever connection
// runs it, so one cache per pool serves all its connections.
type stmtCache struct {
	db      *sql.DB
	mu      sync.Mutex
	m       map[string]*sql.Stmt
	pending map[string]struct{} // seen inside a transaction, prepared after it
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, m: map[string]*sql.Stmt{}, pending: map[string]struct{}{}}
}

// cached returns a prepared statement without preparing one.
func (c *stmtCache) cached(q string) (*sql.Stmt, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st, ok := c.m[q]
	if !ok && len(c.m)+len(c.pending) < maxCached {
		c.pending[q] = struct{}{}
	}
	return st, ok
}

// preparePending prepares the statements first seen inside a write
// transaction. It must run with the writer's one connection free: inside
// the transaction, preparing would wait for that connection forever.
func (c *stmtCache) preparePending(ctx context.Context) {
	c.mu.Lock()
	qs := make([]string, 0, len(c.pending))
	for q := range c.pending {
		qs = append(qs, q)
	}
	clear(c.pending)
	c.mu.Unlock()
	for _, q := range qs {
		_, _ = c.get(ctx, q) // a failure just leaves it unprepared
	}
}

// maxCached bounds the cache; queries built with a variable number of
// placeholders could otherwise grow it without limit.
const maxCached = 256

func (c *stmtCache) get(ctx context.Context, q string) (*sql.Stmt, error) {
	c.mu.Lock()
	st, ok := c.m[q]
	c.mu.Unlock()
	if ok {
		return st, nil
	}
	st, err := c.db.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if prev, ok := c.m[q]; ok {
		_ = st.Close()
		return prev, nil
	}
	if len(c.m) >= maxCached {
		return st, nil // used once by the caller, then collected
	}
	c.m[q] = st
	return st, nil
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.m {
		_ = st.Close()
	}
	c.m = map[string]*sql.Stmt{}
}

// rrow is s.r.QueryRowContext through the statement cache.
func (s *Store) rrow(ctx context.Context, q string, args ...any) *sql.Row {
	st, err := s.rc.get(ctx, q)
	if err != nil {
		return s.r.QueryRowContext(ctx, q, args...) // surfaces the same error through Scan
	}
	return st.QueryRowContext(ctx, args...)
}

// rquery is s.r.QueryContext through the statement cache.
func (s *Store) rquery(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	st, err := s.rc.get(ctx, q)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

// txExec is tx.ExecContext through the writer's statement cache.
func (s *Store) txExec(ctx context.Context, tx *sql.Tx, q string, args ...any) (sql.Result, error) {
	if st, ok := s.wc.cached(q); ok {
		return tx.StmtContext(ctx, st).ExecContext(ctx, args...)
	}
	return tx.ExecContext(ctx, q, args...)
}

// txRow is tx.QueryRowContext through the writer's statement cache.
func (s *Store) txRow(ctx context.Context, tx *sql.Tx, q string, args ...any) *sql.Row {
	if st, ok := s.wc.cached(q); ok {
		return tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
	}
	return tx.QueryRowContext(ctx, q, args...)
}
