// Package model scores data with a model, whatever serves it. A Predictor
// has three sources: a native evaluator of XGBoost JSON models (gbtree and
// dart; binary, regression, count and multiclass objectives) that computes
// in float32 exactly as XGBoost does and spreads row blocks over cores; a
// client of an Open Inference Protocol V2 REST endpoint (batching,
// timeouts, retries, shape checks); and a predictions file row-aligned
// with the data. NewServer is the other side of the protocol: the V2
// model server behind `modelgate serve`.
//
// Inputs are matched to a model's features by name, never by position,
// unless the model was trained without names. Missing values are NaN and
// follow each split's learnt default direction.
package model
