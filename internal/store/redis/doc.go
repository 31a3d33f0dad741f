// Package redis is the scale-out Store driver: several coordinators,
// workers and gateways share one Redis (go-redis v9). Every key starts with
// Options.Prefix (default "modelgate:"), so installations and tests can
// share a server.
//
// Each compare-and-swap (run transitions, idempotent run creation,
// approval decisions, audit appends, production pointers, rollouts) is one
// Lua script, which Redis runs atomically: the loser gets ErrConflict and
// nothing it sent is written. Scripts name some keys they build from the
// prefix, so the driver needs a single Redis primary (not Redis Cluster).
//
// Durability is Redis's own: with the default snapshotting a crash can
// lose the last writes; run Redis with appendonly yes (appendfsync
// everysec or always) when the state must survive one.
package redis
