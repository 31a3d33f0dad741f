package coordinator

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"sync"
	"time"

	"github.com/charmbracelet/log"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/modelgate/modelgate/agents"
	"github.com/modelgate/modelgate/agents/training"
	"github.com/modelgate/modelgate/internal/audit"
	"github.com/modelgate/modelgate/internal/blob"
	"github.com/modelgate/modelgate/internal/config"
	"github.com/modelgate/modelgate/internal/lease"
	"github.com/modelgate/modelgate/internal/oversight"
	"github.com/modelgate/modelgate/internal/store"
	"github.com/modelgate/modelgate/tools/redact"
)

// ApprovalRequester opens an approval request for a run whose decision
// requires one; the oversight queue implements it.
type ApprovalRequester func(ctx context.Context, run store.Run, d oversight.Decision) (store.Approval, error)

// Stage names.
const (
	StageValidate = "validate"
	StageTrain    = "train"
	StageTest     = "test"
	StageScan     = "scan"
	StageEvaluate = "evaluate"
	StageDecide   = "decide"
	StageDeploy   = "deploy"
	// StageAssist is not run by the coordinator: the assistant stores its
	// output under this name (agents/assistant.StageName).
	StageAssist = "assist"
)

// ParallelStages run side by side once the candidate exists.
var ParallelStages = []string{StageTest, StageScan, StageEvaluate}

// Options configures a Coordinator.
type Options struct {
	Store    store.Store
	Recorder audit.Recorder
	// Agents by stage: validate, test, scan, evaluate, deploy. A stage
	// without an agent is recorded as skipped.
	Agents          map[string]agents.Agent
	Decider         oversight.Decider
	RequestApproval ApprovalRequester
	// Abort is called when a deploying run is cancelled, so the rollout
	// can restore stable traffic before the run ends.
	Abort func(ctx context.Context, runID, actor, reason string) error
	// Blobs takes candidates in when a run records them (snapshot.go);
	// nil judges them where they are.
	Blobs   *blob.FS
	Workers int    // runs processed at once; default 8
	DataDir string // per-run folders go under DataDir/runs/<id>
	Logger  *log.Logger
	// Registerer receives the coordinator's Prometheus metrics; nil = none.
	Registerer prometheus.Registerer
	Now        func() time.Time
	// Ownership (ownership.go): runs are driven under a lease so that
	// several servers on one store never drive the same run.
	Ownership OwnershipOptions
}

// Coordinator runs pipelines. It is safe for concurrent use.
type Coordinator struct {
	o       Options
	log     *log.Logger
	events  *broker
	metrics *metrics

	queue chan string
	mu    sync.Mutex
	// active holds runs being processed here, so a run is never driven by
	// two goroutines at once, and their cancel functions.
	active  map[string]context.CancelFunc
	pending map[string]bool          // woken while active: process again after
	deploys map[string]chan struct{} // per model+environment deploy locks
	holds   map[string]*lease.Hold   // run leases held here, by run id
	wg      sync.WaitGroup
	started bool
	ctx     context.Context
	stop    context.CancelFunc
}

// New checks options and builds a Coordinator; Start begins work.
func New(o Options) (*Coordinator, error) {
	if o.Store == nil {
		return nil, errors.New("coordinator: a store is required")
	}
	if o.Workers <= 0 {
		o.Workers = 8
	}
	if o.Logger == nil {
		o.Logger = log.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.DataDir == "" {
		o.DataDir = "modelgate-data"
	}
	o.Ownership = o.Ownership.withDefaults(o.DataDir)
	o.Agents = maps.Clone(o.Agents)
	if o.Agents == nil {
		o.Agents = map[string]agents.Agent{}
	}
	if o.Agents[StageTrain] == nil {
		// A train section always means training: it is never skipped for want of an agent.
		o.Agents[StageTrain] = training.New(training.Options{Logs: o.Store})
	}
	m, err := newMetrics(o.Registerer)
	if err != nil {
		return nil, err
	}
	return &Coordinator{
		o: o, log: o.Logger, events: newBroker(), metrics: m,
		queue:   make(chan string, 1<<16),
		active:  map[string]context.CancelFunc{},
		pending: map[string]bool{},
		holds:   map[string]*lease.Hold{},
	}, nil
}

// SubmitParams asks for a run.
type SubmitParams struct {
	Config         []byte // modelgate.yaml as written
	File           string // its name, for error messages
	BaseDir        string // folder relative paths resolve against
	Trigger        string // api | cli | slack | github | schedule | drift
	Requester      string
	CommitAuthor   string
	Labels         map[string]string
	IdempotencyKey string
	// InputsDigest names uploaded inputs (BaseDir is then a folder the
	// server chose, different on every request, so it is left out of the
	// idempotency comparison).
	InputsDigest string
	// Parsed is Config as the caller already parsed it (the API parses a
	// submitted config once, to authorise it); Submit parses Config only
	// when it is nil.
	Parsed *config.Pipeline
	// Evidence are stages of an earlier run taken as done in this one
	// (Repromote): stored before the run is first scheduled, so they are
	// never run again.
	Evidence []store.Stage
}

// ErrIdempotencyMismatch is returned when an idempotency key is reused
// with a different request.
var ErrIdempotencyMismatch = errors.New("idempotency key was already used with a different request")

// Submit validates the config, persists a queued run and schedules it.
// The run is durable when Submit returns: a crash after that never loses
// it. With an idempotency key, a repeat of the same request returns the
// first run (created=false).
func (c *Coordinator) Submit(ctx context.Context, p SubmitParams) (store.Run, bool, error) {
	cfg := p.Parsed
	if cfg == nil {
		var err error
		if cfg, err = config.Parse(p.File, p.Config); err != nil {
			return store.Run{}, false, err
		}
	}
	if p.Trigger == "" {
		p.Trigger = "api"
	}
	now := c.o.Now().UTC()
	run := store.Run{
		ID: uuid.NewString(), Model: cfg.Model, Environment: cfg.Environment,
		State: store.RunQueued, Trigger: p.Trigger, Requester: p.Requester,
		CommitAuthor: p.CommitAuthor, Config: p.Config, BaseDir: p.BaseDir,
		Labels: p.Labels, CreatedAt: now, UpdatedAt: now,
		Candidate: store.Candidate{Version: cfg.Candidate.Version, Endpoint: cfg.Candidate.Endpoint},
	}
	digest := requestDigest(p)
	run, created, err := c.o.Store.RunCreate(ctx, store.RunCreateParams{Run: run, IdempotencyKey: p.IdempotencyKey, RequestDigest: digest})
	if errors.Is(err, store.ErrConflict) && p.IdempotencyKey != "" {
		return store.Run{}, false, ErrIdempotencyMismatch
	}
	if err != nil {
		return store.Run{}, false, fmt.Errorf("persist run: %w", err)
	}
	if !created {
		return run, false, nil
	}
	var reused []string
	for _, st := range p.Evidence {
		st.RunID = run.ID
		if err := c.o.Store.StagePut(ctx, st); err != nil {
			return store.Run{}, false, fmt.Errorf("store the evidence of stage %s: %w", st.Name, err)
		}
		reused = append(reused, st.Name)
	}
	accepted := map[string]any{
		"model": run.Model, "environment": run.Environment, "trigger": run.Trigger,
		"config_sha256": sha256hex(p.Config), "commit_author": p.CommitAuthor,
	}
	if len(reused) > 0 {
		accepted["evidence_reused"] = reused
		accepted["evidence_run"] = p.Labels["registry.evidence_run"]
	}
	c.record(ctx, "run.accepted", run.ID, p.Requester, accepted)
	c.metrics.transition("", store.RunQueued)
	c.publish(Event{RunID: run.ID, Type: "state", State: store.RunQueued})
	c.Wake(run.ID)
	return run, true, nil
}

func requestDigest(p SubmitParams) string {
	h := sha256.New()
	where := p.BaseDir
	if p.InputsDigest != "" {
		where = "inputs:" + p.InputsDigest
	}
	for _, s := range []string{string(p.Config), where, p.Trigger, p.CommitAuthor} {
		fmt.Fprintf(h, "%d:%s;", len(s), s)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Start resumes every in-flight run found in the store and starts the
// workers. It returns at once; Stop ends the work.
func (c *Coordinator) Start(ctx context.Context) error {
	c.mu.Lock()
	if c.started {
		c.mu.Unlock()
		return errors.New("coordinator already started")
	}
	c.started = true
	c.ctx, c.stop = context.WithCancel(context.WithoutCancel(ctx))
	c.mu.Unlock()

	for i := 0; i < c.o.Workers; i++ {
		c.wg.Add(1)
		go c.worker()
	}
	inflight, err := c.o.Store.RunList(ctx, store.RunListParams{
		States: []store.RunState{store.RunQueued, store.RunRunning, store.RunAwaitingApproval, store.RunDeploying},
		Limit:  100000,
	})
	if err != nil {
		return fmt.Errorf("list in-flight runs: %w", err)
	}
	c.metrics.reset(inflight)
	// oldest first, so runs resume in the order they were accepted
	for i := len(inflight) - 1; i >= 0; i-- {
		r := inflight[i]
		c.log.Info("resuming run", "run", r.ID, "state", r.State, "model", r.Model)
		c.Wake(r.ID)
	}
	c.startOrphanScan()
	return nil
}

// Stop cancels work in progress and waits for the workers to return.
// Runs stay in the store in their current state and resume on the next
// Start: stopping is the same as crashing, only tidier.
func (c *Coordinator) Stop() {
	c.mu.Lock()
	if !c.started {
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	c.stop()
	c.wg.Wait()
}

// Wake schedules a run to be (re)examined, e.g. after an approval.
func (c *Coordinator) Wake(runID string) {
	c.mu.Lock()
	if _, busy := c.active[runID]; busy {
		c.pending[runID] = true
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	select {
	case c.queue <- runID:
	default:
		// The queue is full only with tens of thousands of runs waiting;
		// the run is in the store and is picked up on the next Start.
		c.log.Warn("run queue full; run stays queued in the store", "run", runID)
	}
}

func (c *Coordinator) worker() {
	defer c.wg.Done()
	for {
		select {
		case <-c.ctx.Done():
			return
		case id := <-c.queue:
			c.drive(id)
		}
	}
}

// drive processes one run unless another worker already is.
func (c *Coordinator) drive(id string) {
	c.mu.Lock()
	if _, busy := c.active[id]; busy {
		c.pending[id] = true
		c.mu.Unlock()
		return
	}
	ctx, cancel := context.WithCancel(c.ctx)
	c.active[id] = cancel
	c.mu.Unlock()

	err := c.owned(ctx, id, c.process)
	cancel()

	c.mu.Lock()
	delete(c.active, id)
	again := c.pending[id]
	delete(c.pending, id)
	c.mu.Unlock()
	if err != nil && c.ctx.Err() == nil {
		c.log.Error("run processing stopped", "run", id, "err", err)
	}
	if again && c.ctx.Err() == nil {
		c.Wake(id)
	}
}

// Cancel stops a run that has not finished. A deploying run's rollout is
// aborted first so stable gets all traffic back.
func (c *Coordinator) Cancel(ctx context.Context, runID, actor, reason string) (store.Run, error) {
	run, err := c.o.Store.RunGet(ctx, runID)
	if err != nil {
		return store.Run{}, err
	}
	if run.State.Terminal() {
		return run, fmt.Errorf("run %s is already %s: %w", runID, run.State, store.ErrConflict)
	}
	if reason == "" {
		reason = "cancelled by " + actor
	}
	if run.State == store.RunDeploying && c.o.Abort != nil {
		if err := c.o.Abort(ctx, runID, actor, reason); err != nil {
			return run, fmt.Errorf("abort rollout: %w", err)
		}
	}
	run, err = c.transition(ctx, run, nil, store.RunCancelled, reason, actor)
	if err != nil {
		return run, err
	}
	c.mu.Lock()
	if cancel, ok := c.active[runID]; ok {
		cancel()
	}
	c.mu.Unlock()
	return run, nil
}

// Subscribe returns live events of a run ("*" for all runs) and a
// function to stop them.
func (c *Coordinator) Subscribe(runID string) (<-chan Event, func()) {
	return c.events.subscribe(runID)
}

// Wait blocks until the run is terminal or awaiting approval (when
// stopAtApproval), or ctx ends.
func (c *Coordinator) Wait(ctx context.Context, runID string, stopAtApproval bool) (store.Run, error) {
	ch, done := c.Subscribe(runID)
	defer done()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		run, err := c.o.Store.RunGet(ctx, runID)
		if err != nil {
			return run, err
		}
		if run.State.Terminal() || (stopAtApproval && run.State == store.RunAwaitingApproval) {
			return run, nil
		}
		select {
		case <-ctx.Done():
			return run, ctx.Err()
		case <-ch:
		case <-tick.C:
		}
	}
}

// Store returns the coordinator's store.
func (c *Coordinator) Store() store.Store { return c.o.Store }

func (c *Coordinator) publish(e Event) {
	if e.Time.IsZero() {
		e.Time = c.o.Now().UTC()
	}
	e.Message = redact.String(e.Message)
	c.events.publish(e)
}

func (c *Coordinator) record(ctx context.Context, typ, runID, actor string, data any) {
	if c.o.Recorder == nil {
		return
	}
	if err := c.o.Recorder.Record(context.WithoutCancel(ctx), typ, runID, actor, data); err != nil {
		// The audit trail failing is loud but must not wedge a rollout half way.
		c.log.Error("audit append failed", "type", typ, "run", runID, "err", err)
	}
}

// runDir is a run's scratch folder.
func (c *Coordinator) runDir(runID string) string {
	return filepath.Join(c.o.DataDir, "runs", runID)
}

func sha256hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
