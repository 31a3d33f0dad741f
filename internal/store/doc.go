// Package store defines what modelgate persists and the Store interface
// every backend implements: sqlite (the embedded default) and redis (for
// several coordinators). Drivers map their own errors to ErrNotFound and
// ErrConflict, and every driver must pass storetest.Exercise, which runs
// the same behaviour tests against the real backend.
//
// Writes that race (run transitions, approval decisions, rollout steps,
// audit appends) are compare-and-swap operations: the loser gets
// ErrConflict and nothing it sent is written.
package store
