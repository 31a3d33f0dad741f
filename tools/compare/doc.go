// Package compare decides whether a candidate model is better than the one
// in production, beyond noise. For every metric it computes the delta
// (candidate − production) with a paired bootstrap confidence interval
// (the same resampled rows for both models, seeded, spread over cores),
// DeLong's test for roc_auc and McNemar's exact test for accuracy, and a
// verdict (improved / no_regression / regressed) per metric, per slice and
// overall. Thresholds are absolute floors (min, max: the candidate's own
// value) and allowed changes (min_delta, max_delta). Unlike MLflow's
// MetricThreshold and TFX's Evaluator, which compare point deltas, a
// metric regresses only when its whole interval lies beyond the allowed
// change, so a small holdout cannot fail a model on noise, and improves
// only when the whole interval lies on the good side of zero. The first
// model of a name (no baseline) is judged on floors alone.
package compare
