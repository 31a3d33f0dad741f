package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	goredis "github.com/redis/go-redis/v9"

	"github.com/modelgate/modelgate/internal/store"
)

// ClaimTake takes p.Key with SET NX: Redis itself drops an expired claim,
// so the first SET after the expiry wins and every other one fails.
func (s *Store) ClaimTake(ctx context.Context, p store.ClaimTakeParams) (bool, error) {
	if p.Key == "" {
		return false, errors.New("take claim: key is required")
	}
	args := goredis.SetArgs{Mode: "NX"}
	if !p.Until.IsZero() {
		if !p.Until.After(s.now()) {
			// An already-expired claim would be refused by Redis (PXAT in
			// the past); taking it and letting it lapse at once is the
			// same outcome as sqlite's.
			return true, nil
		}
		args.ExpireAt = p.Until
	}
	owner := p.Owner
	if owner == "" {
		owner = "-"
	}
	_, err := s.c.SetArgs(ctx, s.key("claim", p.Key), owner, args).Result()
	if errors.Is(err, goredis.Nil) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("take claim %s: %w", p.Key, err)
	}
	return true, nil
}

// ModelSettingsSet replaces a model's settings document.
func (s *Store) ModelSettingsSet(ctx context.Context, model string, doc json.RawMessage) error {
	if err := store.CheckModelSettings(model, doc); err != nil {
		return err
	}
	if err := s.c.HSet(ctx, s.key("model_settings"), model, string(doc)).Err(); err != nil {
		return fmt.Errorf("set settings of %s: %w", model, err)
	}
	return nil
}

// ModelSettingsGet returns a model's settings document.
func (s *Store) ModelSettingsGet(ctx context.Context, model string) (json.RawMessage, error) {
	d, err := s.c.HGet(ctx, s.key("model_settings"), model).Result()
	if err != nil {
		return nil, mapErr(err, "settings of "+model)
	}
	return json.RawMessage(d), nil
}

// ModelSettingsList returns every model's settings document.
func (s *Store) ModelSettingsList(ctx context.Context) (map[string]json.RawMessage, error) {
	m, err := s.c.HGetAll(ctx, s.key("model_settings")).Result()
	if err != nil {
		return nil, fmt.Errorf("list model settings: %w", err)
	}
	out := make(map[string]json.RawMessage, len(m))
	for k, v := range m {
		out[k] = json.RawMessage(v)
	}
	return out, nil
}
