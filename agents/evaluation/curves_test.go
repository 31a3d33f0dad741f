package evaluation

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/tools/chart"
	"github.com/modelgate/modelgate/tools/metrics"
)

const curvesTD = "../../testdata/eval/curves/"

type curvesOracle struct {
	FPR, TPR, Precision, Recall, ProbTrue, ProbPred []float64
	ROCAUC                                          float64 `json:"roc_auc"`
	AP                                              float64 `json:"average_precision"`
}

func (o *curvesOracle) UnmarshalJSON(b []byte) error {
	var raw struct {
		FPR       []float64 `json:"fpr"`
		TPR       []float64 `json:"tpr"`
		Precision []float64 `json:"precision"`
		Recall    []float64 `json:"recall"`
		ProbTrue  []float64 `json:"prob_true"`
		ProbPred  []float64 `json:"prob_pred"`
		ROCAUC    float64   `json:"roc_auc"`
		AP        float64   `json:"average_precision"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*o = curvesOracle{raw.FPR, raw.TPR, raw.Precision, raw.Recall, raw.ProbTrue, raw.ProbPred, raw.ROCAUC, raw.AP}
	return nil
}

func readScores(t *testing.T) (labels, cand, prod []float64) {
	t.Helper()
	f, err := os.Open(curvesTD + "scores.csv")
	require.NoError(t, err)
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err)
	for _, r := range rows[1:] {
		v := make([]float64, 3)
		for i := range v {
			v[i], err = strconv.ParseFloat(r[i], 64)
			require.NoError(t, err)
		}
		labels, cand, prod = append(labels, v[0]), append(cand, v[1]), append(prod, v[2])
	}
	return labels, cand, prod
}

// TestCurvesAgainstScikitLearn: the full curves equal scikit-learn's
// roc_curve and precision_recall_curve point for point, the calibration
// bins equal calibration_curve's, and the stored (downsampled) curves
// keep at most 200 of scikit-learn's own vertices, both ends, and the
// area: the stored ROC's trapezoidal AUC is within 0.001 of
// roc_auc_score (testdata/eval/curves/gen_curves.py).
func TestCurvesAgainstScikitLearn(t *testing.T) {
	t.Parallel()
	labels, cand, prod := readScores(t)
	b, err := os.ReadFile(curvesTD + "curves-oracle.json")
	require.NoError(t, err)
	var oracle map[string]curvesOracle
	require.NoError(t, json.Unmarshal(b, &oracle))
	curves := NewCurves(labels, cand, prod)
	require.NotNil(t, curves)
	for _, c := range []struct {
		name   string
		scores []float64
		stored *ModelCurves
	}{{"candidate", cand, curves.Candidate}, {"production", prod, curves.Production}} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			o := oracle[c.name]
			d, err := metrics.NewBinaryData(labels, c.scores)
			require.NoError(t, err)
			roc := d.ROCCurve()
			require.Equal(t, len(o.FPR), len(roc))
			for i, p := range roc {
				require.InDelta(t, o.FPR[i], p.X, 1e-12, "fpr[%d]", i)
				require.InDelta(t, o.TPR[i], p.Y, 1e-12, "tpr[%d]", i)
			}
			pr := d.PRCurve()
			require.Equal(t, len(o.Recall), len(pr))
			for i, p := range pr { // scikit-learn lists them from the lowest threshold
				j := len(o.Recall) - 1 - i
				require.InDelta(t, o.Recall[j], p.X, 1e-12, "recall[%d]", j)
				require.InDelta(t, o.Precision[j], p.Y, 1e-12, "precision[%d]", j)
			}
			require.Equal(t, len(o.ProbTrue), len(c.stored.ProbTrue))
			for i := range o.ProbTrue {
				require.InDelta(t, o.ProbTrue[i], c.stored.ProbTrue[i], 1e-12)
				require.InDelta(t, o.ProbPred[i], c.stored.ProbPred[i], 1e-12)
			}
			var n float64
			for _, k := range c.stored.Count {
				n += k
			}
			require.Equal(t, float64(len(labels)), n, "every row is in one bin")

			require.Greater(t, len(o.FPR), chart.MaxCurvePoints, "the fixture needs downsampling")
			vertices := map[chart.Point]bool{}
			for i := range o.FPR {
				vertices[chart.Point{X: o.FPR[i], Y: o.TPR[i]}] = true
			}
			sroc := c.stored.ROC()
			require.LessOrEqual(t, len(sroc), chart.MaxCurvePoints)
			require.Equal(t, chart.Point{X: 0, Y: 0}, sroc[0])
			require.Equal(t, chart.Point{X: 1, Y: 1}, sroc[len(sroc)-1])
			for _, p := range sroc {
				require.True(t, vertices[p], "stored ROC point %v is a vertex of scikit-learn's curve", p)
			}
			require.InDelta(t, o.ROCAUC, chart.TrapezoidArea(sroc), 1e-3)
			spr := c.stored.PR()
			require.LessOrEqual(t, len(spr), chart.MaxCurvePoints)
			require.Equal(t, chart.Point{X: 0, Y: 1}, spr[0])
			require.Equal(t, 1.0, spr[len(spr)-1].X, "the PR curve ends at full recall")
			auc, ap := d.Ranking(nil)
			require.InDelta(t, o.ROCAUC, auc, 1e-12)
			require.InDelta(t, o.AP, ap, 1e-12)
		})
	}
	b, err = json.Marshal(curves)
	require.NoError(t, err)
	require.Less(t, len(b), 40_000, "the curves of two models stay small in a report")
}

// TestCurvesUndefined: one class has no curves, so the report stores none.
func TestCurvesUndefined(t *testing.T) {
	t.Parallel()
	require.Nil(t, NewCurves([]float64{1, 1, 1}, []float64{0.2, 0.5, 0.9}, nil))
	require.Nil(t, NewCurves(nil, nil, nil))
}
