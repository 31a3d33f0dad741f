package lease

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/modelgate/modelgate/internal/store"
)

// Hold is a lease renewed in the background until Release. Its Context
// ends when the lease is lost, so work done under it stops rather than
// carrying on as a deposed owner.
type Hold struct {
	st    store.Leases
	ttl   time.Duration
	ctx   context.Context
	stop  context.CancelCauseFunc
	mu    sync.Mutex
	lease store.Lease
	done  chan struct{}
	once  sync.Once
}

// ErrLost is the cause of a Hold's context when its lease was lost.
var ErrLost = errors.New("lease lost")

// HoldParams asks for a held lease.
type HoldParams struct {
	Key, Owner string
	TTL        time.Duration // renewed every TTL/3
}

// Acquire takes the lease (store.ErrConflict when another owner holds
// it) and starts renewing it. ctx bounds the Hold's life.
func Acquire(ctx context.Context, st store.Leases, p HoldParams) (*Hold, error) {
	l, err := st.LeaseAcquire(ctx, store.LeaseAcquireParams{Key: p.Key, Owner: p.Owner, TTL: p.TTL})
	if err != nil {
		return nil, err
	}
	hctx, stop := context.WithCancelCause(ctx)
	h := &Hold{st: st, ttl: p.TTL, ctx: hctx, stop: stop, lease: l, done: make(chan struct{})}
	go h.renew()
	return h, nil
}

// Context ends when the lease is lost (cause ErrLost) or released.
func (h *Hold) Context() context.Context { return h.ctx }

// Lease is the lease as last renewed; its token fences writes.
func (h *Hold) Lease() store.Lease {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.lease
}

func (h *Hold) renew() {
	defer close(h.done)
	t := time.NewTicker(h.ttl / 3)
	defer t.Stop()
	for {
		select {
		case <-h.ctx.Done():
			return
		case <-t.C:
		}
		cur := h.Lease()
		// A renewal that cannot reach the store in time is a loss: past
		// Until, another owner may already hold the key.
		rctx, cancel := context.WithDeadline(h.ctx, cur.Until)
		l, err := h.st.LeaseRenew(rctx, cur, h.ttl)
		cancel()
		if err != nil {
			if time.Now().Before(cur.Until) && !errors.Is(err, store.ErrFenced) && h.ctx.Err() == nil {
				continue // transient; try again next tick while the lease still stands
			}
			h.stop(fmt.Errorf("%w: %s: %v", ErrLost, cur.Key, err))
			return
		}
		h.mu.Lock()
		h.lease = l
		h.mu.Unlock()
	}
}

// Release stops renewing and ends the lease in the store, so that the
// next owner need not wait for it to expire.
func (h *Hold) Release(ctx context.Context) error {
	var err error
	h.once.Do(func() {
		lost := context.Cause(h.ctx) != nil && errors.Is(context.Cause(h.ctx), ErrLost)
		h.stop(context.Canceled)
		<-h.done
		if !lost {
			err = h.st.LeaseRelease(context.WithoutCancel(ctx), h.Lease())
		}
	})
	return err
}
