package metrics

import (
	"errors"
	"fmt"
	"math"
)

// RegressionData is validated (target, prediction) pairs.
type RegressionData struct {
	Y []float64
	P []float64
}

// NewRegressionData checks that targets and predictions are finite.
func NewRegressionData(y, p []float64) (*RegressionData, error) {
	if len(y) != len(p) {
		return nil, fmt.Errorf("%d targets but %d predictions", len(y), len(p))
	}
	if len(y) == 0 {
		return nil, errors.New("no rows")
	}
	for i := range y {
		if math.IsNaN(y[i]) || math.IsInf(y[i], 0) {
			return nil, &ValueError{What: "label", Row: i, Msg: fmt.Sprintf("target %g is not a finite number", y[i])}
		}
		if math.IsNaN(p[i]) || math.IsInf(p[i], 0) {
			return nil, &ValueError{What: "prediction", Row: i, Msg: fmt.Sprintf("prediction %g is not a finite number", p[i])}
		}
	}
	return &RegressionData{Y: y, P: p}, nil
}

// Len is the number of rows.
func (d *RegressionData) Len() int { return len(d.Y) }

// Regression computes rmse, mae, r2 and mape with scikit-learn's
// definitions (mape divides by max(|y|, float64 eps) and is a fraction,
// not a percentage). r2 is NaN when the targets are constant.
func (d *RegressionData) Regression(w []float64) map[string]float64 {
	const eps = 2.220446049250313e-16
	var tot, sy float64
	for i, y := range d.Y {
		wi := 1.0
		if w != nil {
			wi = w[i]
		}
		tot += wi
		sy += wi * y
	}
	mean := safeDiv(sy, tot)
	var se, ae, ape, ss float64
	for i, y := range d.Y {
		wi := 1.0
		if w != nil {
			wi = w[i]
			if wi == 0 {
				continue
			}
		}
		e := y - d.P[i]
		se += wi * e * e
		ae += wi * math.Abs(e)
		ape += wi * math.Abs(e) / max(math.Abs(y), eps)
		dm := y - mean
		ss += wi * dm * dm
	}
	r2 := math.NaN()
	if ss > 0 {
		r2 = 1 - se/ss
	}
	return map[string]float64{
		"rmse": math.Sqrt(safeDiv(se, tot)),
		"mae":  safeDiv(ae, tot),
		"r2":   r2,
		"mape": safeDiv(ape, tot),
	}
}
