package deployment

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/modelgate/modelgate/tools/gateway"
)

// Measurements is where a rollout reads the traffic it judges: it marks
// where a window starts and reads one version's statistics, or the shadow
// comparison, from that mark to now. A Mark is plain data, stored with
// the rollout's state, so a restarted agent measures from where it stood.
type Measurements interface {
	Mark(ctx context.Context, model string) (gateway.Mark, error)
	Stats(ctx context.Context, model, version string, since gateway.Mark) (gateway.VersionStats, error)
	ShadowStats(ctx context.Context, model string, since gateway.Mark) (gateway.ShadowSummary, error)
}

// Local measures the gateway in this process only.
type Local struct{ Gateway *gateway.Gateway }

// Mark marks the local gateway's counters.
func (l Local) Mark(_ context.Context, model string) (gateway.Mark, error) {
	return l.Gateway.Mark(model), nil
}

// Stats reads one version's window from the local gateway.
func (l Local) Stats(_ context.Context, model, version string, since gateway.Mark) (gateway.VersionStats, error) {
	return l.Gateway.Stats(model, version, since), nil
}

// ShadowStats reads the shadow comparison from the local gateway.
func (l Local) ShadowStats(_ context.Context, model string, since gateway.Mark) (gateway.ShadowSummary, error) {
	return l.Gateway.ShadowStats(model, since), nil
}

// WindowLister reads the windows gateways published; store.Store
// satisfies it.
type WindowLister interface {
	WindowList(ctx context.Context, model string) (map[string]json.RawMessage, error)
}

// Shared measures every gateway: the local one (when there is one) and
// every gateway that publishes its windows to the store, a standalone
// `modelgate gateway --store ...` among them. Counts and latency
// histograms are summed and score samples pooled across gateways, so a
// canary step is judged on all its traffic rather than one replica's
// share. While no other gateway has carried any of the window's traffic,
// the local gateway's exact figures are returned unchanged (percentiles
// from its latencies, not from a histogram).
type Shared struct {
	Local   *gateway.Gateway // may be nil: only published windows
	Windows WindowLister
}

// others decodes the published windows of every gateway but the local
// one (which is read live). A window that does not decode is an error
// naming its gateway: judging without it would judge part of the traffic.
func (s Shared) others(ctx context.Context, model string) ([]gateway.Window, error) {
	raw, err := s.Windows.WindowList(ctx, model)
	if err != nil {
		return nil, fmt.Errorf("read gateways' windows of %s: %w", model, err)
	}
	out := make([]gateway.Window, 0, len(raw))
	for g, doc := range raw {
		if s.Local != nil && g == s.Local.Epoch() {
			continue
		}
		w, err := gateway.DecodeWindow(model, doc)
		if err != nil {
			return nil, fmt.Errorf("gateway %s: %w", g, err)
		}
		if w.Gateway != g {
			return nil, fmt.Errorf("window of %s stored for gateway %s names gateway %s", model, g, w.Gateway)
		}
		out = append(out, w)
	}
	return out, nil
}

// Mark marks the local gateway and records every published window's
// position (without its samples).
func (s Shared) Mark(ctx context.Context, model string) (gateway.Mark, error) {
	var m gateway.Mark
	if s.Local != nil {
		m = s.Local.Mark(model)
	}
	ws, err := s.others(ctx, model)
	if err != nil {
		return gateway.Mark{}, err
	}
	m.Windows = make(map[string]gateway.Window, len(ws)+1)
	if s.Local != nil {
		m.Windows[s.Local.Epoch()] = s.Local.Window(model).Position()
	}
	for _, w := range ws {
		m.Windows[w.Gateway] = w.Position()
	}
	return m, nil
}

// deltas is every other gateway's traffic since the mark, and whether any
// of it is there at all.
func (s Shared) deltas(ctx context.Context, model string, since gateway.Mark) ([]gateway.Window, bool, error) {
	ws, err := s.others(ctx, model)
	if err != nil {
		return nil, false, err
	}
	any := false
	for i, w := range ws {
		// A gateway absent from the mark started publishing after it: all
		// of its traffic is the window's.
		ws[i] = w.Since(since.Windows[w.Gateway])
		for _, v := range ws[i].Versions {
			any = any || v.Requests > 0
		}
		any = any || ws[i].Shadow.Compared+ws[i].Shadow.Errors > 0
	}
	return ws, any, nil
}

// local is the local gateway's window since the mark (nothing without a
// local gateway).
func (s Shared) local(model string, since gateway.Mark) []gateway.Window {
	if s.Local == nil {
		return nil
	}
	return []gateway.Window{s.Local.Window(model).Since(since.Windows[s.Local.Epoch()])}
}

// Stats is one version's statistics over every gateway since the mark.
func (s Shared) Stats(ctx context.Context, model, version string, since gateway.Mark) (gateway.VersionStats, error) {
	ws, any, err := s.deltas(ctx, model, since)
	if err != nil {
		return gateway.VersionStats{}, err
	}
	if !any && s.Local != nil {
		return s.Local.Stats(model, version, since), nil
	}
	vs := make([]gateway.VersionWindow, 0, len(ws)+1)
	for _, w := range append(s.local(model, since), ws...) {
		vs = append(vs, w.Versions[version])
	}
	return gateway.MergeVersion(version, vs...), nil
}

// ShadowStats is the shadow comparison over every gateway since the mark.
func (s Shared) ShadowStats(ctx context.Context, model string, since gateway.Mark) (gateway.ShadowSummary, error) {
	ws, any, err := s.deltas(ctx, model, since)
	if err != nil {
		return gateway.ShadowSummary{}, err
	}
	if !any && s.Local != nil {
		return s.Local.ShadowStats(model, since), nil
	}
	sh := make([]gateway.ShadowWindow, 0, len(ws)+1)
	for _, w := range append(s.local(model, since), ws...) {
		sh = append(sh, w.Shadow)
	}
	return gateway.MergeShadow(sh...), nil
}

// measure is the agent's Measurements: Options.Measurements, or the
// in-process gateway's.
func (a *Agent) measure() Measurements {
	if a.opts.Measurements != nil {
		return a.opts.Measurements
	}
	return Local{Gateway: a.opts.Gateway}
}
