// Package monitor watches every model in production that has monitor
// settings and closes the loop when it degrades: on an interval, the
// inputs the gateway sampled since the last check are compared with the
// reference data of the run that produced the production version
// (tools/drift), and the version's scores and error rate with its
// baseline (the first window of at least min_samples requests after it
// became production). A check over any threshold extends a streak; K
// checks in a row (debounce) raise one drift alert — audited as
// drift.alert, notified to the model's channel and webhooks — and take
// the configured action: notify only, start a retraining run, or roll
// back to the previous version. A check under every threshold ends the
// streak.
//
//	new version ─► baseline window ─► check ─┬─ under ─► streak 0
//	                                         └─ over ──► streak+1 ─► K? ─► alert, action (once per streak)
//
// The state and the last 200 checks of each model are stored, so a
// restart keeps the streak and the baseline, and `modelgate monitor
// status`, GET /v1/models/{name}/monitor, the reviewers' page and the
// modelgate_monitor_* gauges show them. Only the leader runs checks.
package monitor
