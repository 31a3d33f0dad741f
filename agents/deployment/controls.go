package deployment

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/modelgate/modelgate/internal/release"
	"github.com/modelgate/modelgate/internal/store"
	"github.com/modelgate/modelgate/tools/gateway"
)

// Manual controls write a request into the stored rollout state; the
// rollout loop, wherever it runs, reads it on its next tick. Each is
// audited when asked for; the transition it causes is audited again when
// the loop applies it.

// Promote asks the rollout to skip its remaining analysis and promote.
func (a *Agent) Promote(ctx context.Context, runID, actor string) (State, error) {
	return a.control(ctx, runID, actor, "deploy.promote_requested", "", func(st *State, req *Request) { st.Promote = req })
}

// Abort asks the rollout to roll back now, with the given reason.
func (a *Agent) Abort(ctx context.Context, runID, actor, reason string) (State, error) {
	if reason == "" {
		reason = "no reason given"
	}
	return a.control(ctx, runID, actor, "deploy.abort_requested", reason, func(st *State, req *Request) { st.Abort = req })
}

// Pause holds the rollout at its current split: no step advances and no
// window is judged until Resume. Abort and Promote still work.
func (a *Agent) Pause(ctx context.Context, runID, actor string) (State, error) {
	return a.control(ctx, runID, actor, "deploy.paused", "", func(st *State, req *Request) { st.Paused = req })
}

// Resume continues a paused rollout with a fresh analysis window, so the
// paused time is not judged.
func (a *Agent) Resume(ctx context.Context, runID, actor string) (State, error) {
	return a.control(ctx, runID, actor, "deploy.resumed", "", func(st *State, _ *Request) {
		if st.Paused != nil {
			st.Paused = nil
			st.WindowStart = time.Time{} // the loop opens a new window
		}
	})
}

func (a *Agent) control(ctx context.Context, runID, actor, typ, reason string, apply func(*State, *Request)) (State, error) {
	if actor == "" {
		return State{}, errors.New("a manual control needs an actor")
	}
	cur, err := a.load(ctx, runID)
	if errors.Is(err, store.ErrNotFound) {
		return State{}, fmt.Errorf("run %s: %w", runID, ErrNoRollout)
	}
	if err != nil {
		return State{}, err
	}
	if Terminal(cur.state.Phase) {
		return cur.state, fmt.Errorf("run %s is %s: %w", runID, cur.state.Phase, ErrFinished)
	}
	if err := a.record(ctx, typ, runID, actor, map[string]any{"model": cur.state.Model, "phase": cur.state.Phase, "reason": reason}); err != nil {
		return State{}, err
	}
	req := &Request{Actor: actor, Reason: reason, At: a.clock.Now().UTC()}
	return a.update(ctx, runID, func(st *State) error {
		if Terminal(st.Phase) {
			return fmt.Errorf("run %s is %s: %w", runID, st.Phase, ErrFinished)
		}
		apply(st, req)
		return nil
	})
}

// RollbackParams restores an environment's previous production version.
type RollbackParams struct {
	Model       string
	Environment string // default "production"
	Actor       string
	Reason      string
	Version     string // a registered version to restore; "" = the previous one
}

// Rollback points the environment back at its previous production
// version: the audit entry first, then the gateway (all traffic to the
// previous version), then the registry's production pointer, with a
// compare-and-swap so that a concurrent promotion is not overwritten.
func (a *Agent) Rollback(ctx context.Context, p RollbackParams) (store.Production, error) {
	if p.Model == "" || p.Actor == "" {
		return store.Production{}, errors.New("rollback needs a model and an actor")
	}
	if p.Environment == "" {
		p.Environment = "production"
	}
	if a.opts.Store == nil || a.opts.Gateway == nil {
		return store.Production{}, errors.New("deployment agent: Options.Store and Options.Gateway are required for rollback")
	}
	s := a.opts.Store
	cur, prev, err := release.Target(ctx, s, p.Model, p.Environment)
	if p.Version != "" {
		cur, prev, err = release.TargetVersion(ctx, s, p.Model, p.Environment, p.Version)
	}
	if err != nil {
		return cur, err
	}
	b := Backend{Version: prev.Version, URL: prev.Endpoint, Endpoint: prev.Endpoint, Artifact: prev.ArtifactPath, Digest: prev.Digest}
	if b.URL == "" {
		if b.Artifact == "" {
			return cur, fmt.Errorf("rollback %s in %s: version %s has neither an endpoint nor an artifact in the registry", p.Model, p.Environment, prev.Version)
		}
		b.Local = true
		if b.URL, err = a.ensureLocal(ctx, p.Model, b, false); err != nil {
			return cur, fmt.Errorf("rollback %s: serve version %s: %w", p.Model, prev.Version, err)
		}
	}
	reason := p.Reason
	if reason == "" {
		reason = "manual rollback"
	}
	if err := a.record(ctx, "deploy.rollback", prev.RunID, p.Actor, map[string]any{"model": p.Model, "environment": p.Environment,
		"from": cur.Version, "to": prev.Version, "reason": reason, "manual": true}); err != nil {
		return cur, err
	}
	table := gateway.RouteTable{Model: p.Model, Stable: gateway.Backend{Version: b.Version, URL: b.URL}, Mode: gateway.ModeStable}
	if old, ok := a.opts.Gateway.Routes(p.Model); ok {
		table.StickyHeader, table.Threshold, table.Features = old.StickyHeader, old.Threshold, old.Features
		if old.Stable.Version == prev.Version {
			table.Stable.Name = old.Stable.Name
		}
	}
	if err := a.opts.Gateway.SetRoutes(ctx, p.Model, table); err != nil {
		return cur, fmt.Errorf("rollback %s: route traffic to %s: %w", p.Model, prev.Version, err)
	}
	out, err := release.Rollback(ctx, s, release.RollbackParams{From: cur, To: prev, Reason: fmt.Sprintf("rollback by %s: %s", p.Actor, reason)})
	if err != nil {
		return cur, err
	}
	a.log.Info("rolled back", "model", p.Model, "environment", p.Environment, "from", cur.Version, "to", prev.Version, "actor", p.Actor)
	return out, nil
}
