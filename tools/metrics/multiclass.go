package metrics

import (
	"errors"
	"fmt"
	"math"
)

// MulticlassData is validated (class, probabilities) rows.
type MulticlassData struct {
	Y       []float64 // class index 0..K-1
	P       []float64 // row-major N×K probabilities
	Classes int
	Float32 bool // a float32 array (a model's own output): log_loss renormalises in float32 as sklearn
}

// NewMulticlassData checks that labels are class indices and that each
// row holds K finite probabilities in [0, 1]. They are taken as float64,
// as scikit-learn on scores read from text.
func NewMulticlassData(y, p []float64, classes int) (*MulticlassData, error) {
	return newMulticlassData(y, p, classes, false)
}

// NewMulticlassDataFloat32 is NewMulticlassData for a model's float32
// output (log_loss clipped and renormalised in float32).
func NewMulticlassDataFloat32(y, p []float64, classes int) (*MulticlassData, error) {
	q := make([]float64, len(p))
	for i, v := range p {
		q[i] = float64(float32(v))
	}
	return newMulticlassData(y, q, classes, true)
}

func newMulticlassData(y, p []float64, classes int, f32 bool) (*MulticlassData, error) {
	if classes < 2 {
		return nil, fmt.Errorf("multiclass needs at least 2 classes, got %d", classes)
	}
	if len(p) != len(y)*classes {
		return nil, fmt.Errorf("%d labels but %d probabilities for %d classes", len(y), len(p), classes)
	}
	if len(y) == 0 {
		return nil, errors.New("no rows")
	}
	for i, v := range y {
		if v != math.Trunc(v) || v < 0 || v >= float64(classes) {
			return nil, &ValueError{What: "label", Row: i, Msg: fmt.Sprintf("%g is not a class index in 0..%d", v, classes-1)}
		}
		for k := 0; k < classes; k++ {
			if err := checkProb(p[i*classes+k]); err != nil {
				return nil, &ValueError{What: fmt.Sprintf("probability p%d", k), Row: i, Msg: err.Error()}
			}
		}
	}
	return &MulticlassData{Y: y, P: p, Classes: classes, Float32: f32}, nil
}

// Len is the number of rows.
func (d *MulticlassData) Len() int { return len(d.Y) }

// Argmax is the predicted class of row i; ties go to the lower class, as
// numpy's argmax.
func (d *MulticlassData) Argmax(i int) int {
	row := d.P[i*d.Classes : (i+1)*d.Classes]
	best := 0
	for k := 1; k < len(row); k++ {
		if row[k] > row[best] {
			best = k
		}
	}
	return best
}

// Multiclass computes accuracy, macro_f1 (over the classes present in
// labels or predictions, as sklearn) and log_loss (clipped, renormalised
// rows, as sklearn 1.2). w weights rows; nil = 1.
func (d *MulticlassData) Multiclass(w []float64) map[string]float64 {
	K := d.Classes
	tp := make([]float64, K)
	fp := make([]float64, K)
	fn := make([]float64, K)
	present := make([]bool, K)
	var correct, tot, ll float64
	for i, yv := range d.Y {
		wi := 1.0
		if w != nil {
			wi = w[i]
			if wi == 0 {
				continue
			}
		}
		y := int(yv)
		pred := d.Argmax(i)
		present[y], present[pred] = true, true
		if pred == y {
			correct += wi
			tp[y] += wi
		} else {
			fp[pred] += wi
			fn[y] += wi
		}
		row := d.P[i*K : (i+1)*K]
		if d.Float32 {
			var s float32
			for _, q := range row {
				s += min(max(float32(q), eps32), 1-eps32)
			}
			ll -= wi * math.Log(float64(min(max(float32(row[y]), eps32), 1-eps32)/s))
		} else {
			var s float64
			for _, q := range row {
				s += min(max(q, eps64), 1-eps64)
			}
			ll -= wi * math.Log(min(max(row[y], eps64), 1-eps64)/s)
		}
		tot += wi
	}
	var f1 float64
	var nc int
	for k := 0; k < K; k++ {
		if !present[k] {
			continue
		}
		nc++
		f1 += zeroDiv(2*tp[k], 2*tp[k]+fp[k]+fn[k])
	}
	return map[string]float64{
		"accuracy": safeDiv(correct, tot),
		"macro_f1": safeDiv(f1, float64(nc)),
		"log_loss": safeDiv(ll, tot),
	}
}
