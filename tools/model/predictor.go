package model

import (
	"context"
	"fmt"
)

// Batch is a block of rows to score. Values is row-major, Rows×len(Features),
// with NaN for a missing value. Features names the columns in order.
type Batch struct {
	Features []string
	Rows     int
	Values   []float64
}

// Row returns row i's values (a view, not a copy).
func (b Batch) Row(i int) []float64 {
	f := len(b.Features)
	return b.Values[i*f : (i+1)*f]
}

// Check verifies that Values has Rows×len(Features) entries.
func (b Batch) Check() error {
	if b.Rows < 0 || len(b.Values) != b.Rows*len(b.Features) {
		return fmt.Errorf("batch: %d values for %d rows × %d features", len(b.Values), b.Rows, len(b.Features))
	}
	return nil
}

// Kind is what a model's output means.
type Kind string

const (
	Binary     Kind = "binary"     // one probability of the positive class per row
	Multiclass Kind = "multiclass" // Classes probabilities per row
	Regression Kind = "regression" // one value per row
)

// Predictions are a model's outputs for a batch. Values is row-major,
// Rows×Width(): one value per row for binary and regression, Classes per
// row for multiclass.
type Predictions struct {
	Kind    Kind
	Classes int // multiclass only
	Rows    int
	Values  []float64
	// Float32 says the model computed in float32 (native XGBoost, a V2
	// FP32 output): scikit-learn then clips log_loss at float32's epsilon,
	// as it does on xgboost's own arrays. Scores read from text are
	// float64, as pandas reads them.
	Float32 bool
}

// Width is the number of values per row.
func (p Predictions) Width() int {
	if p.Kind == Multiclass {
		return p.Classes
	}
	return 1
}

// Row returns row i's outputs (a view).
func (p Predictions) Row(i int) []float64 {
	w := p.Width()
	return p.Values[i*w : (i+1)*w]
}

// Info describes a model to its callers.
type Info struct {
	Name     string   `json:"name"`
	Kind     Kind     `json:"kind"`
	Classes  int      `json:"classes,omitempty"`
	Features []string `json:"features,omitempty"` // empty when the source does not say
	// Inference says how a native model turns rows into scores where a
	// user could expect otherwise: the missing value and the trees used.
	Inference string `json:"inference,omitempty"`
}

// Predictor scores batches. Implementations: the native XGBoost evaluator,
// the Open Inference Protocol V2 client, and a predictions file.
type Predictor interface {
	Info() Info
	Predict(ctx context.Context, b Batch) (Predictions, error)
}
