// Package deployment is the deployment agent, which rolls a candidate the policy allowed out through the gateway and then promotes it or rolls it back.
//
// # Phases
//
// A smoke test on a preview route, optionally a shadow phase whose
// answers are compared with production's, then a canary with growing
// traffic shares or a blue-green switch; then promotion (routes,
// registry, production pointer, audit, through internal/release) or an
// automatic rollback that restores all traffic to stable and records why.
//
// # Reconciling
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
// # Analysis
//
// Each analysis compares the candidate with stable over the same window
// of gateway traffic (a gateway.Mark taken when the window opens): error
// rate, p99 latency (absolute and as a ratio of stable's), and the score
// distribution (PSI, Kolmogorov-Smirnov, optionally Mann-Whitney with an
// effect-size bound as Kayenta judges). Each check yields a Measurement
// with a ranked Phase (Successful < Inconclusive < Error < Failed). Too
// little traffic is Inconclusive, never a pass; a zero baseline makes a
// ratio undefined and leaves the absolute bound to decide. The statistics
// are tools/stats' (KS with scipy's method="auto", as drift detection
// computes it; Mann-Whitney; Evidently's equal-width PSI).
//
// The analysis reads its traffic through Measurements: Local is the
// gateway in this process; Shared adds every gateway that publishes its
// windows to the store (`modelgate gateway --store ...`), summing counts
// and latency histograms and pooling score samples, so a canary step is
// judged on all its traffic, not one replica's share.
//
// # States
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
//
// # Prompts
//
// A task: llm rollout deploys prompt versions (llm.go): each read by its
// approved digest, its endpoint checked against the gateway's allowlist
// before any route names it, smoke-tested with chat requests, shadowed on
// token F1, and canaried on error rate, p95 latency, time to first token
// and completion tokens (config.LLMRules).
package deployment
