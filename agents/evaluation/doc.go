// Package evaluation is the evaluation agent (stage "evaluate"): is the
// candidate genuinely better than what serves production today, on the
// metrics and business KPIs that matter, on every slice that matters,
// beyond noise? It scores the holdout with both models (natively for
// XGBoost artifacts, over the V2 protocol for endpoints, or from
// predictions files), hands the predictions to tools/compare, and turns
// the comparison into a report: flat dotted metrics for policies
// ("candidate.roc_auc", "delta.roc_auc.ci_low", "slice.country=FR.delta.recall"),
// findings (eval.regression, eval.floor, eval.slice_regression,
// eval.undefined_metric, eval.improved), a verdict (fail when a guarded
// metric or slice regressed or a floor is missed; warn when a metric is
// undefined) and the whole comparison as Details. Evaluate and WriteHTML
// are shared with `modelgate evaluate`.
package evaluation
