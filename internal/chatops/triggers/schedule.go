package triggers

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/charmbracelet/log"

	"github.com/modelgate/modelgate/internal/audit"
	"github.com/modelgate/modelgate/internal/store"
)

// Audit event types of the scheduler.
const (
	EventScheduleStarted = "schedule.started" // a tick started a retraining run
	EventScheduleSkipped = "schedule.skipped" // a tick missed during downtime, skipped by policy
	EventScheduleFailed  = "schedule.failed"  // a tick claimed whose run could not start
)

// DefaultMaxLateness is how old a missed tick may be and still start a
// run under the run_once policy.
const DefaultMaxLateness = 24 * time.Hour

// maxTickScan bounds the ticks walked to find the latest one in the
// lateness window (an @every 1m schedule over 24 h is 1,440).
const maxTickScan = 100000

// SchedulerOptions configures a Scheduler.
type SchedulerOptions struct {
	Store    store.Store
	Starter  *Starter
	Recorder audit.Recorder
	Logger   *log.Logger
	// Now is the clock; tests drive the scheduler with their own.
	Now func() time.Time
	// Leader says whether this process runs the schedules (one leader
	// among replicas); nil = always. The claim of each tick in the store
	// still keeps two processes from starting the same tick.
	Leader func() bool
	// Every is how often Run looks at the schedules; default 15 s.
	Every time.Duration
	// Grace is how late a tick may be seen and still count as on time
	// rather than missed; default 2 × Every.
	Grace time.Duration
}

// Scheduler starts the retraining runs of the models' cron schedules.
//
// Every pass it reads every model's settings and takes, for each
// schedule, the latest tick at or before now (and after the settings were
// last changed, so that registering a schedule does not fire a past
// tick). A tick seen within Grace is on time. An older one was missed
// while no scheduler ran: under run_once (the default) it still starts
// one run if it is younger than max_lateness, and every earlier missed
// tick is dropped; under skip it starts nothing and is audited as
// skipped. Either way the tick is claimed in the store first
// ("schedule:MODEL:TICK"), so a restart, a second replica or a second
// pass never starts it twice; a crash between the claim and the start
// loses that one tick rather than risking two runs.
type Scheduler struct {
	o    SchedulerOptions
	mu   sync.Mutex
	seen map[string]time.Time // model → latest tick handled, to walk less
}

// NewScheduler builds a scheduler; Run or Tick drives it.
func NewScheduler(o SchedulerOptions) (*Scheduler, error) {
	if o.Store == nil || o.Starter == nil {
		return nil, errors.New("scheduler: store and starter are required")
	}
	if o.Logger == nil {
		o.Logger = log.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Leader == nil {
		o.Leader = func() bool { return true }
	}
	if o.Every <= 0 {
		o.Every = 15 * time.Second
	}
	if o.Grace <= 0 {
		o.Grace = 2 * o.Every
	}
	return &Scheduler{o: o, seen: map[string]time.Time{}}, nil
}

// TickOutcome is what one pass did for one model.
type TickOutcome struct {
	Model  string    `json:"model"`
	Tick   time.Time `json:"tick"`
	Late   bool      `json:"late"`
	Action string    `json:"action"` // started | skipped | failed
	RunID  string    `json:"run_id,omitempty"`
	Error  string    `json:"error,omitempty"`
}

// Run passes over the schedules every Every until ctx ends.
func (s *Scheduler) Run(ctx context.Context) {
	Loop(ctx, s.o.Every, s.o.Logger, "schedules", func(ctx context.Context) error { _, err := s.Tick(ctx); return err })
}

// Tick makes one pass at the clock's now and returns what it started or
// skipped; a process that is not the leader does nothing.
func (s *Scheduler) Tick(ctx context.Context) ([]TickOutcome, error) {
	if !s.o.Leader() {
		return nil, nil
	}
	now := s.o.Now()
	all, loadErr := LoadAll(ctx, s.o.Store)
	if all == nil && loadErr != nil {
		return nil, fmt.Errorf("load settings: %w", loadErr)
	}
	models := make([]string, 0, len(all))
	for m, set := range all {
		if set.Schedule != nil && set.Pipeline != nil {
			models = append(models, m)
		}
	}
	sort.Strings(models)
	var out []TickOutcome
	var errs []error
	for _, m := range models {
		o, err := s.tickModel(ctx, all[m], now)
		if err != nil {
			errs = append(errs, fmt.Errorf("schedule of %s: %w", m, err))
		}
		if o != nil {
			out = append(out, *o)
		}
	}
	return out, errors.Join(append(errs, loadErr)...)
}

func (s *Scheduler) tickModel(ctx context.Context, set Settings, now time.Time) (*TickOutcome, error) {
	sch := set.Schedule
	cr, err := ParseCron(sch.Cron)
	if err != nil {
		return nil, err
	}
	lateness := sch.MaxLateness.Duration
	if lateness <= 0 {
		lateness = DefaultMaxLateness
	}
	from := now.Add(-lateness)
	if set.UpdatedAt.After(from) {
		from = set.UpdatedAt
	}
	s.mu.Lock()
	if seen := s.seen[set.Model]; seen.After(from) {
		from = seen
	}
	s.mu.Unlock()
	var tick time.Time
	for t, n := cr.Next(from), 0; !t.IsZero() && !t.After(now) && n < maxTickScan; t, n = cr.Next(t), n+1 {
		tick = t
	}
	if tick.IsZero() {
		return nil, nil
	}
	late := now.Sub(tick) > s.o.Grace
	skip := late && sch.Missed == MissedSkip
	stamp := tick.UTC().Format(time.RFC3339)
	owner := "start"
	if skip {
		owner = "skip"
	}
	took, err := s.o.Store.ClaimTake(ctx, store.ClaimTakeParams{
		Key: "schedule:" + set.Model + ":" + stamp, Owner: owner, Until: tick.Add(lateness + time.Hour)})
	if err != nil {
		return nil, fmt.Errorf("claim tick %s: %w", stamp, err)
	}
	s.mu.Lock()
	s.seen[set.Model] = tick
	s.mu.Unlock()
	if !took {
		return nil, nil // this tick was handled before: by us, a previous process, or another replica
	}
	o := &TickOutcome{Model: set.Model, Tick: tick, Late: late}
	data := map[string]any{"model": set.Model, "tick": stamp, "cron": sch.Cron, "late": late, "missed_policy": missedPolicy(sch)}
	if skip {
		o.Action = "skipped"
		s.record(ctx, EventScheduleSkipped, "", data)
		return o, nil
	}
	p := StartParams{Model: set.Model, Kind: KindRetrain, Trigger: "schedule", Requester: "schedule",
		Labels:         map[string]string{"schedule.tick": stamp, "schedule.cron": sch.Cron, "schedule.late": fmt.Sprint(late)},
		IdempotencyKey: "schedule:" + set.Model + ":" + stamp}
	plan, err := s.o.Starter.Plan(ctx, p)
	var run store.Run
	if err == nil {
		run, _, err = s.o.Starter.Start(ctx, p, plan)
	}
	if err != nil {
		o.Action, o.Error = "failed", err.Error()
		data["why"] = err.Error()
		s.record(ctx, EventScheduleFailed, "", data)
		return o, err
	}
	o.Action, o.RunID = "started", run.ID
	s.o.Logger.Info("scheduled retraining started", "model", set.Model, "tick", stamp, "late", late, "run", run.ID)
	s.record(ctx, EventScheduleStarted, run.ID, data)
	return o, nil
}

func missedPolicy(s *Schedule) string {
	if s.Missed == "" {
		return MissedRunOnce
	}
	return s.Missed
}

func (s *Scheduler) record(ctx context.Context, typ, runID string, data map[string]any) {
	if s.o.Recorder == nil {
		return
	}
	if err := s.o.Recorder.Record(context.WithoutCancel(ctx), typ, runID, "schedule", data); err != nil {
		s.o.Logger.Error("audit record failed", "type", typ, "err", err)
	}
}
