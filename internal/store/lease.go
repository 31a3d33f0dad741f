package store

import (
	"context"
	"errors"
	"time"
)

// ErrFenced is returned for a write made under a lease that is no longer
// the writer's: it expired, or another owner took it since. Nothing was
// written. It is not ErrConflict on purpose: a conflict means "look again",
// a fence means "stop, someone else owns this now".
var ErrFenced = errors.New("fenced: the lease is no longer held")

// Leases are time-bound exclusive ownerships of a key, each with a
// fencing token, and the run writes that carry one. The store checks the
// token in the same atomic step as the write, so an owner that was paused
// (a GC stop, a partition, kill -STOP) past its lease cannot overwrite
// what the next owner did.
type Leases interface {
	// LeaseAcquire takes p.Key for p.Owner for p.TTL when no live lease
	// holds it, with a fencing token greater than every token issued for
	// the key before. When p.Owner already holds it the lease is extended
	// and keeps its token. ErrConflict when another owner's live lease
	// holds it.
	LeaseAcquire(ctx context.Context, p LeaseAcquireParams) (Lease, error)
	// LeaseRenew extends l by ttl from now if l is still the live lease
	// (same owner, same token); ErrFenced otherwise.
	LeaseRenew(ctx context.Context, l Lease, ttl time.Duration) (Lease, error)
	// LeaseRelease ends l if it is still the live lease; releasing a lease
	// already lost is not an error. The key's token sequence is kept.
	LeaseRelease(ctx context.Context, l Lease) error
	// LeaseGet returns the live lease on key; ErrNotFound when none.
	LeaseGet(ctx context.Context, key string) (Lease, error)

	// RunTransitionFenced is RunTransition made only while p.Lease is the
	// live lease; the token is stored on the run with the new state (see
	// RunFence). ErrFenced when the lease is not live, ErrConflict when
	// the run is in another state, ErrNotFound for an unknown run.
	RunTransitionFenced(ctx context.Context, p RunTransitionFencedParams) (Run, error)
	// StagePutFenced is StagePut made only while l is the live lease.
	StagePutFenced(ctx context.Context, s Stage, l Lease) error
	// RunFence returns the token stored by the run's last fenced
	// transition (0 when it has had none).
	RunFence(ctx context.Context, runID string) (int64, error)
}

// LeaseAcquireParams asks for a lease.
type LeaseAcquireParams struct {
	Key   string
	Owner string
	TTL   time.Duration // at least a millisecond
}

// Lease is one owner's hold on a key. Token orders the owners of a key:
// every acquisition after an expiry or a release gets a larger one.
type Lease struct {
	Key   string    `json:"key"`
	Owner string    `json:"owner"`
	Token int64     `json:"token"`
	Until time.Time `json:"until"` // as the store's clock saw it when granted
}

// RunTransitionFencedParams is a run transition under a lease.
type RunTransitionFencedParams struct {
	RunTransitionParams
	Lease Lease
}

// CheckLeaseParams checks what every driver refuses alike.
func CheckLeaseParams(p LeaseAcquireParams) error {
	switch {
	case p.Key == "":
		return errors.New("lease: key is required")
	case p.Owner == "":
		return errors.New("lease " + p.Key + ": owner is required")
	case p.TTL < time.Millisecond:
		return errors.New("lease " + p.Key + ": ttl must be at least 1ms")
	}
	return nil
}
