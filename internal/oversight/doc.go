// Package oversight is where modelgate decides: an embedded OPA evaluates
// the promotion and authorization policies of a Rego bundle (Engine), and
// decisions that need people wait in the approval queue (Queue).
//
// The Engine compiles a bundle once, runs the bundle's own tests, prepares
// its queries and swaps the whole set atomically on reload, so a broken
// policy never replaces a working one and evaluations in flight are never
// torn. Every decision carries the bundle revision (hash of its files), the
// digest of its input and an id, and is written to the audit trail. A policy
// that gives no usable answer (undefined, too slow, wrong shape) denies.
//
// A decision is cheap because the policy is given less to do, never less to
// see: the engine indexes the evidence in Go as input.facts (facts.go; the
// default policy computes the same facts itself when they are absent), hands
// OPA the input as a lazy object that converts only what the policy reads
// (input.go), evaluates the rules that read no input once per bundle load
// (constants.go), and digests the input with an encoder that writes
// json.Marshal's bytes (digest.go). Tests hold each of these to the plain
// way of doing it.
//
// An approval request is bound to a run, the exact candidate digest, the
// policy revision and the decision id. Its states:
//
//	              Approve (distinct approvers < min)
//	              ┌────────┐
//	              ▼        │
//	Request ──► pending ───┴── Approve (distinct approvers ≥ min) ──► approved
//	              │ │ │
//	              │ │ └─ Reject (any allowed reviewer) ─────────────► rejected
//	              │ └─── deadline passed (ExpireDue, or on a vote) ──► expired
//	              └───── candidate or policy revision changed ──────► voided
//	                     (VoidStale, or noticed on a vote)
//
// Every transition is a compare-and-swap on the approval's version in the
// store, retried after re-reading, so two reviewers racing each other see
// exactly one outcome, and one reviewer voting twice counts once. Requesters
// and commit authors may not approve their own candidate.
package oversight
