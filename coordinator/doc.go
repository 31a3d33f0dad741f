// Package coordinator takes a run from trigger to a terminal state.
//
// A run is persisted the moment it is accepted, and every transition is
// written to the store before the coordinator acts on it, so a coordinator
// killed at any point resumes every in-flight run from its last completed
// stage when it starts again. Completed stages are never re-run; the
// deploy stage is resumed, not repeated, by the deployment agent, which
// keeps its own step state in the store.
//
// Run states:
//
//	         Submit
//	           │
//	           ▼
//	        queued ──────────────────────────────┐
//	           │                                 │ Cancel
//	           ▼                                 ▼
//	        running ──── agent error / deny ──► failed      cancelled
//	validate → [train] → test ║ scan ║ evaluate → decide
//	           │                    │
//	           │ allow              │ approval required
//	           │                    ▼
//	           │            awaiting_approval ── reject / expire / void ──► failed
//	           │                    │ approved
//	           ▼                    ▼
//	        deploying ─────── rollout fails ──► rolled_back
//	           │
//	           ▼
//	        succeeded
//
// Stages within the running state form a graph: validate first (bad data
// makes every later number meaningless), then training when configured,
// then test, scan and evaluate in parallel as independent agents, then
// the oversight decision over all their reports. Each agent attempt has a
// timeout; errors the agent marks retriable are retried with exponential
// backoff; everything else fails the stage and the run.
//
// Several coordinators may share one store (ownership.go): each run is
// driven only under its lease "run/<id>", and every transition and stage
// write carries the lease's fencing token, which the store checks in the
// same atomic step, so a coordinator that lost the lease cannot overwrite
// its successor's work. A run whose coordinator died is taken over once
// the lease runs out.
package coordinator
