package compare_test

import (
	"context"
	"fmt"

	"github.com/modelgate/modelgate/tools/compare"
	"github.com/modelgate/modelgate/tools/model"
)

func ExampleRun() {
	y := []float64{0, 0, 0, 0, 1, 1, 1, 1, 0, 1, 0, 1}
	cand := model.Predictions{Kind: model.Binary, Rows: 12, Values: []float64{.1, .2, .3, .2, .8, .9, .7, .6, .4, .75, .35, .65}}
	prod := model.Predictions{Kind: model.Binary, Rows: 12, Values: []float64{.3, .2, .6, .2, .7, .5, .7, .4, .5, .6, .4, .45}}
	minDelta := -0.05
	r, err := compare.Run(context.Background(), compare.Params{
		Task: "binary", Labels: y, Candidate: cand, Baseline: &prod, Seed: 1, Resamples: 500,
		Thresholds: map[string]compare.Threshold{"roc_auc": {MinDelta: &minDelta}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	auc := r.Comparison["roc_auc"]
	fmt.Printf("roc_auc %.3f -> %.3f, delta %+.3f (%s), verdict %s, passed %v\n",
		*auc.Baseline, *auc.Candidate, *auc.Delta, auc.Test, r.Verdict, r.Passed)
	// Output: roc_auc 0.819 -> 1.000, delta +0.181 (delong), verdict no_regression, passed true
}
