package redis

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/modelgate/modelgate/internal/store"
)

// WindowPut replaces a gateway's window of a model: one hash per model,
// one field per gateway.
func (s *Store) WindowPut(ctx context.Context, model, gateway string, doc json.RawMessage) error {
	if err := store.CheckWindow(model, gateway, doc); err != nil {
		return err
	}
	if err := s.c.HSet(ctx, s.key("windows", model), gateway, string(doc)).Err(); err != nil {
		return fmt.Errorf("put window of %s from gateway %s: %w", model, gateway, err)
	}
	return nil
}

// WindowList returns every gateway's window of a model.
func (s *Store) WindowList(ctx context.Context, model string) (map[string]json.RawMessage, error) {
	m, err := s.c.HGetAll(ctx, s.key("windows", model)).Result()
	if err != nil {
		return nil, fmt.Errorf("list windows of %s: %w", model, err)
	}
	out := make(map[string]json.RawMessage, len(m))
	for k, v := range m {
		out[k] = json.RawMessage(v)
	}
	return out, nil
}

// WindowDelete drops a gateway's window of a model.
func (s *Store) WindowDelete(ctx context.Context, model, gateway string) error {
	if err := s.c.HDel(ctx, s.key("windows", model), gateway).Err(); err != nil {
		return fmt.Errorf("delete window of %s from gateway %s: %w", model, gateway, err)
	}
	return nil
}
