package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/modelgate/modelgate/internal/store"
)

// ClaimTake takes p.Key unless a live claim holds it. The expired claim
// is dropped and the new one inserted in one transaction, so two callers
// racing for an expired key cannot both win.
func (s *Store) ClaimTake(ctx context.Context, p store.ClaimTakeParams) (bool, error) {
	if p.Key == "" {
		return false, errors.New("take claim: key is required")
	}
	var until int64
	if !p.Until.IsZero() {
		until = ts(p.Until)
	}
	took := false
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := s.txExec(ctx, tx, `DELETE FROM claims WHERE key = ? AND until != 0 AND until <= ?`, p.Key, ts(s.now())); err != nil {
			return fmt.Errorf("take claim %s: drop expired: %w", p.Key, err)
		}
		res, err := s.txExec(ctx, tx, `INSERT INTO claims (key, owner, until) VALUES (?, ?, ?) ON CONFLICT (key) DO NOTHING`, p.Key, p.Owner, until)
		if err != nil {
			return fmt.Errorf("take claim %s: %w", p.Key, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("take claim %s: %w", p.Key, err)
		}
		took = n == 1
		return nil
	})
	return took, err
}

// ModelSettingsSet replaces a model's settings document.
func (s *Store) ModelSettingsSet(ctx context.Context, model string, doc json.RawMessage) error {
	if err := store.CheckModelSettings(model, doc); err != nil {
		return err
	}
	return s.docSet(ctx, settingsDoc, model, doc)
}

// ModelSettingsGet returns a model's settings document.
func (s *Store) ModelSettingsGet(ctx context.Context, model string) (json.RawMessage, error) {
	return s.docGet(ctx, settingsDoc, model)
}

// ModelSettingsList returns every model's settings document.
func (s *Store) ModelSettingsList(ctx context.Context) (map[string]json.RawMessage, error) {
	return s.docList(ctx, settingsDoc)
}
