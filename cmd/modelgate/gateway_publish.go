package main

import (
	"context"
	"errors"
	"time"

	"github.com/charmbracelet/log"

	"github.com/modelgate/modelgate/internal/store"
	"github.com/modelgate/modelgate/tools/gateway"
)

// publishWindows writes the gateway's measurement windows to the store
// every interval, and once more on the way out, so that the deployment
// agent (in the server, reading the same store) judges rollouts on this
// gateway's traffic too.
func publishWindows(ctx context.Context, gw *gateway.Gateway, ws store.WindowStore, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	prune := time.NewTicker(time.Hour)
	defer prune.Stop()
	for {
		select {
		case <-ctx.Done():
			// The server may still be judging a window: leave it the last
			// traffic this gateway carried.
			final, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			if err := gw.Publish(final, ws); err != nil {
				log.Warn("publish measurement windows on shutdown", "err", err)
			}
			cancel()
			return
		case <-prune.C:
			if err := pruneWindows(ctx, ws, gw.Epoch(), gw.Models(), time.Now().Add(-windowTTL)); err != nil && ctx.Err() == nil {
				log.Warn("prune stale measurement windows", "err", err)
			}
		case <-t.C:
			if err := gw.Publish(ctx, ws); err != nil && ctx.Err() == nil {
				log.Warn("publish measurement windows", "err", err)
			}
		}
	}
}

// windowTTL is how long the window of a gateway that stopped publishing
// is kept: far longer than any analysis window, so a rollout never loses
// traffic a gateway carried before it died.
const windowTTL = 24 * time.Hour

// pruneWindows deletes other gateways' windows last published before
// before (gateway instances that died or restarted under a new epoch).
// A window that does not decode is left for the deployment agent to name.
func pruneWindows(ctx context.Context, ws store.WindowStore, self string, models []string, before time.Time) error {
	var errs []error
	for _, m := range models {
		all, err := ws.WindowList(ctx, m)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for g, raw := range all {
			if g == self {
				continue
			}
			w, err := gateway.DecodeWindow(m, raw)
			if err != nil || !w.At.Before(before) {
				continue
			}
			if err := ws.WindowDelete(ctx, m, g); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}
