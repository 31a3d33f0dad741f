package lease

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/charmbracelet/log"

	"github.com/modelgate/modelgate/internal/store"
)

// LeaderKey is the lease the scheduler leader holds.
const LeaderKey = "scheduler-leader"

// LeaderOptions configures a Leader.
type LeaderOptions struct {
	Store  store.Leases
	Owner  string        // this server's name, unique among replicas
	Key    string        // default LeaderKey
	TTL    time.Duration // default 10s: how long a dead leader keeps the others waiting
	Logger *log.Logger
}

// Leader campaigns for one key for as long as Run runs. Callers that must
// only act on the leader ask IsLeader before acting, or run their loop
// under Context, which ends when leadership ends.
type Leader struct {
	o       LeaderOptions
	mu      sync.Mutex
	hold    *Hold
	changes []chan bool
}

// NewLeader checks options; Run campaigns.
func NewLeader(o LeaderOptions) (*Leader, error) {
	if o.Store == nil || o.Owner == "" {
		return nil, errors.New("leader: a store and an owner are required")
	}
	if o.Key == "" {
		o.Key = LeaderKey
	}
	if o.TTL <= 0 {
		o.TTL = 10 * time.Second
	}
	if o.Logger == nil {
		o.Logger = log.Default()
	}
	return &Leader{o: o}, nil
}

// IsLeader reports whether this server holds the leader lease now. It is
// the func() bool the schedule and the production monitor take.
func (l *Leader) IsLeader() bool {
	l.mu.Lock()
	h := l.hold
	l.mu.Unlock()
	// Until, not only the renewer's verdict: between two renewal ticks a
	// lease can run out while the store is unreachable.
	return h != nil && h.Context().Err() == nil && time.Now().Before(h.Lease().Until)
}

// Context ends when this server is not (or stops being) the leader.
func (l *Leader) Context() context.Context {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.hold == nil {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		return ctx
	}
	return l.hold.Context()
}

// Changes delivers true when this server becomes leader and false when it
// loses leadership. A slow reader misses intermediate values, never the
// last one: the channel holds one and a newer value replaces it.
func (l *Leader) Changes() <-chan bool {
	ch := make(chan bool, 1)
	l.mu.Lock()
	l.changes = append(l.changes, ch)
	l.mu.Unlock()
	return ch
}

func (l *Leader) notify(v bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, ch := range l.changes {
		select {
		case <-ch:
		default:
		}
		ch <- v
	}
}

// Run campaigns until ctx ends, then gives the lease up so a successor
// need not wait for it to expire.
func (l *Leader) Run(ctx context.Context) {
	t := time.NewTicker(l.o.TTL / 3)
	defer t.Stop()
	for {
		l.mu.Lock()
		h := l.hold
		l.mu.Unlock()
		switch {
		case h != nil && h.Context().Err() != nil:
			l.o.Logger.Warn("scheduler leadership lost", "owner", l.o.Owner, "cause", context.Cause(h.Context()))
			l.setHold(nil)
			l.notify(false)
		case h == nil:
			nh, err := Acquire(ctx, l.o.Store, HoldParams{Key: l.o.Key, Owner: l.o.Owner, TTL: l.o.TTL})
			if err == nil {
				l.o.Logger.Info("scheduler leader", "owner", l.o.Owner, "token", nh.Lease().Token)
				l.setHold(nh)
				l.notify(true)
			} else if !errors.Is(err, store.ErrConflict) && ctx.Err() == nil {
				l.o.Logger.Warn("leader campaign", "err", err)
			}
		}
		var lost <-chan struct{}
		if h := l.current(); h != nil {
			lost = h.Context().Done()
		}
		select {
		case <-ctx.Done():
			if h := l.current(); h != nil {
				_ = h.Release(context.Background())
				l.setHold(nil)
				l.notify(false)
			}
			return
		case <-t.C:
		case <-lost:
		}
	}
}

func (l *Leader) current() *Hold {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.hold
}

func (l *Leader) setHold(h *Hold) {
	l.mu.Lock()
	l.hold = h
	l.mu.Unlock()
}
