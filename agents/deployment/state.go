package deployment

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/modelgate/modelgate/internal/release"
	"github.com/modelgate/modelgate/internal/store"
	"github.com/modelgate/modelgate/tools/gateway"
)

// Rollout phases, in order. See doc.go for the diagram.
const (
	PhasePending     = "pending"      // nothing done yet
	PhaseSmoke       = "smoke"        // candidate answering? (preview route)
	PhaseShadow      = "shadow"       // mirrored traffic, answers compared
	PhaseCanary      = "canary"       // weighted traffic, analysed per step
	PhaseSwitch      = "bluegreen"    // all traffic on green, blue kept for the rollback window
	PhasePromoting   = "promoting"    // routes, registry, production, audit
	PhasePromoted    = "promoted"     // terminal: the candidate is production
	PhaseRollingBack = "rolling_back" // routes back to stable, audit
	PhaseRolledBack  = "rolled_back"  // terminal: stable serves, production unchanged
)

// Terminal reports whether a rollout in this phase is finished.
func Terminal(phase string) bool { return phase == PhasePromoted || phase == PhaseRolledBack }

// Backend is one version the rollout routes to.
type Backend struct {
	Version  string `json:"version"`
	URL      string `json:"url"`
	Name     string `json:"name,omitempty"`     // model name at the server
	Local    bool   `json:"local,omitempty"`    // served by a process this agent starts
	Artifact string `json:"artifact,omitempty"` // model file, for local backends
	Endpoint string `json:"endpoint,omitempty"` // external URL to record in the registry
	Digest   string `json:"digest,omitempty"`
	// Prompt is a task: llm version's prompt, applied by the gateway (llm.go).
	Prompt *gateway.PromptSpec `json:"prompt,omitempty"`
}

// Request is a manual control a person asked for.
type Request struct {
	Actor  string    `json:"actor"`
	Reason string    `json:"reason,omitempty"`
	At     time.Time `json:"at"`
}

// StepResult is one analysis in the rollout's history.
type StepResult struct {
	Phase    string                 `json:"phase"`
	Step     int                    `json:"step"` // 1-based canary step; 0 outside canary
	Weight   int                    `json:"weight"`
	At       time.Time              `json:"at"`
	Analysis Analysis               `json:"analysis"`
	Shadow   *gateway.ShadowSummary `json:"shadow,omitempty"`
}

// State is a rollout's stored state: everything the loop needs to
// continue after a restart. Done names the side effects already applied,
// so that a resumed rollout never repeats one.
type State struct {
	RunID        string          `json:"run_id"`
	Model        string          `json:"model"`
	Environment  string          `json:"environment"`
	Strategy     string          `json:"strategy"`
	Phase        string          `json:"phase"`
	Stable       *Backend        `json:"stable,omitempty"` // nil: first version of the model
	Candidate    Backend         `json:"candidate"`
	Step         int             `json:"step"` // index into canary steps
	Weight       int             `json:"weight"`
	WindowStart  time.Time       `json:"window_start,omitzero"`
	SwitchedAt   time.Time       `json:"switched_at,omitzero"` // blue-green: when green took all traffic
	Mark         gateway.Mark    `json:"mark"`
	FailedChecks int             `json:"failed_checks"`
	Inconclusive int             `json:"inconclusive"`
	History      []StepResult    `json:"history"`
	Smoke        *SmokeResult    `json:"smoke,omitempty"`
	Upstream     *UpstreamCheck  `json:"upstream,omitempty"` // what a candidate upstream said it serves
	Paused       *Request        `json:"paused,omitempty"`
	Promote      *Request        `json:"promote,omitempty"`
	Abort        *Request        `json:"abort,omitempty"`
	Reason       string          `json:"reason,omitempty"`   // why it rolled back
	Evidence     map[string]any  `json:"evidence,omitempty"` // measurements behind the rollback
	Done         map[string]bool `json:"done"`
	StartedAt    time.Time       `json:"started_at"`
	FinishedAt   time.Time       `json:"finished_at,omitzero"`
}

const maxHistory = 200

func (s *State) addHistory(r StepResult) {
	s.History = append(s.History, r)
	if len(s.History) > maxHistory {
		s.History = s.History[len(s.History)-maxHistory:]
	}
}

// loaded is a state with the stored record it came from (for the CAS).
type loaded struct {
	rec   store.Rollout
	state State
}

func (a *Agent) load(ctx context.Context, runID string) (loaded, error) {
	rec, err := a.opts.Store.RolloutGet(ctx, runID)
	if err != nil {
		return loaded{}, err
	}
	var st State
	if err := json.Unmarshal(rec.Data, &st); err != nil {
		return loaded{}, fmt.Errorf("decode rollout state of run %s: %w", runID, err)
	}
	if st.Done == nil {
		st.Done = map[string]bool{}
	}
	return loaded{rec: rec, state: st}, nil
}

// save writes the state if nobody else wrote since it was read; a
// conflict means a manual control (or another coordinator) got there
// first, and the caller re-reads on the next tick.
func (a *Agent) save(ctx context.Context, l *loaded) error {
	raw, err := json.Marshal(l.state)
	if err != nil {
		return fmt.Errorf("encode rollout state: %w", err)
	}
	rec := l.rec
	rec.RunID, rec.Model, rec.Data, rec.UpdatedAt = l.state.RunID, l.state.Model, raw, a.clock.Now().UTC()
	saved, err := a.opts.Store.RolloutSave(ctx, rec)
	if err != nil {
		return fmt.Errorf("save rollout state of run %s: %w", l.state.RunID, err)
	}
	l.rec = saved
	return nil
}

// update applies fn to the stored state with compare-and-swap retries:
// how manual controls reach a rollout that another goroutine or process
// is driving.
func (a *Agent) update(ctx context.Context, runID string, fn func(*State) error) (State, error) {
	for attempt := 0; attempt < 20; attempt++ {
		l, err := a.load(ctx, runID)
		if errors.Is(err, store.ErrNotFound) {
			return State{}, fmt.Errorf("run %s: %w", runID, ErrNoRollout)
		}
		if err != nil {
			return State{}, err
		}
		if err := fn(&l.state); err != nil {
			return l.state, err
		}
		err = a.save(ctx, &l)
		if errors.Is(err, store.ErrConflict) {
			continue
		}
		return l.state, err
	}
	return State{}, fmt.Errorf("run %s: rollout state kept changing; try again", runID)
}

// Errors callers branch on. Each wraps the store sentinel of its kind, so
// that callers mapping store errors (the HTTP API: 404, 409) need no
// special case for the deployment agent.
var (
	ErrNoRollout  = fmt.Errorf("no rollout for this run: %w", store.ErrNotFound)
	ErrFinished   = fmt.Errorf("the rollout has already finished: %w", store.ErrConflict)
	ErrNoPrevious = release.ErrNoPrevious
)
