// Package agents is the contract between the coordinator and the agents that do a run's work.
//
// # Contract
//
// An Agent has a Name and a Run(ctx, Task) (Report, error); the error
// means "could not run", and a candidate that fails is a Report with
// verdict fail. One sub-package per pipeline stage implements it, named
// for its stage: validation, training, testing, security, evaluation,
// deployment (and assistant, which explains and triages). The vocabulary
// the stages share (Candidate, Production, Report, Finding, Verdict) is
// internal/pipeline, a leaf package; this package re-exports it as type
// aliases (the same types) beside Task.
//
// # Who decides
//
// The measuring agents (validation, testing, security, evaluation) never
// decide a promotion: they measure and report, and what a finding means is
// decided by the oversight layer's policies. The deployment agent acts on
// a decision already taken: it rolls out only a candidate the policy (and
// the reviewers, when required) allowed, and it does set the production
// pointer — it promotes a candidate that passed its rollout analysis, and
// rolls back one that failed, through internal/release, the one
// compare-and-swap over the registry, the production pointer and the
// routes that the coordinator and the API use too.
package agents
