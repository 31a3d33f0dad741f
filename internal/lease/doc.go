// Package lease holds time-bound ownerships in the store for as long as
// their holder lives: a Hold renews one lease in the background and
// cancels its context the moment the lease is lost, and a Leader
// campaigns for one well-known key so that exactly one server runs the
// work that must not run twice (cron ticks, the production monitor,
// approval expiry).
//
// Losing is always possible — a paused process, a partition, a Redis
// failover — so holding a lease is never proof on its own: every write
// that matters carries the lease's fencing token and the store refuses it
// once the lease is gone (store.Leases).
//
// Leader states:
//
//	     start
//	       │
//	       ▼
//	┌─► follower ── acquire ok ──► leader
//	│      ▲  │                      │
//	│      └──┘ acquire refused      │ renew refused, or not renewed
//	│         (every TTL/3)          │ before the TTL (store unreachable)
//	└────────────────────────────────┘
//	  (Changes delivers false; the leader Context ends)
package lease
