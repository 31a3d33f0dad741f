// Package validation is the validation agent: it checks a run's data
// before anything is trained or tested.
//
// It validates the reference (training environment, label required), the
// holdout (training) and fresh serving data when data.current is set
// (serving, label optional) against the schema in validation.schema or one
// inferred from the reference; then compares the current data (or the
// holdout) with the reference for drift. Verdict: fail on any failed
// validation check or on dataset drift, warn when some columns drifted
// below the dataset threshold.
//
// Every number goes into Report.Metrics with dotted names, every problem
// into a Finding with a stable code (validate.<rule>, drift.column,
// drift.dataset), and the full structured result into Report.Details.
package validation
