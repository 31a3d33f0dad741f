package coordinator

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/modelgate/modelgate/internal/lease"
	"github.com/modelgate/modelgate/internal/store"
)

// OwnershipOptions configures run ownership across servers sharing a
// store. Every run is driven under the lease "run/<id>"; its fencing
// token goes with every transition and stage write, so a server that lost
// the lease (paused, partitioned, presumed dead) has its late writes
// refused by the store instead of undoing its successor's.
type OwnershipOptions struct {
	// Owner names this server among the replicas. The default, the host
	// and the data folder, lets a restarted server take its own runs back
	// at once; replicas sharing a store must each have their own.
	Owner string
	// TTL is how long a run lease outlives a server that died holding
	// it; default 15s. Renewed every TTL/3.
	TTL time.Duration
	// ResumeEvery, when set, looks for in-flight runs that nobody holds
	// (their server died) and takes them over. Zero (one server, the
	// embedded default) resumes only at Start.
	ResumeEvery time.Duration
}

func (o OwnershipOptions) withDefaults(dataDir string) OwnershipOptions {
	if o.Owner == "" {
		host, _ := os.Hostname()
		dir, err := filepath.Abs(dataDir)
		if err != nil {
			dir = dataDir
		}
		o.Owner = host + ":" + dir
	}
	if o.TTL <= 0 {
		o.TTL = 15 * time.Second
	}
	return o
}

// Owner is the name this coordinator holds its leases under.
func (c *Coordinator) Owner() string { return c.o.Ownership.Owner }

func runLeaseKey(id string) string { return "run/" + id }

// owned runs f for run id under the run's lease, or does nothing when
// another server holds it. f's context ends if the lease is lost.
func (c *Coordinator) owned(ctx context.Context, id string, f func(context.Context, string) error) error {
	h, err := lease.Acquire(ctx, c.o.Store, lease.HoldParams{Key: runLeaseKey(id), Owner: c.o.Ownership.Owner, TTL: c.o.Ownership.TTL})
	if errors.Is(err, store.ErrConflict) {
		c.log.Debug("run is driven by another server", "run", id, "err", err)
		c.retryAfterLease(id)
		return nil
	}
	if err != nil {
		return fmt.Errorf("take run lease: %w", err)
	}
	c.mu.Lock()
	c.holds[id] = h
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.holds, id)
		c.mu.Unlock()
		if err := h.Release(context.Background()); err != nil {
			c.log.Warn("release run lease", "run", id, "err", err)
		}
	}()
	hctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-h.Context().Done():
			cancel()
		case <-hctx.Done():
		}
	}()
	return f(hctx, id)
}

// hold is the lease this server holds on a run, or nil.
func (c *Coordinator) hold(runID string) *lease.Hold {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.holds[runID]
}

// runTransition fences the transition with the run's lease when this
// server drives the run. A transition from a server that does not (a
// cancel through another replica's API) is unfenced: the owner's next
// fenced transition then finds the run moved and stops.
func (c *Coordinator) runTransition(ctx context.Context, p store.RunTransitionParams) (store.Run, int64, error) {
	h := c.hold(p.ID)
	if h == nil {
		r, err := c.o.Store.RunTransition(ctx, p)
		return r, 0, err
	}
	l := h.Lease()
	r, err := c.o.Store.RunTransitionFenced(ctx, store.RunTransitionFencedParams{RunTransitionParams: p, Lease: l})
	return r, l.Token, err
}

func (c *Coordinator) stagePut(ctx context.Context, s store.Stage) error {
	if h := c.hold(s.RunID); h != nil {
		return c.o.Store.StagePutFenced(ctx, s, h.Lease())
	}
	return c.o.Store.StagePut(ctx, s)
}

// deployLease holds the model+environment deploy lease across servers,
// waiting for it while another server's rollout holds it.
func (c *Coordinator) deployLease(ctx context.Context, key string) (func(), error) {
	key = "deploy/" + strings.ReplaceAll(key, "\x00", "/")
	for {
		h, err := lease.Acquire(ctx, c.o.Store, lease.HoldParams{Key: key, Owner: c.o.Ownership.Owner, TTL: c.o.Ownership.TTL})
		if err == nil {
			return func() { _ = h.Release(context.Background()) }, nil
		}
		if !errors.Is(err, store.ErrConflict) {
			return nil, fmt.Errorf("take deploy lease %s: %w", key, err)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(c.o.Ownership.TTL / 10):
		}
	}
}

// startOrphanScan wakes, every ResumeEvery, the in-flight runs whose
// lease nobody holds: their server died, and its lease has run out.
func (c *Coordinator) startOrphanScan() {
	every := c.o.Ownership.ResumeEvery
	if every <= 0 {
		return
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-c.ctx.Done():
				return
			case <-t.C:
			}
			c.resumeOrphans(c.ctx)
		}
	}()
}

func (c *Coordinator) resumeOrphans(ctx context.Context) {
	runs, err := c.o.Store.RunList(ctx, store.RunListParams{
		States: []store.RunState{store.RunQueued, store.RunRunning, store.RunAwaitingApproval, store.RunDeploying},
		Limit:  100000,
	})
	if err != nil {
		c.log.Warn("look for orphaned runs", "err", err)
		return
	}
	for _, r := range runs {
		c.mu.Lock()
		_, busy := c.active[r.ID]
		c.mu.Unlock()
		if busy {
			continue
		}
		if _, err := c.o.Store.LeaseGet(ctx, runLeaseKey(r.ID)); errors.Is(err, store.ErrNotFound) {
			if r.State != store.RunAwaitingApproval {
				c.log.Info("resuming orphaned run", "run", r.ID, "state", r.State)
			}
			c.Wake(r.ID)
		}
	}
}

// retryAfterLease wakes a run held by another server again once that
// server's lease would run out, so that a run whose server died is taken
// over within about one TTL even without the orphan scan.
func (c *Coordinator) retryAfterLease(id string) {
	wait := c.o.Ownership.TTL
	if l, err := c.o.Store.LeaseGet(c.ctx, runLeaseKey(id)); err == nil {
		wait = time.Until(l.Until)
	}
	time.AfterFunc(max(wait, 0)+c.o.Ownership.TTL/10, func() {
		if c.ctx.Err() == nil {
			c.Wake(id)
		}
	})
}
