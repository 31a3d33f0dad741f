// Package storetest is the conformance suite every store.Store driver
// passes: the same behaviour tests, run against the real backend (a temp
// SQLite file, a real Redis), never a mock. A driver's own test calls
//
//	storetest.Exercise(t, func(t *testing.T) store.Store { ... })
//
// with a factory that returns a fresh, empty store and registers its
// cleanup with t.Cleanup. Subtests run in parallel, each on its own store.
//
// Besides every method's happy path, ordering and not-found cases, the
// suite races goroutines against each other on every compare-and-swap:
// run transitions, approval decisions, audit appends on the same seq,
// idempotent run creation, production pointers and rollouts. Exactly one
// racer must win and the others must see store.ErrConflict.
package storetest
