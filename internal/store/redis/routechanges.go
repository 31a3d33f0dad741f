package redis

import (
	"context"

	"github.com/charmbracelet/log"
)

// Route changes are announced on a pub/sub channel so that every gateway
// re-reads its tables at once instead of at its next periodic reload.
// Pub/sub is fire-and-forget (a gateway disconnected at that moment hears
// nothing), which is why gateways keep reconciling on a timer too: the
// announcement makes a change fast, the timer makes it certain.

func (s *Store) routeChannel() string { return s.key("routes", "changed") }

// routeChanged announces a stored route change; a failed announcement
// only delays gateways until their next reload, so it is logged, not
// returned (the table is stored).
func (s *Store) routeChanged(ctx context.Context, model string) {
	if err := s.c.Publish(context.WithoutCancel(ctx), s.routeChannel(), model).Err(); err != nil {
		log.Warn("announce route change; gateways pick it up at their next reload", "model", model, "err", err)
	}
}

// RouteChanges delivers the model of every route change announced after
// it is called, until ctx ends. The channel is closed then. go-redis
// resubscribes by itself after a reconnect.
func (s *Store) RouteChanges(ctx context.Context) <-chan string {
	sub := s.c.Subscribe(ctx, s.routeChannel())
	// Wait for the subscription to be in place, so a change made right
	// after RouteChanges returns is not missed.
	if _, err := sub.Receive(ctx); err != nil {
		log.Warn("subscribe to route changes; relying on periodic reloads", "err", err)
	}
	out := make(chan string, 16)
	go func() {
		defer close(out)
		defer sub.Close()
		ch := sub.Channel()
		for {
			select {
			case <-ctx.Done():
				return
			case m, ok := <-ch:
				if !ok {
					return
				}
				select {
				case out <- m.Payload:
				default: // a reload is already due; one more adds nothing
				}
			}
		}
	}()
	return out
}
