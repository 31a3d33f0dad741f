package deployment

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/charmbracelet/log"

	"github.com/modelgate/modelgate/agents"
	"github.com/modelgate/modelgate/internal/audit"
	"github.com/modelgate/modelgate/internal/store"
	"github.com/modelgate/modelgate/tools/gateway"
	"github.com/modelgate/modelgate/tools/sign"
)

// Clock is the rollout loop's time. Tests drive Reconcile with their own.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Options configures the agent.
type Options struct {
	Store   store.Store
	Gateway *gateway.Gateway
	// Measurements is where rollouts read their traffic; default: the
	// Gateway's own statistics (Local). Shared adds every gateway that
	// publishes its windows to the store.
	Measurements Measurements
	Recorder     audit.Recorder // nil: transitions are only logged
	Tick         time.Duration  // overrides deploy.tick when set
	Clock        Clock          // default: the wall clock
	Logger       *log.Logger
	ServeBinary  string // modelgate binary for local targets; default os.Executable()
	ServeDir     string // where verified copies of served artifacts go; default TMPDIR/modelgate-serve
	Actor        string // who automatic transitions are attributed to; default "modelgate"
	// Blobs is where a prompt rollout reads the approved prompt by its
	// digest (llm.go); nil: from the recorded path, checked against it.
	Blobs BlobOpener
}

// Agent rolls candidates out through the gateway: smoke test, shadow,
// canary or blue-green, then promotion or automatic rollback.
type Agent struct {
	opts  Options
	clock Clock
	log   *log.Logger

	mu      sync.Mutex
	servers map[string]*localServer
}

// New builds the agent. Store and Gateway are required by Run; their
// absence is reported there, as an error naming the missing option.
func New(o Options) *Agent {
	if o.Clock == nil {
		o.Clock = realClock{}
	}
	if o.Logger == nil {
		o.Logger = log.Default()
	}
	if o.Actor == "" {
		o.Actor = "modelgate"
	}
	if o.ServeBinary == "" {
		if exe, err := os.Executable(); err == nil {
			o.ServeBinary = exe
		}
	}
	return &Agent{opts: o, clock: o.Clock, log: o.Logger.WithPrefix("deployment"), servers: map[string]*localServer{}}
}

// Name is the agent's name in reports.
func (a *Agent) Name() string { return "deployment" }

// Stage is the pipeline stage the agent runs.
const Stage = "deploy"

// Close stops the model servers this agent started.
func (a *Agent) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	for k, s := range a.servers {
		s.stop()
		delete(a.servers, k)
	}
	return nil
}

// Run drives the rollout to its end: it reconciles every tick until the
// candidate is promoted (verdict pass) or rolled back (verdict fail). It
// is safe to call again for the same run after a crash: the stored state
// says where the rollout stood, and completed steps are not repeated.
func (a *Agent) Run(ctx context.Context, task agents.Task) (agents.Report, error) {
	if err := a.check(task); err != nil {
		return agents.Report{}, err
	}
	tick := task.Config.Deploy.Tick.Duration
	if a.opts.Tick > 0 {
		tick = a.opts.Tick
	}
	for {
		st, done, err := a.Reconcile(ctx, task)
		if err != nil {
			return agents.Report{}, err
		}
		if done {
			return a.report(st), nil
		}
		select {
		case <-ctx.Done():
			return agents.Report{}, agents.Retriable(fmt.Errorf("rollout of run %s interrupted in phase %s: %w", task.RunID, st.Phase, ctx.Err()))
		case <-a.clock.After(tick):
		}
	}
}

func (a *Agent) check(task agents.Task) error {
	switch {
	case a.opts.Store == nil:
		return errors.New("deployment agent: Options.Store is required")
	case a.opts.Gateway == nil:
		return errors.New("deployment agent: Options.Gateway is required")
	case task.Config == nil:
		return errors.New("deployment agent: task has no pipeline config")
	case task.RunID == "" || task.Model == "":
		return errors.New("deployment agent: task needs a run id and a model")
	}
	return nil
}

// Reconcile runs one tick: it re-reads the stored state, applies manual
// controls, and moves the rollout as far as it can go now. done is true
// once the rollout has reached a terminal phase.
func (a *Agent) Reconcile(ctx context.Context, task agents.Task) (State, bool, error) {
	if err := a.check(task); err != nil {
		return State{}, false, err
	}
	l, err := a.load(ctx, task.RunID)
	if errors.Is(err, store.ErrNotFound) {
		l, err = a.create(ctx, task)
	}
	if err != nil {
		return State{}, false, err
	}
	r := &rollout{a: a, task: task, cfg: &task.Config.Deploy, l: &l, log: task.Log().With("run", task.RunID, "model", task.Model)}
	for range 16 { // several phases can complete in one tick; bound it
		if Terminal(l.state.Phase) {
			return l.state, true, nil
		}
		before := l.state.Phase
		progressed, err := r.step(ctx)
		if errors.Is(err, store.ErrConflict) {
			return l.state, false, nil // someone else wrote; re-read next tick
		}
		if err != nil {
			return l.state, false, err
		}
		if !progressed && l.state.Phase == before {
			break
		}
	}
	return l.state, Terminal(l.state.Phase), nil
}

func (a *Agent) create(ctx context.Context, task agents.Task) (loaded, error) {
	cfg := task.Config.Deploy
	env := task.Environment
	if env == "" {
		env = task.Config.Environment
	}
	st := State{
		RunID: task.RunID, Model: task.Model, Environment: env, Strategy: cfg.Strategy,
		Phase: PhasePending, Done: map[string]bool{}, StartedAt: a.clock.Now().UTC(),
	}
	cand, err := a.candidateFor(ctx, task)
	if err != nil {
		return loaded{}, err
	}
	st.Candidate = cand
	if task.Production != nil {
		stable, err := a.stableFor(ctx, task)
		if err != nil {
			return loaded{}, err
		}
		if stable.Version == cand.Version {
			return loaded{}, fmt.Errorf("candidate version %q is already production in %s", cand.Version, env)
		}
		st.Stable = &stable
	}
	l := loaded{rec: store.Rollout{RunID: task.RunID, Model: task.Model}, state: st}
	if err := a.save(ctx, &l); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return a.load(ctx, task.RunID) // another coordinator created it first
		}
		return loaded{}, err
	}
	return l, nil
}

// candidateBackend says where the candidate will be served: the deploy
// target (an upstream, or a local file) first, then the candidate's own
// endpoint, then its artifact served locally.
func candidateBackend(task agents.Task) (Backend, error) {
	c, cfg := task.Candidate, task.Config
	b := Backend{Version: c.Version, Digest: c.Digest, Name: cfg.Deploy.Target.Name}
	if b.Name == "" {
		b.Name = cfg.Candidate.Name
	}
	switch {
	case cfg.Deploy.Target.Upstream != "":
		b.URL, b.Endpoint = cfg.Deploy.Target.Upstream, cfg.Deploy.Target.Upstream
	case cfg.Deploy.Target.Local != nil:
		// The local target serves the candidate's own snapshot; naming a
		// file here is allowed only when it is that candidate, so that no
		// config can serve bytes other than the ones judged.
		if c.ArtifactPath == "" || c.Digest == "" {
			return b, errors.New("deploy.target.local: the candidate has no artifact of its own to serve; give candidate.artifact (or train it), or deploy to an upstream")
		}
		if m := cfg.Deploy.Target.Local.Model; m != "" {
			d, _, err := sign.FileDigest(task.Path(m))
			if err != nil {
				return b, fmt.Errorf("deploy.target.local.model: %w", err)
			}
			if d != c.Digest {
				return b, fmt.Errorf("deploy.target.local.model: %s is not the candidate that was tested and approved (%s, the candidate is %s); leave local.model out to serve the candidate",
					m, shortDigest(d), shortDigest(c.Digest))
			}
		}
		b.Local, b.Artifact, b.Name = true, c.ArtifactPath, task.Model
	case c.Endpoint != "":
		b.URL, b.Endpoint = c.Endpoint, c.Endpoint
	case c.ArtifactPath != "":
		b.Local, b.Artifact, b.Name = true, c.ArtifactPath, task.Model
	default:
		return b, errors.New("deployment: nothing to deploy: set deploy.target (upstream or local) or give the candidate an endpoint or artifact")
	}
	if b.Local && b.Digest == "" {
		d, _, err := sign.FileDigest(b.Artifact)
		if err != nil {
			return b, fmt.Errorf("read candidate artifact: %w", err)
		}
		b.Digest = d
	}
	if b.Version == "" {
		switch {
		case len(b.Digest) >= 19:
			b.Version = b.Digest[7:19] // sha256:<first 12 hex>
		default:
			b.Version = task.RunID
		}
	}
	return b, nil
}

// stableBackend finds where production is served: the gateway's current
// stable route when it serves that version, else the production record's
// endpoint, else its artifact served locally.
func (a *Agent) stableBackend(task agents.Task) (Backend, error) {
	p := task.Production
	b := Backend{Version: p.Version, Digest: p.Digest, Name: task.Config.Candidate.Name}
	if t, ok := a.opts.Gateway.Routes(task.Model); ok && t.Stable.Version == p.Version {
		b.URL, b.Name, b.Endpoint = t.Stable.URL, t.Stable.Name, p.Endpoint
		if p.Endpoint == "" && p.ArtifactPath != "" {
			b.Local, b.Artifact = true, p.ArtifactPath
		}
		return b, nil
	}
	switch {
	case p.Endpoint != "":
		b.URL, b.Endpoint = p.Endpoint, p.Endpoint
	case p.ArtifactPath != "":
		b.Local, b.Artifact, b.Name = true, p.ArtifactPath, task.Model
	default:
		return b, fmt.Errorf("deployment: production version %q of %s has no endpoint, no artifact and no gateway route: nothing to keep serving it from", p.Version, task.Model)
	}
	return b, nil
}

// record writes an audit event before the transition it describes.
func (a *Agent) record(ctx context.Context, typ, runID, actor string, data any) error {
	if a.opts.Recorder == nil {
		a.log.Info("audit (no recorder)", "type", typ, "run", runID, "actor", actor)
		return nil
	}
	if err := a.opts.Recorder.Record(ctx, typ, runID, actor, data); err != nil {
		return agents.Retriable(fmt.Errorf("audit %s: %w", typ, err))
	}
	return nil
}

// rawJSON is a helper for details.
func rawJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return b
}

var _ agents.Agent = (*Agent)(nil)
