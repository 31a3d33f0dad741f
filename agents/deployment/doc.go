// Package deployment is the deployment agent: it takes a candidate that
// the policy allowed and rolls it out through the gateway — a smoke test
// on a preview route, optionally a shadow phase whose answers are compared
// with production's, then a canary with growing traffic shares or a
// blue-green switch — and either promotes it (routes, registry, production
// pointer, audit) or rolls it back by itself, restoring all traffic to
// stable and recording why.
//
// The rollout is a list of idempotent reconcile steps over state stored
// in the store (store.Rollout, compare-and-swap on its version) and re-read
// every tick, after Argo Rollouts and Flagger. A coordinator that crashes
// and calls Run again for the same run continues where the stored state
// stood; side effects that are not naturally idempotent (audit entries,
// the registry, the production pointer) are flagged in State.Done once
// applied. Manual controls (Promote, Abort, Pause, Resume) write a request
// into the same state, so they reach a rollout driven by any process.
//
// Each analysis compares the candidate with stable over the same window
// of gateway traffic (a gateway.Mark taken when the window opens): error
// rate, p99 latency (absolute and as a ratio of stable's), and the score
// distribution (PSI, Kolmogorov-Smirnov, optionally Mann-Whitney with an
// effect-size bound as Kayenta judges). Each check yields a Measurement
// with a ranked Phase (Successful < Inconclusive < Error < Failed). Too
// little traffic is Inconclusive, never a pass; a zero baseline makes a
// ratio undefined and leaves the absolute bound to decide.
//
// States:
//
//	pending ──► smoke ──┬──► shadow ──┬──► canary(step 1..n) ──┬──► promoting ──► promoted
//	                    │             │      │  ▲ failed check  │
//	                    │             │      └──┘ (< max)       │
//	                    │             └──► bluegreen (switched, │
//	                    │                  watched) ────────────┤
//	                    └── first version of the model ─────────┘
//
//	any non-terminal phase ── failed checks ≥ max, smoke failure, candidate
//	crash, no data × max_inconclusive, timeout, Abort ──► rolling_back ──► rolled_back
//
// Promote moves any running phase to promoting; Pause holds the current
// split (no window is judged) until Resume, which opens a fresh window.
package deployment
