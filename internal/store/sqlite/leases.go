package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/modelgate/modelgate/internal/store"
)

// LeaseAcquire takes or extends a lease in one write transaction: the
// single writer connection serialises racing acquirers.
func (s *Store) LeaseAcquire(ctx context.Context, p store.LeaseAcquireParams) (store.Lease, error) {
	if err := store.CheckLeaseParams(p); err != nil {
		return store.Lease{}, err
	}
	var out store.Lease
	err := s.tx(ctx, func(tx *sql.Tx) error {
		now := s.now()
		var (
			owner        string
			token, until int64
		)
		err := s.txRow(ctx, tx, `SELECT owner, token, until FROM leases WHERE key = ?`, p.Key).Scan(&owner, &token, &until)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			token = 0
		case err != nil:
			return fmt.Errorf("acquire lease %s: %w", p.Key, err)
		}
		live := until > ts(now)
		if live && owner != p.Owner {
			return fmt.Errorf("acquire lease %s: held by %s until %s: %w", p.Key, owner, fromNanos(until).Format(time.RFC3339Nano), store.ErrConflict)
		}
		if !live || owner != p.Owner {
			token++
		}
		out = store.Lease{Key: p.Key, Owner: p.Owner, Token: token, Until: now.Add(p.TTL).UTC()}
		_, err = s.txExec(ctx, tx, `INSERT INTO leases (key, owner, token, until) VALUES (?, ?, ?, ?)
			ON CONFLICT (key) DO UPDATE SET owner = excluded.owner, token = excluded.token, until = excluded.until`,
			p.Key, p.Owner, token, ts(out.Until))
		if err != nil {
			return fmt.Errorf("acquire lease %s: %w", p.Key, err)
		}
		return nil
	})
	return out, err
}

// LeaseRenew extends a lease still held with the same token.
func (s *Store) LeaseRenew(ctx context.Context, l store.Lease, ttl time.Duration) (store.Lease, error) {
	if ttl < time.Millisecond {
		return store.Lease{}, fmt.Errorf("renew lease %s: ttl must be at least 1ms", l.Key)
	}
	var out store.Lease
	err := s.tx(ctx, func(tx *sql.Tx) error {
		now := s.now()
		if err := s.held(ctx, tx, l, now); err != nil {
			return fmt.Errorf("renew lease %s: %w", l.Key, err)
		}
		out = l
		out.Until = now.Add(ttl).UTC()
		if _, err := s.txExec(ctx, tx, `UPDATE leases SET until = ? WHERE key = ?`, ts(out.Until), l.Key); err != nil {
			return fmt.Errorf("renew lease %s: %w", l.Key, err)
		}
		return nil
	})
	return out, err
}

// LeaseRelease ends a lease still held; the row stays for its token.
func (s *Store) LeaseRelease(ctx context.Context, l store.Lease) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := s.txExec(ctx, tx, `UPDATE leases SET until = 0 WHERE key = ? AND owner = ? AND token = ?`, l.Key, l.Owner, l.Token); err != nil {
			return fmt.Errorf("release lease %s: %w", l.Key, err)
		}
		return nil
	})
}

// LeaseGet returns the live lease on key.
func (s *Store) LeaseGet(ctx context.Context, key string) (store.Lease, error) {
	l := store.Lease{Key: key}
	var until int64
	err := s.rrow(ctx, `SELECT owner, token, until FROM leases WHERE key = ?`, key).Scan(&l.Owner, &l.Token, &until)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && until <= ts(s.now())) {
		return store.Lease{}, fmt.Errorf("lease %s: %w", key, store.ErrNotFound)
	}
	if err != nil {
		return store.Lease{}, fmt.Errorf("get lease %s: %w", key, err)
	}
	l.Until = fromNanos(until)
	return l, nil
}

// held is nil when l is the live lease on its key at now, ErrFenced
// otherwise.
func (s *Store) held(ctx context.Context, tx *sql.Tx, l store.Lease, now time.Time) error {
	var n int
	err := s.txRow(ctx, tx, `SELECT count(*) FROM leases WHERE key = ? AND owner = ? AND token = ? AND until > ?`,
		l.Key, l.Owner, l.Token, ts(now)).Scan(&n)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("token %d of %s: %w", l.Token, l.Owner, store.ErrFenced)
	}
	return nil
}

// RunTransitionFenced checks the lease and moves the run in one
// transaction, storing the token on the run.
func (s *Store) RunTransitionFenced(ctx context.Context, p store.RunTransitionFencedParams) (store.Run, error) {
	return s.transition(ctx, p.RunTransitionParams, &p.Lease)
}

// StagePutFenced checks the lease and puts the stage in one transaction.
func (s *Store) StagePutFenced(ctx context.Context, st store.Stage, l store.Lease) error {
	if st.Name == "" {
		return fmt.Errorf("put stage of run %s: stage name is empty", st.RunID)
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		if err := s.held(ctx, tx, l, s.now()); err != nil {
			return fmt.Errorf("put stage %s of run %s: %w", st.Name, st.RunID, err)
		}
		return s.stagePutTx(ctx, tx, st)
	})
}

// RunFence returns the token of the run's last fenced transition.
func (s *Store) RunFence(ctx context.Context, runID string) (int64, error) {
	var f int64
	err := s.rrow(ctx, `SELECT fence FROM runs WHERE id = ?`, runID).Scan(&f)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("run %s: %w", runID, store.ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("fence of run %s: %w", runID, err)
	}
	return f, nil
}
