// Package metrics computes model quality metrics with scikit-learn's names
// and definitions, so that every number can be checked against it:
// binary (accuracy, precision, recall, f1 at a threshold, roc_auc, pr_auc
// as average precision, log_loss, brier, expected calibration error,
// confusion matrix), multiclass (accuracy, macro_f1, log_loss) and
// regression (rmse, mae, r2, mape); business cost from a cost matrix and
// the cost-minimising threshold; and the grouping of rows into slices.
//
// Every metric takes optional row weights. The comparison with production
// resamples rows thousands of times; with weights (bootstrap counts) and
// the score order computed once by NewBinaryData, a resample costs one
// linear pass instead of a copy and a sort. An undefined metric (roc_auc
// with one class) is NaN; callers report it as such, never as a number.
package metrics
