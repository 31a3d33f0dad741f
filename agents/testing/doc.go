// Package testagent is the testing agent (folder agents/testing; the
// package is named testagent so that it does not shadow the standard
// library's testing in test files). It runs two stages of a run:
//
//   - "validate": validates the reference (training environment, label
//     required), the holdout (training) and fresh serving data when
//     data.current is set (serving, label optional) against the schema in
//     validation.schema or one inferred from the reference; then compares
//     the current data (or the holdout) with the reference for drift.
//     Verdict: fail on any failed validation check or on dataset drift,
//     warn when some columns drifted below the dataset threshold.
//   - "test": behavioural tests of the candidate through its predictor:
//     minimum-functionality cases, invariance, directional expectations
//     and prediction sanity (no NaN, probabilities in [0,1], latency per
//     row within budget). Verdict: fail when any test fails.
//
// Every number goes into Report.Metrics with dotted names, every problem
// into a Finding with a stable code (validate.<rule>, drift.column,
// drift.dataset, behaviour.<kind>), and the full structured result into
// Report.Details.
package testagent
