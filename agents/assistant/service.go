package assistant

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/charmbracelet/log"

	"github.com/modelgate/modelgate/agents"
	"github.com/modelgate/modelgate/agents/deployment"
	"github.com/modelgate/modelgate/internal/llm"
	"github.com/modelgate/modelgate/internal/store"
)

// Options configures the assistant.
type Options struct {
	Store  store.Store
	LLM    *llm.Client // nil: templates only
	Logger *log.Logger
	Now    func() time.Time
	// Deadline bounds one run's assistance in Watch; default 3 minutes.
	// Past it, what was not written shows in its template form.
	Deadline time.Duration
}

// Service writes and stores a run's brief and triage.
type Service struct {
	o   Options
	log *log.Logger
}

// New builds the assistant.
func New(o Options) *Service {
	if o.Logger == nil {
		o.Logger = log.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Deadline <= 0 {
		o.Deadline = 3 * time.Minute
	}
	return &Service{o: o, log: o.Logger.WithPrefix("assistant")}
}

// LLM returns the client (nil without an LLM).
func (s *Service) LLM() *llm.Client { return s.o.LLM }

// Wants reports whether a run in this state gets assistance: a brief for
// reviewers, and a triage once it failed or rolled back.
func Wants(st store.RunState) bool {
	return st == store.RunAwaitingApproval || st == store.RunFailed || st == store.RunRolledBack
}

func needsTriage(st store.RunState) bool { return st == store.RunFailed || st == store.RunRolledBack }

// Load reads what Gather needs from the store.
func Load(ctx context.Context, st store.Store, run store.Run) (Input, []store.Stage, error) {
	stages, err := st.StageList(ctx, run.ID)
	if err != nil {
		return Input{}, nil, fmt.Errorf("stages of run %s: %w", run.ID, err)
	}
	in := Input{Run: run, Stages: WithoutRecord(stages)}
	as, err := st.ApprovalList(ctx, store.ApprovalListParams{RunID: run.ID, Limit: 1})
	if err != nil {
		return Input{}, nil, fmt.Errorf("approvals of run %s: %w", run.ID, err)
	}
	if len(as) > 0 {
		in.Approval = &as[0]
	}
	rec, err := st.RolloutGet(ctx, run.ID)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return Input{}, nil, fmt.Errorf("rollout of run %s: %w", run.ID, err)
	default:
		var ds deployment.State
		if json.Unmarshal(rec.Data, &ds) == nil {
			in.Rollout = &ds
		}
	}
	return in, stages, nil
}

// View is what a run's report and its approval show: the stored brief and
// triage when the assistant wrote them, else the template forms computed
// now from the same evidence. It never calls an LLM, so reading a run is
// never slow or costly.
func View(ctx context.Context, st store.Store, run store.Run) (*Brief, *Triage, *llm.Usage, error) {
	in, stages, err := Load(ctx, st, run)
	if err != nil {
		return nil, nil, nil, err
	}
	rec, err := RecordOf(stages)
	if err != nil {
		return nil, nil, nil, err
	}
	b := Gather(in)
	var brief *Brief
	var tri *Triage
	var usage *llm.Usage
	if rec != nil {
		brief, tri, usage = rec.Brief, rec.Triage, &rec.Usage
	}
	if brief == nil {
		t := TemplateBrief(&b)
		brief = &t
	}
	if tri == nil && needsTriage(run.State) {
		t := RuleTriage(&b)
		tri = &t
	}
	return brief, tri, usage, nil
}

// Assist writes the run's brief (once) and, for a failed or rolled-back
// run, its triage (once), and stores them as the run's assist record.
// LLM failures never fail it: they give the template forms, with reasons.
func (s *Service) Assist(ctx context.Context, runID string) (Record, error) {
	run, err := s.o.Store.RunGet(ctx, runID)
	if err != nil {
		return Record{}, fmt.Errorf("load run %s: %w", runID, err)
	}
	in, stages, err := Load(ctx, s.o.Store, run)
	if err != nil {
		return Record{}, err
	}
	prev, err := RecordOf(stages)
	if err != nil {
		return Record{}, err
	}
	rec := Record{State: run.State}
	if prev != nil {
		rec = *prev
		rec.State = run.State
	}
	led := s.o.LLM.NewLedger(rec.Usage)
	b := Gather(in)
	if rec.Brief == nil || (rec.Brief.Source == SourceTemplate && run.State == store.RunAwaitingApproval && s.o.LLM != nil && rec.Brief.RejectedReason == "") {
		br := LLMBrief(ctx, s.o.LLM, led, &b)
		rec.Brief = &br
	}
	if needsTriage(run.State) && rec.Triage == nil {
		env := &Env{Bundle: &b, Reports: reportsOf(in.Stages), Rollout: in.Rollout, Earlier: s.earlier(run)}
		tr := LLMTriage(ctx, s.o.LLM, led, env)
		rec.Triage = &tr
	}
	if s.o.LLM != nil {
		rec.Usage = led.Usage()
	}
	rec.GeneratedAt = s.o.Now().UTC()
	raw, err := json.Marshal(rec)
	if err != nil {
		return Record{}, fmt.Errorf("encode assistant record: %w", err)
	}
	now := s.o.Now().UTC()
	if err := s.o.Store.StagePut(context.WithoutCancel(ctx), store.Stage{RunID: run.ID, Name: StageName, State: store.StageSucceeded, Attempt: 1,
		Report: raw, StartedAt: now, FinishedAt: now}); err != nil {
		return Record{}, fmt.Errorf("store assistant record of run %s: %w", run.ID, err)
	}
	s.log.Info("assisted", "run", run.ID, "state", run.State, "brief", rec.Brief.Source, "tokens", rec.Usage.Total())
	return rec, nil
}

func reportsOf(stages []store.Stage) map[string]agents.Report {
	out := map[string]agents.Report{}
	for _, s := range stages {
		if r, err := s.AgentReport(); s.State == store.StageSucceeded && s.Name != "decide" && err == nil {
			out[s.Name] = r
		}
	}
	return out
}

// earlier finds a run of the same model to compare with: the one named,
// or the newest one created before this run. Other models' runs are out of
// reach, since a reader of this run may not be allowed to read them.
func (s *Service) earlier(run store.Run) func(ctx context.Context, id string) (*Bundle, error) {
	return func(ctx context.Context, id string) (*Bundle, error) {
		var other store.Run
		if id != "" {
			r, err := s.o.Store.RunGet(ctx, id)
			if errors.Is(err, store.ErrNotFound) || (err == nil && r.Model != run.Model) {
				return nil, fmt.Errorf("no run %q of model %s", Label(id), Label(run.Model))
			}
			if err != nil {
				return nil, err
			}
			other = r
		} else {
			rs, err := s.o.Store.RunList(ctx, store.RunListParams{Model: run.Model, Before: run.CreatedAt, Limit: 5})
			if err != nil {
				return nil, err
			}
			for _, r := range rs {
				if r.ID != run.ID {
					other = r
					break
				}
			}
			if other.ID == "" {
				return nil, nil
			}
		}
		in, _, err := Load(ctx, s.o.Store, other)
		if err != nil {
			return nil, err
		}
		b := Gather(in)
		return &b, nil
	}
}

// Watch assists each run named on runs, one at a time, until ctx ends or
// runs closes: one at a time bounds what the LLM endpoint sees from this
// process.
func (s *Service) Watch(ctx context.Context, runs <-chan string) {
	for {
		select {
		case <-ctx.Done():
			return
		case id, ok := <-runs:
			if !ok {
				return
			}
			// Bounded as a whole: retries and tool rounds each have their own
			// limits, but one run must not hold the queue for long.
			actx, cancel := context.WithTimeout(ctx, s.o.Deadline)
			_, err := s.Assist(actx, id)
			cancel()
			if err != nil && ctx.Err() == nil {
				s.log.Error("assist failed; the run shows the template brief", "run", id, "err", err)
			}
		}
	}
}
