package evaluation

import (
	"math"

	"github.com/modelgate/modelgate/tools/chart"
	"github.com/modelgate/modelgate/tools/compare"
	"github.com/modelgate/modelgate/tools/metrics"
)

// Curves are the points the reviewers' page draws for a binary task,
// stored in the evaluation report beside the comparison, with
// scikit-learn's names: roc_curve (fpr, tpr), precision_recall_curve
// (recall, precision) and calibration_curve (prob_pred, prob_true).
// ROC and PR are downsampled to chart.MaxCurvePoints each, so a report
// stays small on any holdout.
type Curves struct {
	Candidate  *ModelCurves `json:"candidate,omitempty"`
	Production *ModelCurves `json:"production,omitempty"`
}

// ModelCurves are one model's curves.
type ModelCurves struct {
	FPR       []float64 `json:"fpr"`
	TPR       []float64 `json:"tpr"`
	Recall    []float64 `json:"recall"`
	Precision []float64 `json:"precision"`
	// Calibration bins: equal-width, metrics.ECEBins of them, empty ones
	// left out (calibration_curve with n_bins=10, strategy uniform).
	ProbPred []float64 `json:"prob_pred"`
	ProbTrue []float64 `json:"prob_true"`
	Count    []float64 `json:"count"`
}

// details is Report.Details of the evaluate stage: the comparison (the
// JSON of `modelgate evaluate --json`) and the curves.
type details struct {
	*compare.Result
	Curves *Curves `json:"curves,omitempty"`
}

// NewCurves computes both models' curves; nil when there are none
// (a task other than binary, or labels of one class).
func NewCurves(labels, candidate, production []float64) *Curves {
	c := &Curves{Candidate: modelCurves(labels, candidate)}
	if c.Candidate == nil {
		return nil
	}
	if production != nil {
		c.Production = modelCurves(labels, production)
	}
	return c
}

func modelCurves(labels, scores []float64) *ModelCurves {
	d, err := metrics.NewBinaryData(labels, scores)
	if err != nil {
		return nil
	}
	roc := d.ROCCurve()
	if len(roc) == 0 {
		return nil
	}
	m := &ModelCurves{}
	for _, p := range chart.Downsample(toChart(roc), chart.MaxCurvePoints) {
		m.FPR, m.TPR = append(m.FPR, p.X), append(m.TPR, p.Y)
	}
	for _, p := range chart.Downsample(toChart(d.PRCurve()), chart.MaxCurvePoints) {
		m.Recall, m.Precision = append(m.Recall, p.X), append(m.Precision, p.Y)
	}
	for _, b := range d.Reliability(metrics.ECEBins) {
		m.ProbPred, m.ProbTrue, m.Count = append(m.ProbPred, b.MeanScore), append(m.ProbTrue, b.Positive), append(m.Count, b.Count)
	}
	return m
}

func toChart(pts []metrics.Point) []chart.Point {
	out := make([]chart.Point, 0, len(pts))
	for _, p := range pts {
		if !math.IsNaN(p.X) && !math.IsNaN(p.Y) {
			out = append(out, chart.Point{X: p.X, Y: p.Y})
		}
	}
	return out
}

// ROC returns the stored ROC curve as chart points.
func (m *ModelCurves) ROC() []chart.Point { return zip(m.FPR, m.TPR) }

// PR returns the stored precision-recall curve as chart points.
func (m *ModelCurves) PR() []chart.Point { return zip(m.Recall, m.Precision) }

// Bins returns the stored calibration bins.
func (m *ModelCurves) Bins() []chart.Bin {
	n := min(len(m.ProbPred), len(m.ProbTrue), len(m.Count))
	out := make([]chart.Bin, 0, n)
	for i := range n {
		out = append(out, chart.Bin{MeanPredicted: m.ProbPred[i], FractionPositive: m.ProbTrue[i], Count: m.Count[i]})
	}
	return out
}

func zip(x, y []float64) []chart.Point {
	n := min(len(x), len(y))
	out := make([]chart.Point, 0, n)
	for i := range n {
		out = append(out, chart.Point{X: x[i], Y: y[i]})
	}
	return out
}
