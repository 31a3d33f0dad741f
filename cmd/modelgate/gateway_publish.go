package main

import (
	"context"
	"time"

	"github.com/charmbracelet/log"

	"github.com/modelgate/modelgate/tools/gateway"
)

// publishWindows writes the gateway's measurement windows to the store
// every interval, and once more on the way out, so that the deployment
// agent (in the server, reading the same store) judges rollouts on this
// gateway's traffic too.
func publishWindows(ctx context.Context, gw *gateway.Gateway, ws gateway.WindowStore, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
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
		case <-t.C:
			if err := gw.Publish(ctx, ws); err != nil && ctx.Err() == nil {
				log.Warn("publish measurement windows", "err", err)
			}
		}
	}
}
