// Package testing is the testing agent: behavioural tests of a candidate
// through its predictor.
//
// It runs the "test" stage: minimum-functionality cases, invariance,
// directional expectations and prediction sanity (no NaN, probabilities
// in [0,1], latency per row within budget). Verdict: fail when any test
// fails. Every number goes into Report.Metrics with dotted names, every
// problem into a Finding with a stable code (behaviour.<kind>), and the
// full structured result into Report.Details.
//
// The package shares its name with the standard library's testing; code
// that imports both names this one testagent.
package testing
