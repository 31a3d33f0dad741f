package deployment

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/charmbracelet/log"

	"github.com/modelgate/modelgate/agents"
	"github.com/modelgate/modelgate/internal/config"
	"github.com/modelgate/modelgate/internal/release"
	"github.com/modelgate/modelgate/internal/store"
	"github.com/modelgate/modelgate/tools/gateway"
)

// rollout is one tick's view of one run's deployment.
type rollout struct {
	a    *Agent
	task agents.Task
	cfg  *config.Deploy
	l    *loaded
	log  *log.Logger
}

func (r *rollout) st() *State     { return &r.l.state }
func (r *rollout) now() time.Time { return r.a.clock.Now().UTC() }

// step does the next thing the rollout needs. It returns progressed=true
// when it changed the state (and saved it).
func (r *rollout) step(ctx context.Context) (bool, error) {
	st := r.st()
	// Manual controls and limits first: they hold in every phase.
	if st.Phase != PhaseRollingBack && st.Phase != PhasePromoting {
		if st.Abort != nil {
			return r.startRollback(ctx, fmt.Sprintf("aborted by %s: %s", st.Abort.Actor, st.Abort.Reason), nil)
		}
		if st.Promote != nil && st.Phase != PhasePending {
			r.log.Info("manual promotion", "actor", st.Promote.Actor)
			st.Phase = PhasePromoting
			return true, r.a.save(ctx, r.l)
		}
		if st.Phase != PhasePending && r.now().Sub(st.StartedAt) > r.cfg.Timeout.Duration {
			return r.startRollback(ctx, fmt.Sprintf("the rollout did not finish within deploy.timeout (%s)", r.cfg.Timeout.Duration), nil)
		}
	}
	if err := r.reconcileBackends(ctx); err != nil {
		var crash *crashError
		if errors.As(err, &crash) && st.Phase != PhaseRollingBack {
			return r.startRollback(ctx, crash.Error(), map[string]any{"exit": crash.exit})
		}
		return false, err
	}
	if st.Paused != nil && !Terminal(st.Phase) && st.Phase != PhaseRollingBack && st.Phase != PhasePromoting {
		return false, r.reconcileRoutes(ctx) // hold the current split
	}
	switch st.Phase {
	case PhasePending:
		return r.reconcileStart(ctx)
	case PhaseSmoke:
		return r.reconcileSmoke(ctx)
	case PhaseShadow:
		return r.reconcileShadow(ctx)
	case PhaseCanary:
		return r.reconcileCanary(ctx)
	case PhaseSwitch:
		return r.reconcileBlueGreen(ctx)
	case PhasePromoting:
		return r.reconcilePromote(ctx)
	case PhaseRollingBack:
		return r.reconcileRollback(ctx)
	}
	return false, fmt.Errorf("rollout of run %s is in unknown phase %q", st.RunID, st.Phase)
}

// reconcileBackends makes sure local model servers are up. A stable
// server that died is restarted (production must keep serving); a
// candidate server that died during the rollout is a crash, and the
// rollout rolls back.
func (r *rollout) reconcileBackends(ctx context.Context) error {
	st := r.st()
	if st.Stable != nil && st.Stable.Local {
		url, err := r.a.ensureLocal(ctx, st.Model, *st.Stable, false)
		if err != nil {
			return err
		}
		st.Stable.URL = url
	}
	if st.Candidate.Local && st.Phase != PhaseRollingBack {
		live := st.Phase != PhasePending
		url, err := r.a.ensureLocal(ctx, st.Model, st.Candidate, live)
		if err != nil {
			return err
		}
		st.Candidate.URL = url
	}
	return nil
}

func (r *rollout) desiredRoutes() (gateway.RouteTable, bool) {
	st := r.st()
	t := gateway.RouteTable{Model: st.Model, StickyHeader: r.cfg.Sticky, Threshold: r.threshold(), RunID: st.RunID, Mode: gateway.ModeStable,
		CandidateTimeoutMs: int(r.cfg.CandidateTimeout.Milliseconds())}
	if st.Candidate.Prompt != nil && t.CandidateTimeoutMs == 0 {
		t.CandidateTimeoutMs = llmCandidateTimeoutMs
	}
	cand := gateway.Backend{Version: st.Candidate.Version, URL: st.Candidate.URL, Name: st.Candidate.Name, Prompt: st.Candidate.Prompt}
	switch st.Phase {
	case PhasePromoting, PhasePromoted:
		t.Stable = cand
		return t, true
	}
	if st.Stable == nil {
		return t, false // first version: nothing routed before promotion
	}
	t.Stable = gateway.Backend{Version: st.Stable.Version, URL: st.Stable.URL, Name: st.Stable.Name, Prompt: st.Stable.Prompt}
	switch st.Phase {
	case PhaseSmoke:
		t.Candidate, t.Preview = &cand, true
	case PhaseShadow:
		t.Candidate, t.Mode, t.ShadowShare = &cand, gateway.ModeShadow, r.cfg.Shadow.Share
	case PhaseCanary:
		t.Candidate, t.Mode, t.CandidateWeight = &cand, gateway.ModeCanary, st.Weight
	case PhaseSwitch:
		t.Candidate, t.Mode, t.CandidateWeight = &cand, gateway.ModeBlueGreen, 100
	}
	return t, true
}

func (r *rollout) threshold() float64 {
	if r.cfg.Threshold > 0 {
		return r.cfg.Threshold
	}
	return r.task.Config.Evaluation.Threshold
}

// reconcileRoutes makes the gateway's table for the model what the state
// says it should be. Comparing first keeps ticks cheap and the store
// quiet; setting again heals a gateway that lost its table.
func (r *rollout) reconcileRoutes(ctx context.Context) error {
	want, ok := r.desiredRoutes()
	if !ok {
		return nil
	}
	have, exists := r.a.opts.Gateway.Routes(want.Model)
	if exists {
		have.UpdatedAt = time.Time{}
		if reflect.DeepEqual(have, want) {
			return nil
		}
	}
	return r.a.opts.Gateway.SetRoutes(ctx, want.Model, want)
}

func (r *rollout) reconcileStart(ctx context.Context) (bool, error) {
	st := r.st()
	if !st.Done["audit.started"] {
		data := map[string]any{"model": st.Model, "environment": st.Environment, "strategy": st.Strategy,
			"candidate": st.Candidate.Version, "stable": stableVersion(st), "shadow": r.cfg.Shadow != nil}
		if err := r.a.record(ctx, "deploy.started", st.RunID, r.a.opts.Actor, data); err != nil {
			return false, err
		}
		st.Done["audit.started"] = true
	}
	if st.Candidate.Prompt != nil {
		if moved, err := r.checkPromptEndpoints(ctx); moved || err != nil {
			return moved, err
		}
	}
	if !st.Candidate.Local && st.Upstream == nil && st.Candidate.Prompt == nil {
		chk, err := r.a.checkUpstream(ctx, st.Candidate, r.cfg.Target.AllowUnverified)
		if err != nil {
			return false, err
		}
		if err := r.a.record(ctx, "deploy.upstream_checked", st.RunID, r.a.opts.Actor, chk); err != nil {
			return false, err
		}
		st.Upstream = &chk
		if !chk.OK() {
			r.log.Warn("candidate upstream refused", "reason", chk.Message)
			return r.startRollback(ctx, chk.Message, map[string]any{"upstream": chk})
		}
	}
	st.Phase = PhaseSmoke
	r.log.Info("rollout started", "strategy", st.Strategy, "candidate", st.Candidate.Version, "stable", stableVersion(st))
	return true, r.a.save(ctx, r.l)
}

func stableVersion(st *State) string {
	if st.Stable == nil {
		return ""
	}
	return st.Stable.Version
}

// reconcileSmoke sends holdout rows to the candidate through the
// gateway's preview route (straight to it for a first version) and
// requires a well-formed, finite answer for every row.
func (r *rollout) reconcileSmoke(ctx context.Context) (bool, error) {
	st := r.st()
	if err := r.reconcileRoutes(ctx); err != nil {
		return false, err
	}
	res := r.a.smokeFor(ctx, smokeParams{task: r.task, state: st, rows: r.cfg.Smoke.Rows})
	st.Smoke = &res
	if !res.Passed {
		return r.startRollback(ctx, "smoke test failed: "+res.Message, map[string]any{"smoke": res})
	}
	r.log.Info("smoke test passed", "rows", res.Rows, "requests", res.Requests)
	switch {
	case st.Stable == nil:
		// The first version of a model has nothing to shadow or compare
		// with: after the smoke test it becomes stable directly.
		st.Phase = PhasePromoting
	case r.cfg.Shadow != nil:
		r.enter(PhaseShadow)
	case st.Strategy == "bluegreen":
		r.enter(PhaseSwitch)
	default:
		st.Step, st.Weight = 0, r.cfg.Canary.Steps[0]
		r.enter(PhaseCanary)
	}
	return true, r.a.save(ctx, r.l)
}

// enter starts a phase with a fresh analysis window. The window's mark is
// taken after the routes change so the window holds only the new split.
func (r *rollout) enter(phase string) {
	st := r.st()
	st.Phase = phase
	st.WindowStart = time.Time{} // set by openWindow once routes are in place
	st.FailedChecks, st.Inconclusive = 0, 0
}

// openWindow applies the routes and starts the analysis window if it is
// not running. It reports whether a window was opened (state changed).
func (r *rollout) openWindow(ctx context.Context) (bool, error) {
	st := r.st()
	if err := r.reconcileRoutes(ctx); err != nil {
		return false, err
	}
	if !st.WindowStart.IsZero() {
		return false, nil
	}
	mark, err := r.a.measure().Mark(ctx, st.Model)
	if err != nil {
		return false, fmt.Errorf("mark the analysis window of %s: %w", st.Model, err)
	}
	st.WindowStart, st.Mark = r.now(), mark
	return true, nil
}

func (r *rollout) windowDue(d time.Duration) bool {
	return r.now().Sub(r.st().WindowStart) >= d
}

func (r *rollout) reconcileShadow(ctx context.Context) (bool, error) {
	st := r.st()
	opened, err := r.openWindow(ctx)
	if err != nil {
		return false, err
	}
	if opened {
		r.log.Info("shadow started", "share", r.cfg.Shadow.Share, "duration", r.cfg.Shadow.Duration.Duration)
		return true, r.a.save(ctx, r.l)
	}
	if !r.windowDue(r.cfg.Shadow.Duration.Duration) {
		return false, nil
	}
	sum, err := r.a.measure().ShadowStats(ctx, st.Model, st.Mark)
	if err != nil {
		return false, fmt.Errorf("read the shadow window of %s: %w", st.Model, err)
	}
	an := r.analyzeShadow(sum)
	res := StepResult{Phase: PhaseShadow, At: r.now(), Analysis: an, Shadow: &sum}
	st.addHistory(res)
	if err := r.recordWindow(ctx, res); err != nil {
		return false, err
	}
	r.log.Info("shadow analysed", "phase", an.Phase, "agreement", sum.Agreement, "compared", sum.Compared, "errors", sum.Errors)
	switch an.Phase {
	case Successful:
		if st.Strategy == "bluegreen" {
			r.enter(PhaseSwitch)
		} else {
			st.Step, st.Weight = 0, r.cfg.Canary.Steps[0]
			r.enter(PhaseCanary)
		}
		return true, r.a.save(ctx, r.l)
	case Inconclusive:
		return r.inconclusive(ctx, an)
	default:
		return r.startRollback(ctx, "shadow analysis failed: "+failureText(an), evidence(an, &sum))
	}
}

// inconclusive restarts the window; after max_inconclusive windows in a
// row without enough data the rollout gives up and rolls back rather
// than promote a version nobody has observed.
func (r *rollout) inconclusive(ctx context.Context, an Analysis) (bool, error) {
	st := r.st()
	st.Inconclusive++
	if st.Inconclusive >= r.cfg.Inconcl {
		return r.startRollback(ctx, fmt.Sprintf("no data: %d analysis windows in a row were inconclusive (%s)",
			st.Inconclusive, failureText(an)), evidence(an, nil))
	}
	if an.needsMore() {
		// Too few scores to judge, not a broken baseline: keep the mark
		// so the next window adds to this one's traffic instead of
		// starting from nothing again.
		st.WindowStart = r.now()
	} else {
		st.WindowStart = time.Time{}
	}
	return true, r.a.save(ctx, r.l)
}

func (r *rollout) reconcileCanary(ctx context.Context) (bool, error) {
	st := r.st()
	opened, err := r.openWindow(ctx)
	if err != nil {
		return false, err
	}
	if opened {
		if key := fmt.Sprintf("audit.step.%d", st.Step); !st.Done[key] {
			if err := r.a.record(ctx, "deploy.step", st.RunID, r.a.opts.Actor,
				map[string]any{"model": st.Model, "candidate": st.Candidate.Version, "step": st.Step + 1, "weight": st.Weight}); err != nil {
				return false, err
			}
			st.Done[key] = true
		}
		r.log.Info("canary step", "step", st.Step+1, "weight", st.Weight)
		return true, r.a.save(ctx, r.l)
	}
	if !r.windowDue(r.cfg.Canary.Interval.Duration) {
		return false, nil
	}
	an, err := r.analyze(ctx, r.cfg.Canary.Checks, st.Weight < 100)
	if err != nil {
		return false, err
	}
	res := StepResult{Phase: PhaseCanary, Step: st.Step + 1, Weight: st.Weight, At: r.now(), Analysis: an}
	st.addHistory(res)
	if err := r.recordWindow(ctx, res); err != nil {
		return false, err
	}
	r.log.Info("canary analysed", "step", st.Step+1, "weight", st.Weight, "phase", an.Phase)
	switch an.Phase {
	case Successful:
		st.Inconclusive = 0
		if st.Step+1 >= len(r.cfg.Canary.Steps) {
			st.Phase = PhasePromoting
		} else {
			st.Step++
			st.Weight = r.cfg.Canary.Steps[st.Step]
			st.WindowStart = time.Time{}
		}
		return true, r.a.save(ctx, r.l)
	case Inconclusive:
		return r.inconclusive(ctx, an)
	default:
		st.FailedChecks++
		if st.FailedChecks >= r.cfg.Canary.MaxFailedChecks {
			return r.startRollback(ctx, fmt.Sprintf("canary step %d (%d%%) failed %d check(s): %s",
				st.Step+1, st.Weight, st.FailedChecks, failureText(an)), evidence(an, nil))
		}
		r.log.Warn("canary check failed", "failed_checks", st.FailedChecks, "max", r.cfg.Canary.MaxFailedChecks, "why", failureText(an))
		st.WindowStart = time.Time{}
		return true, r.a.save(ctx, r.l)
	}
}

func (r *rollout) analyze(ctx context.Context, checks config.CanaryChecks, hasStable bool) (Analysis, error) {
	st := r.st()
	m := r.a.measure()
	cand, err := m.Stats(ctx, st.Model, st.Candidate.Version, st.Mark)
	if err != nil {
		return Analysis{}, fmt.Errorf("read the candidate's window of %s: %w", st.Model, err)
	}
	p := CanaryParams{Checks: checks, MinRequests: r.cfg.MinReqs, HasStable: hasStable, Candidate: cand}
	if st.Stable != nil {
		if p.Stable, err = m.Stats(ctx, st.Model, st.Stable.Version, st.Mark); err != nil {
			return Analysis{}, fmt.Errorf("read the stable version's window of %s: %w", st.Model, err)
		}
	}
	if st.Candidate.Prompt != nil {
		l := r.cfg.LLMChecks()
		return AnalyzeLLMCanary(LLMCanaryParams{Checks: l.Canary, SlackMs: *l.SlackMs, MinRequests: r.cfg.MinReqs, HasStable: hasStable,
			Candidate: p.Candidate, Stable: p.Stable}), nil
	}
	return AnalyzeCanary(p), nil
}

// reconcileBlueGreen switches all traffic to green at once (blue stays
// routed as the table's stable, ready to take it back), watches green for
// the rollback window, and rolls back on the first failed check.
func (r *rollout) reconcileBlueGreen(ctx context.Context) (bool, error) {
	st := r.st()
	if !st.Done["audit.switch"] {
		if err := r.a.record(ctx, "deploy.switch", st.RunID, r.a.opts.Actor,
			map[string]any{"model": st.Model, "green": st.Candidate.Version, "blue": stableVersion(st)}); err != nil {
			return false, err
		}
		st.Done["audit.switch"] = true
	}
	st.Weight = 100
	opened, err := r.openWindow(ctx) // the routes switch here, in one swap
	if err != nil {
		return false, err
	}
	if opened {
		if st.SwitchedAt.IsZero() {
			st.SwitchedAt = st.WindowStart
			r.log.Info("blue-green switched", "green", st.Candidate.Version, "blue", stableVersion(st))
		}
		return true, r.a.save(ctx, r.l)
	}
	interval := min(r.cfg.BlueGreen.Interval.Duration, r.cfg.BlueGreen.RollbackWindow.Duration)
	if !r.windowDue(interval) {
		return false, nil
	}
	// Blue gets no traffic after the switch, so green is judged on
	// absolute bounds; the comparison with blue was the shadow phase's job.
	an, err := r.analyze(ctx, r.cfg.BlueGreen.Checks, false)
	if err != nil {
		return false, err
	}
	res := StepResult{Phase: PhaseSwitch, Weight: 100, At: r.now(), Analysis: an}
	st.addHistory(res)
	if err := r.recordWindow(ctx, res); err != nil {
		return false, err
	}
	if an.Phase == Failed || an.Phase == Errored {
		return r.startRollback(ctx, "blue-green rollback window: "+failureText(an), evidence(an, nil))
	}
	if r.now().Sub(st.SwitchedAt) >= r.cfg.BlueGreen.RollbackWindow.Duration {
		st.Phase = PhasePromoting
		return true, r.a.save(ctx, r.l)
	}
	st.WindowStart = time.Time{}
	return true, r.a.save(ctx, r.l)
}

// reconcilePromote makes the candidate production: all traffic, the
// registry, the environment's production pointer, and the audit trail.
// Each part is flagged when done so a resumed rollout skips it.
func (r *rollout) reconcilePromote(ctx context.Context) (bool, error) {
	st := r.st()
	s := r.a.opts.Store
	if !st.Done["audit.promoted"] {
		data := map[string]any{"model": st.Model, "environment": st.Environment, "version": st.Candidate.Version,
			"previous": stableVersion(st), "digest": st.Candidate.Digest, "strategy": st.Strategy, "history": len(st.History)}
		actor := r.a.opts.Actor
		if st.Promote != nil {
			actor, data["manual"] = st.Promote.Actor, true
		}
		if err := r.a.record(ctx, "deploy.promoted", st.RunID, actor, data); err != nil {
			return false, err
		}
		st.Done["audit.promoted"] = true
		if err := r.a.save(ctx, r.l); err != nil {
			return false, err
		}
	}
	if err := r.reconcileRoutes(ctx); err != nil {
		return false, err
	}
	if !st.Done["production"] {
		prev := stableVersion(st)
		mv := store.ModelVersion{Model: st.Model, Version: st.Candidate.Version, Digest: st.Candidate.Digest,
			ArtifactPath: st.Candidate.Artifact, Endpoint: st.Candidate.Endpoint, RunID: st.RunID,
			Metrics: metrics(st), CreatedAt: r.now()}
		lin, err := release.LineageOf(ctx, s, st.RunID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return false, err
		}
		mv.Lineage = lin
		if _, _, err := release.Promote(ctx, s, release.PromoteParams{Version: mv, Environment: st.Environment,
			Expect: &prev, Reason: "promoted by run " + st.RunID}); err != nil {
			return false, err
		}
		st.Done["registry"], st.Done["production"] = true, true
	}
	st.Phase, st.FinishedAt = PhasePromoted, r.now()
	if st.Stable != nil && st.Stable.Local {
		r.a.stopLocal(st.Model, st.Stable.Version) // the registry keeps its artifact for a later rollback
	}
	r.log.Info("promoted", "version", st.Candidate.Version, "environment", st.Environment)
	return true, r.a.save(ctx, r.l)
}

// startRollback records why and moves to rolling back; the routes are
// restored by reconcileRollback on this or the next tick.
func (r *rollout) startRollback(ctx context.Context, reason string, ev map[string]any) (bool, error) {
	st := r.st()
	st.Phase, st.Reason = PhaseRollingBack, reason
	if ev != nil {
		st.Evidence = ev
	}
	r.log.Warn("rolling back", "reason", reason)
	return true, r.a.save(ctx, r.l)
}

func (r *rollout) reconcileRollback(ctx context.Context) (bool, error) {
	st := r.st()
	if !st.Done["audit.rollback"] {
		actor := r.a.opts.Actor
		if st.Abort != nil {
			actor = st.Abort.Actor
		}
		data := map[string]any{"model": st.Model, "environment": st.Environment, "candidate": st.Candidate.Version,
			"restored": stableVersion(st), "reason": st.Reason, "evidence": st.Evidence, "phase_history": len(st.History)}
		if err := r.a.record(ctx, "deploy.rollback", st.RunID, actor, data); err != nil {
			return false, err
		}
		st.Done["audit.rollback"] = true
		if err := r.a.save(ctx, r.l); err != nil {
			return false, err
		}
	}
	// A stable prompt whose endpoint the gateway no longer allows cannot
	// be routed to: the rollback still ends, and the gateway calls nothing
	// outside its allowlist.
	if err := r.reconcileRoutes(ctx); err != nil && !errors.Is(err, gateway.ErrPromptUpstream) {
		return false, err
	}
	st.Phase, st.FinishedAt = PhaseRolledBack, r.now()
	if st.Candidate.Local {
		r.a.stopLocal(st.Model, st.Candidate.Version)
	}
	return true, r.a.save(ctx, r.l)
}

func failureText(an Analysis) string {
	f := an.Failures()
	if len(f) == 0 {
		for _, m := range an.Measurements {
			if m.Phase == an.Phase {
				return m.Message
			}
		}
		return an.Phase.String()
	}
	s := ""
	for i, m := range f {
		if i > 0 {
			s += "; "
		}
		s += m.Message
	}
	return s
}

func evidence(an Analysis, sum *gateway.ShadowSummary) map[string]any {
	ev := map[string]any{"analysis": an}
	if sum != nil {
		ev["shadow"] = sum
	}
	return ev
}
