package monitor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/charmbracelet/log"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/modelgate/modelgate/internal/audit"
	"github.com/modelgate/modelgate/internal/chatops/triggers"
	"github.com/modelgate/modelgate/internal/config"
	"github.com/modelgate/modelgate/internal/store"
	"github.com/modelgate/modelgate/tools/dataset"
	"github.com/modelgate/modelgate/tools/drift"
	"github.com/modelgate/modelgate/tools/gateway"
	"github.com/modelgate/modelgate/tools/stats"
)

// Audit event types the monitor writes.
const (
	EventAlert       = triggers.EventDriftAlert // drift.alert: K checks in a row over a threshold
	EventActionError = "drift.action_failed"    // the configured action could not be taken
)

const (
	historyKeep    = 200  // checks kept per model and environment
	baselineScores = 4096 // scores kept as the baseline distribution
	psiBins        = 10
)

// Gateway is what the monitor reads of the gateway.
type Gateway interface {
	TakeInputs(model string) gateway.InputSample
	Mark(model string) gateway.Mark
	Stats(model, version string, since gateway.Mark) gateway.VersionStats
}

// Options configures a Monitor.
type Options struct {
	Store   store.Store
	Gateway Gateway
	// Starter starts the retraining run of the retrain action.
	Starter *triggers.Starter
	// Rollback is the deployment agent's rollback (the rollback action).
	Rollback func(ctx context.Context, model, env, actor, reason string) (store.Production, error)
	// Notify sends a drift alert to the model's channel and webhooks.
	Notify   func(ctx context.Context, a Alert)
	Recorder audit.Recorder
	Logger   *log.Logger
	Now      func() time.Time
	// Leader says whether this process runs the monitor; nil = always.
	Leader func() bool
	// Every is how often Run looks for checks that are due; default 15 s.
	Every      time.Duration
	Registerer prometheus.Registerer
}

// Alert is a raised drift alert, as notified.
type Alert struct {
	Model       string   `json:"model"`
	Environment string   `json:"environment"`
	Version     string   `json:"version"`
	Reasons     []string `json:"reasons"`
	Action      string   `json:"action"`
	Result      string   `json:"result"`
	RunID       string   `json:"run_id,omitempty"` // the retraining run started
}

// Check is one measurement of a production version.
type Check struct {
	At             time.Time `json:"at"`
	Version        string    `json:"version"`
	Rows           int       `json:"rows"` // input rows the gateway sampled in the window
	DriftShare     *float64  `json:"drift_share,omitempty"`
	DriftedColumns []string  `json:"drifted_columns,omitempty"`
	Requests       uint64    `json:"requests"`
	ErrorRate      *float64  `json:"error_rate,omitempty"`
	Scores         int       `json:"scores"`
	ScorePSI       *float64  `json:"score_psi,omitempty"`
	Over           []string  `json:"over,omitempty"`  // the thresholds exceeded
	Notes          []string  `json:"notes,omitempty"` // what could not be measured, and why
	Consecutive    int       `json:"consecutive"`     // checks in a row over a threshold, this one included
	Alert          bool      `json:"alert,omitempty"`
	Action         string    `json:"action,omitempty"`
	Result         string    `json:"result,omitempty"`
}

// Baseline is what a version's later windows are compared with.
type Baseline struct {
	At        time.Time `json:"at"`
	Requests  uint64    `json:"requests"`
	ErrorRate float64   `json:"error_rate"`
	Scores    []float64 `json:"scores"` // sorted
}

// State is the monitor's stored state of one model in one environment.
type State struct {
	Model       string        `json:"model"`
	Environment string        `json:"environment"`
	Version     string        `json:"version"`
	Since       time.Time     `json:"since"` // when the monitor first saw this version in production
	Baseline    *Baseline     `json:"baseline,omitempty"`
	Mark        *gateway.Mark `json:"mark,omitempty"` // where the current window began
	LastCheck   time.Time     `json:"last_check,omitzero"`
	Consecutive int           `json:"consecutive"`
	Alerted     bool          `json:"alerted"` // an alert was raised for the current streak
	History     []Check       `json:"history"` // newest last
}

// Monitor watches every model in production that has monitor settings.
type Monitor struct {
	o   Options
	m   *metrics
	mu  sync.Mutex
	ref map[string]reference // run id → reference data
}

// reference is a run's reference data and the columns a model reads
// (all but the label), in file order.
type reference struct {
	frame    *dataset.Frame
	features []string
}

// New builds a monitor; Run or Tick drives it.
func New(o Options) (*Monitor, error) {
	if o.Store == nil || o.Gateway == nil {
		return nil, errors.New("monitor: store and gateway are required")
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
	m, err := newMetrics(o.Registerer)
	if err != nil {
		return nil, err
	}
	return &Monitor{o: o, m: m, ref: map[string]reference{}}, nil
}

// Run checks what is due every Every until ctx ends.
func (m *Monitor) Run(ctx context.Context) {
	triggers.Loop(ctx, m.o.Every, m.o.Logger, "production monitor", func(ctx context.Context) error { _, err := m.Tick(ctx); return err })
}

// Tick checks every monitored model whose interval has passed at the
// clock's now and returns the checks it made; a process that is not the
// leader does nothing.
func (m *Monitor) Tick(ctx context.Context) ([]Check, error) {
	if !m.o.Leader() {
		return nil, nil
	}
	all, loadErr := triggers.LoadAll(ctx, m.o.Store)
	if all == nil && loadErr != nil {
		return nil, fmt.Errorf("load settings: %w", loadErr)
	}
	models := make([]string, 0, len(all))
	for name, s := range all {
		if s.Monitor != nil {
			models = append(models, name)
		}
	}
	sort.Strings(models)
	var out []Check
	errs := []error{loadErr}
	for _, name := range models {
		c, err := m.checkModel(ctx, all[name])
		if err != nil {
			errs = append(errs, fmt.Errorf("monitor %s: %w", name, err))
		}
		if c != nil {
			out = append(out, *c)
		}
	}
	return out, errors.Join(errs...)
}

// stateKey names the stored state. The state is kept as a rollout record
// under a key no run id can take (run ids are UUIDs): the store already
// has a compare-and-swap document per key there, so the monitor needs no
// new store method.
func stateKey(model, env string) string { return "monitor:" + model + ":" + env }

// Status reads the stored state of model in env (store.ErrNotFound when
// the monitor never checked it).
func Status(ctx context.Context, st store.Store, model, env string) (State, error) {
	r, err := st.RolloutGet(ctx, stateKey(model, env))
	if err != nil {
		return State{}, err
	}
	var s State
	if err := json.Unmarshal(r.Data, &s); err != nil {
		return State{}, fmt.Errorf("monitor state of %s in %s: %w", model, env, err)
	}
	return s, nil
}

func (m *Monitor) checkModel(ctx context.Context, set triggers.Settings) (*Check, error) {
	cfg := set.Monitor.Defaults()
	prod, err := m.o.Store.ProductionGet(ctx, set.Model, cfg.Environment)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil // not in production: nothing to watch
	}
	if err != nil {
		return nil, fmt.Errorf("production version: %w", err)
	}
	rec, err := m.o.Store.RolloutGet(ctx, stateKey(set.Model, cfg.Environment))
	var st State
	switch {
	case errors.Is(err, store.ErrNotFound):
		rec = store.Rollout{RunID: stateKey(set.Model, cfg.Environment), Model: set.Model}
	case err != nil:
		return nil, fmt.Errorf("monitor state: %w", err)
	default:
		if err := json.Unmarshal(rec.Data, &st); err != nil {
			return nil, fmt.Errorf("monitor state: %w", err)
		}
	}
	now := m.o.Now().UTC()
	if st.Version != prod.Version {
		// A new version (a promotion or a rollback): its own baseline, a
		// new streak, and a window that starts now.
		mark := m.o.Gateway.Mark(set.Model)
		m.o.Gateway.TakeInputs(set.Model)
		st = State{Model: set.Model, Environment: cfg.Environment, Version: prod.Version, Since: now, Mark: &mark,
			LastCheck: now, History: st.History}
		return nil, m.save(ctx, rec, st)
	}
	if now.Sub(st.LastCheck) < cfg.Every.Duration {
		return nil, nil
	}
	c := m.measure(ctx, set.Model, prod, &st, cfg, now)
	if len(c.Over) > 0 {
		st.Consecutive++
	} else {
		st.Consecutive, st.Alerted = 0, false
	}
	c.Consecutive = st.Consecutive
	if st.Consecutive >= cfg.Consecutive && !st.Alerted {
		st.Alerted = true
		c.Alert, c.Action = true, cfg.Action
		// The state is stored before the action: a rollback changes the
		// production version, and a crash during the action must not
		// raise the same alert twice.
		st.History = appendHistory(st.History, c)
		if err := m.save(ctx, rec, st); err != nil {
			return &c, err
		}
		rec, _ = m.o.Store.RolloutGet(ctx, stateKey(set.Model, cfg.Environment))
		c.Result = m.act(ctx, set, prod, cfg, c)
		st.History[len(st.History)-1] = c
	} else {
		st.History = appendHistory(st.History, c)
	}
	m.m.observe(set.Model, cfg.Environment, c)
	return &c, m.save(ctx, rec, st)
}

func appendHistory(h []Check, c Check) []Check {
	h = append(h, c)
	if len(h) > historyKeep {
		h = slices.Clone(h[len(h)-historyKeep:])
	}
	return h
}

func (m *Monitor) save(ctx context.Context, rec store.Rollout, st State) error {
	doc, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("encode monitor state: %w", err)
	}
	rec.Data = doc
	if _, err := m.o.Store.RolloutSave(ctx, rec); err != nil {
		return fmt.Errorf("store monitor state: %w", err)
	}
	return nil
}

// measure takes the window since the last check: input drift against the
// reference data, scores and error rate against the baseline. The first
// window with enough requests becomes the baseline.
func (m *Monitor) measure(ctx context.Context, model string, prod store.Production, st *State, cfg triggers.Monitor, now time.Time) Check {
	c := Check{At: now, Version: prod.Version}
	var since gateway.Mark
	if st.Mark != nil {
		since = *st.Mark
	}
	vs := m.o.Gateway.Stats(model, prod.Version, since)
	mark := m.o.Gateway.Mark(model)
	sample := m.o.Gateway.TakeInputs(model)
	st.Mark, st.LastCheck = &mark, now
	c.Rows, c.Requests, c.Scores = len(sample.Rows), vs.Requests, len(vs.Scores)

	m.inputDrift(ctx, prod, sample, cfg, &c)

	min := cfg.MinSamples
	switch {
	case st.Baseline == nil && vs.Requests >= uint64(min):
		scores := slices.Clone(vs.Scores)
		slices.Sort(scores)
		if len(scores) > baselineScores {
			scores = thin(scores, baselineScores)
		}
		st.Baseline = &Baseline{At: now, Requests: vs.Requests, ErrorRate: vs.ErrorRate, Scores: scores}
		c.Notes = append(c.Notes, fmt.Sprintf("baseline taken: %d requests, error rate %.4f, %d scores", vs.Requests, vs.ErrorRate, len(scores)))
	case st.Baseline == nil:
		c.Notes = append(c.Notes, fmt.Sprintf("no baseline yet: %d requests in the window, %d needed", vs.Requests, min))
	default:
		b := st.Baseline
		if vs.Requests >= uint64(min) {
			er := vs.ErrorRate
			c.ErrorRate = &er
			if er-b.ErrorRate > cfg.ErrorRate {
				c.Over = append(c.Over, fmt.Sprintf("error rate %.4f is %.4f above the baseline's %.4f (at most %.4f)", er, er-b.ErrorRate, b.ErrorRate, cfg.ErrorRate))
			}
		} else {
			c.Notes = append(c.Notes, fmt.Sprintf("error rate: %d requests, %d needed", vs.Requests, min))
		}
		if len(vs.Scores) >= min && len(b.Scores) >= min {
			cur := slices.Clone(vs.Scores)
			slices.Sort(cur)
			if r, err := stats.PSISorted(b.Scores, cur, psiBins); err == nil {
				psi := r.PSI
				c.ScorePSI = &psi
				if psi > cfg.ScorePSI {
					c.Over = append(c.Over, fmt.Sprintf("score PSI %.4f against the baseline (at most %.4f)", psi, cfg.ScorePSI))
				}
			}
		} else {
			c.Notes = append(c.Notes, fmt.Sprintf("scores: %d in the window and %d in the baseline, %d needed", len(vs.Scores), len(b.Scores), min))
		}
	}
	return c
}

// inputDrift compares the window's sampled inputs with the reference
// data of the run that produced the production version.
func (m *Monitor) inputDrift(ctx context.Context, prod store.Production, sample gateway.InputSample, cfg triggers.Monitor, c *Check) {
	if len(sample.Rows) < cfg.MinSamples {
		c.Notes = append(c.Notes, fmt.Sprintf("input drift: %d sampled rows, %d needed", len(sample.Rows), cfg.MinSamples))
		return
	}
	runID := prod.RunID
	if runID == "" {
		// A rollback records no run: the registry knows which run built the version.
		if v, err := m.o.Store.ModelVersionGet(ctx, prod.Model, prod.Version); err == nil {
			runID = v.RunID
		}
	}
	rf, err := m.reference(ctx, runID)
	if err != nil {
		c.Notes = append(c.Notes, "input drift: "+err.Error())
		return
	}
	ref := rf.frame
	if !slices.ContainsFunc(sample.Features, func(f string) bool { _, ok := ref.Col(f); return ok }) && len(sample.Features) == len(rf.features) {
		// A route without feature names samples columns f0, f1...: V2
		// clients send a model's features in its training order, which
		// is the reference file's order without the label.
		sample.Features = rf.features
		c.Notes = append(c.Notes, "input columns matched to the reference by position (the route names no features)")
	}
	cur, err := frameOf(sample)
	if err != nil {
		c.Notes = append(c.Notes, "input drift: "+err.Error())
		return
	}
	var cols []string
	for _, f := range sample.Features {
		if _, ok := ref.Col(f); ok {
			cols = append(cols, f)
		}
	}
	if len(cols) == 0 {
		c.Notes = append(c.Notes, "input drift: no sampled feature is a column of the reference data")
		return
	}
	res, err := drift.Compare(ref, cur, drift.Options{Columns: cols, Share: cfg.DriftShare})
	if err != nil {
		c.Notes = append(c.Notes, "input drift: "+err.Error())
		return
	}
	share := res.DriftShare
	c.DriftShare, c.DriftedColumns = &share, res.DriftedColumns
	if res.DatasetDrift {
		c.Over = append(c.Over, fmt.Sprintf("input drift: %d of %d columns drifted (share %.2f, at most %.2f)",
			len(res.DriftedColumns), len(cols), share, cfg.DriftShare))
	}
}

// reference reads (once per run) the reference data named by the config
// of the run that promoted the version, from that run's input folder.
func (m *Monitor) reference(ctx context.Context, runID string) (reference, error) {
	if runID == "" {
		return reference{}, errors.New("the production version names no run, so there is no reference data")
	}
	m.mu.Lock()
	r, ok := m.ref[runID]
	m.mu.Unlock()
	if ok {
		return r, nil
	}
	run, err := m.o.Store.RunGet(ctx, runID)
	if err != nil {
		return reference{}, fmt.Errorf("run %s: %w", runID, err)
	}
	cfg, err := config.Parse("run "+runID, run.Config)
	if err != nil {
		return reference{}, fmt.Errorf("config of run %s: %w", runID, err)
	}
	if cfg.Data.Reference == "" || run.BaseDir == "" {
		return reference{}, fmt.Errorf("run %s names no reference data", runID)
	}
	o := dataset.Options{}
	if cfg.Data.Delimiter != "" {
		o.Delimiter = []rune(cfg.Data.Delimiter)[0]
	}
	f, err := dataset.Read(config.Resolve(run.BaseDir, cfg.Data.Reference), o)
	if err != nil {
		return reference{}, fmt.Errorf("reference data of run %s (%s): %w", runID, filepath.Base(cfg.Data.Reference), err)
	}
	r = reference{frame: f}
	for _, name := range f.Names() {
		if name != cfg.Label {
			r.features = append(r.features, name)
		}
	}
	m.mu.Lock()
	m.ref[runID] = r
	m.mu.Unlock()
	return r, nil
}

// frameOf turns the sampled rows into a dataset frame.
func frameOf(s gateway.InputSample) (*dataset.Frame, error) {
	var b bytes.Buffer
	b.WriteString(strings.Join(s.Features, ","))
	b.WriteByte('\n')
	for _, row := range s.Rows {
		if len(row) != len(s.Features) {
			continue
		}
		for i, v := range row {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
		}
		b.WriteByte('\n')
	}
	return dataset.ReadCSV(bytes.NewReader(b.Bytes()), "gateway sample", dataset.Options{})
}

// thin keeps n evenly spaced values of a sorted slice: the same
// distribution in a bounded size.
func thin(sorted []float64, n int) []float64 {
	out := make([]float64, n)
	for i := range n {
		out[i] = sorted[i*(len(sorted)-1)/(n-1)]
	}
	return out
}

// act raises the alert: audited first, then notified, then the
// configured action. The result says what happened, for the history.
func (m *Monitor) act(ctx context.Context, set triggers.Settings, prod store.Production, cfg triggers.Monitor, c Check) string {
	a := Alert{Model: set.Model, Environment: cfg.Environment, Version: prod.Version, Reasons: c.Over, Action: cfg.Action}
	m.record(ctx, EventAlert, prod.RunID, map[string]any{"model": set.Model, "environment": cfg.Environment, "version": prod.Version,
		"reasons": c.Over, "consecutive": c.Consecutive, "action": cfg.Action})
	m.o.Logger.Warn("drift alert", "model", set.Model, "environment", cfg.Environment, "version", prod.Version, "action", cfg.Action, "reasons", strings.Join(c.Over, "; "))
	m.m.alerts.WithLabelValues(set.Model, cfg.Environment, cfg.Action).Inc()
	failed := true
	reason := fmt.Sprintf("drift alert after %d checks: %s", c.Consecutive, strings.Join(c.Over, "; "))
	switch cfg.Action {
	case triggers.MonitorRollback:
		if m.o.Rollback == nil {
			a.Result = "rollback not available on this server (no deployment agent)"
			break
		}
		p, err := m.o.Rollback(ctx, set.Model, cfg.Environment, "monitor", reason)
		if err != nil {
			a.Result = "rollback failed: " + err.Error()
			break
		}
		a.Result, failed = fmt.Sprintf("rolled back from %s to %s", prod.Version, p.Version), false
	case triggers.MonitorRetrain:
		if m.o.Starter == nil {
			a.Result = "retraining not available on this server"
			break
		}
		p := triggers.StartParams{Model: set.Model, Kind: triggers.KindRetrain, Trigger: "drift", Requester: "monitor",
			Labels:         map[string]string{"drift.version": prod.Version, "drift.at": c.At.Format(time.RFC3339)},
			IdempotencyKey: "drift:" + set.Model + ":" + cfg.Environment + ":" + c.At.Format(time.RFC3339Nano)}
		plan, err := m.o.Starter.Plan(ctx, p)
		var run store.Run
		if err == nil {
			run, _, err = m.o.Starter.Start(ctx, p, plan)
		}
		if err != nil {
			a.Result = "retraining did not start: " + err.Error()
			break
		}
		a.RunID, a.Result, failed = run.ID, "retraining run "+run.ID+" started", false
	default:
		a.Result, failed = "notified", false
	}
	if failed {
		m.record(ctx, EventActionError, prod.RunID, map[string]any{"model": set.Model, "action": cfg.Action, "why": a.Result})
	}
	if m.o.Notify != nil {
		m.o.Notify(ctx, a)
	}
	return a.Result
}

func (m *Monitor) record(ctx context.Context, typ, runID string, data map[string]any) {
	if m.o.Recorder == nil {
		return
	}
	if err := m.o.Recorder.Record(context.WithoutCancel(ctx), typ, runID, "monitor", data); err != nil {
		m.o.Logger.Error("audit record failed", "type", typ, "err", err)
	}
}
