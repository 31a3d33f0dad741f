package triggers

import (
	"context"
	"time"

	"github.com/charmbracelet/log"
)

// Loop calls tick at once and then every `every` until ctx ends, logging
// what fails: the one loop the scheduler and the production monitor run,
// each deciding inside tick whether this process is the leader.
func Loop(ctx context.Context, every time.Duration, logger *log.Logger, what string, tick func(context.Context) error) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := tick(ctx); err != nil && ctx.Err() == nil {
			logger.Error(what, "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
