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
//
// Values near ±1e300 would overflow the sums of squares (numpy gives inf
// there, and a vanished rmse once passed a gate), so when the data is that
// large every value is first divided by a power of two — exact in binary
// floating point — and rmse and mae are scaled back at the end; r2 is a
// ratio and needs no scaling back. Ordinary data takes scale 1 and the
// same arithmetic as before.
func (d *RegressionData) Regression(w []float64) map[string]float64 {
	const eps = 2.220446049250313e-16
	scale := d.scale()
	var tot, sy float64
	for i, y := range d.Y {
		wi := 1.0
		if w != nil {
			wi = w[i]
		}
		tot += wi
		sy += wi * (y / scale)
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
		ys := y / scale
		e := ys - d.P[i]/scale
		se += wi * e * e
		ae += wi * math.Abs(e)
		// |e|/|y| is scale-free; only the floor eps must stay in the
		// unscaled units.
		if math.Abs(y) >= eps {
			ape += wi * math.Abs(e) / math.Abs(ys)
		} else {
			ape += wi * math.Abs(e) * scale / eps
		}
		dm := ys - mean
		ss += wi * dm * dm
	}
	r2 := math.NaN()
	if ss > 0 {
		r2 = 1 - se/ss
	}
	return map[string]float64{
		"rmse": math.Sqrt(safeDiv(se, tot)) * scale,
		"mae":  safeDiv(ae, tot) * scale,
		"r2":   r2,
		"mape": safeDiv(ape, tot),
	}
}

// scale is 1 for ordinary data and otherwise a power of two that brings
// the largest |value| near 1, so that squares and sums of squares of
// differences cannot overflow.
func (d *RegressionData) scale() float64 {
	var m float64
	for i := range d.Y {
		m = max(m, math.Abs(d.Y[i]), math.Abs(d.P[i]))
	}
	if m < 1e100 {
		return 1
	}
	_, exp := math.Frexp(m)
	return math.Ldexp(1, exp)
}
