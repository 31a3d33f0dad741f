// Package audittest is an in-memory audit.Recorder for the tests of the
// layers that write audit events.
//
// It keeps each event's data as the JSON a real trail would store, so a
// test asserts on what an auditor would read, and it refuses data that is
// not serialisable, as the trail does.
package audittest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
)

// Event is one recorded audit event, its data decoded from JSON.
type Event struct {
	Type, RunID, Actor string
	Data               map[string]any
}

// Recorder records events in memory; safe for concurrent use.
type Recorder struct {
	mu     sync.Mutex
	events []Event
}

// Record keeps the event.
func (r *Recorder) Record(_ context.Context, typ, runID, actor string, data any) error {
	raw, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("audit event %s: %w", typ, err)
	}
	var m map[string]any
	_ = json.Unmarshal(raw, &m) // data that is not an object keeps Data nil
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, Event{typ, runID, actor, m})
	return nil
}

// Types lists the recorded event types in order.
func (r *Recorder) Types() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, len(r.events))
	for i, e := range r.events {
		out[i] = e.Type
	}
	return out
}

// OfType returns the events of one type, in order.
func (r *Recorder) OfType(typ string) []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Event
	for _, e := range r.events {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// Has reports whether an event of the type was recorded.
func (r *Recorder) Has(typ string) bool { return slices.Contains(r.Types(), typ) }
