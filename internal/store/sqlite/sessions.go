package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/modelgate/modelgate/internal/store"
)

// SessionEnd records that a session is over until its expiry; the records
// of sessions past their expiry are dropped on the way, since their cookie
// is refused anyway.
func (s *Store) SessionEnd(ctx context.Context, id string, until time.Time) error {
	if id == "" {
		return errors.New("end session: id is required")
	}
	// A zero or past expiry must still end the session now (the cookie may
	// be checked against a slightly different clock): keep it a minute.
	now := s.now()
	if min := now.Add(time.Minute); until.Before(min) {
		until = min
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := s.txExec(ctx, tx, `DELETE FROM sessions_ended WHERE until < ?`, ts(now)); err != nil {
			return fmt.Errorf("end session: drop expired: %w", err)
		}
		if _, err := s.txExec(ctx, tx, `INSERT INTO sessions_ended (id, until) VALUES (?, ?)
			ON CONFLICT (id) DO UPDATE SET until = max(until, excluded.until)`, id, ts(until)); err != nil {
			return fmt.Errorf("end session: %w", err)
		}
		return nil
	})
}

// SessionState reads whether id was ended and the current epoch in one
// query: it runs on every request of the reviewers' page.
func (s *Store) SessionState(ctx context.Context, id string) (store.SessionState, error) {
	var st store.SessionState
	err := s.rrow(ctx, `SELECT
		EXISTS (SELECT 1 FROM sessions_ended WHERE id = ?),
		COALESCE((SELECT epoch FROM session_epoch WHERE one = 1), 0)`, id).Scan(&st.Ended, &st.Epoch)
	if err != nil {
		return store.SessionState{}, fmt.Errorf("read session state: %w", err)
	}
	return st, nil
}

// SessionEpochBump ends every session issued so far.
func (s *Store) SessionEpochBump(ctx context.Context) (int64, error) {
	var epoch int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		return s.txRow(ctx, tx, `INSERT INTO session_epoch (one, epoch) VALUES (1, 1)
			ON CONFLICT (one) DO UPDATE SET epoch = epoch + 1 RETURNING epoch`).Scan(&epoch)
	})
	if err != nil {
		return 0, fmt.Errorf("bump session epoch: %w", err)
	}
	return epoch, nil
}
