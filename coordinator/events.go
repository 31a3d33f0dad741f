package coordinator

import (
	"sync"
	"time"

	"github.com/modelgate/modelgate/internal/store"
)

// Event is a change in a run, published to live subscribers (the API's
// server-sent events, the CLI's progress display).
type Event struct {
	RunID      string           `json:"run_id"`
	Type       string           `json:"type"` // state | stage | log
	State      store.RunState   `json:"state,omitempty"`
	Stage      string           `json:"stage,omitempty"`
	StageState store.StageState `json:"stage_state,omitempty"`
	Verdict    string           `json:"verdict,omitempty"`
	Message    string           `json:"message,omitempty"`
	Time       time.Time        `json:"time"`
}

// broker fans events out to subscribers of a run. Slow subscribers lose
// events rather than stall the run: the store stays the source of truth
// and a subscriber can always re-read it.
type broker struct {
	mu   sync.Mutex
	subs map[string]map[chan Event]struct{}
}

func newBroker() *broker { return &broker{subs: map[string]map[chan Event]struct{}{}} }

func (b *broker) subscribe(runID string) (<-chan Event, func()) {
	ch := make(chan Event, 64)
	b.mu.Lock()
	if b.subs[runID] == nil {
		b.subs[runID] = map[chan Event]struct{}{}
	}
	b.subs[runID][ch] = struct{}{}
	b.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			b.mu.Lock()
			delete(b.subs[runID], ch)
			if len(b.subs[runID]) == 0 {
				delete(b.subs, runID)
			}
			b.mu.Unlock()
		})
	}
}

func (b *broker) publish(e Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for ch := range b.subs[e.RunID] {
		select {
		case ch <- e:
		default:
		}
	}
	for ch := range b.subs["*"] {
		select {
		case ch <- e:
		default:
		}
	}
}
