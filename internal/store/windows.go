package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
)

// WindowStore keeps the measurement windows that gateways publish (one
// document per model and gateway instance, replaced on every publish,
// opaque to the store like route tables), so that a deployment agent
// judges a rollout on every gateway's traffic, not only its own.
type WindowStore interface {
	WindowPut(ctx context.Context, model, gateway string, doc json.RawMessage) error
	WindowList(ctx context.Context, model string) (map[string]json.RawMessage, error) // by gateway; empty when none
	WindowDelete(ctx context.Context, model, gateway string) error                    // no error when absent
}

// CheckWindow is what WindowPut checks before either driver writes.
func CheckWindow(model, gateway string, doc json.RawMessage) error {
	if model == "" || gateway == "" {
		return errors.New("put window: model and gateway are required")
	}
	if !json.Valid(doc) {
		return fmt.Errorf("put window of %s from gateway %s: not valid JSON", model, gateway)
	}
	return nil
}
