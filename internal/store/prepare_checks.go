package store

import (
	"encoding/json"
	"errors"
	"fmt"
)

// The checks every driver runs before it writes a document (see
// prepare.go): written once here so that the drivers refuse the same
// input with the same words.

// CheckRoutes is RouteSet's check: a model and a valid JSON table.
func CheckRoutes(model string, table json.RawMessage) error {
	if model == "" {
		return errors.New("set routes: model is required")
	}
	if !json.Valid(table) {
		return fmt.Errorf("set routes of %s: table is not valid JSON", model)
	}
	return nil
}

// CheckModelSettings is ModelSettingsSet's check: a model and a valid
// JSON document.
func CheckModelSettings(model string, doc json.RawMessage) error {
	if model == "" {
		return errors.New("set model settings: model is required")
	}
	if !json.Valid(doc) {
		return fmt.Errorf("set settings of %s: not valid JSON", model)
	}
	return nil
}

// CheckRollout is RolloutSave's check: a run id, and data that is valid
// JSON when there is any.
func CheckRollout(r Rollout) error {
	if r.RunID == "" {
		return errors.New("save rollout: run id is required")
	}
	if r.Data != nil && !json.Valid(r.Data) {
		return fmt.Errorf("save rollout of run %s: data is not valid JSON", r.RunID)
	}
	return nil
}

// FromStates is the states a transition may start from: p.From, or every
// non-terminal state when it names none.
func (p RunTransitionParams) FromStates() []RunState {
	if len(p.From) > 0 {
		return p.From
	}
	var from []RunState
	for _, st := range AllRunStates {
		if !st.Terminal() {
			from = append(from, st)
		}
	}
	return from
}
