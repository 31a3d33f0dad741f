package metrics_test

import (
	"fmt"

	"github.com/modelgate/modelgate/tools/metrics"
)

func ExampleBinaryData_Binary() {
	y := []float64{0, 0, 1, 1, 0, 1}
	p := []float64{0.1, 0.4, 0.35, 0.8, 0.7, 0.9}
	d, err := metrics.NewBinaryData(y, p)
	if err != nil {
		fmt.Println(err)
		return
	}
	m := d.Binary(0.5, nil)
	fmt.Printf("roc_auc %.4f pr_auc %.4f recall %.4f %+v\n", m.ROCAUC, m.PRAUC, m.Recall, m.Confusion)
	th, cost := d.OptimalThreshold(metrics.CostMatrix{FN: 500, FP: 5})
	fmt.Printf("cheapest threshold %.2f costs %.2f per 1,000\n", th, cost)
	// Output:
	// roc_auc 0.7778 pr_auc 0.8667 recall 0.6667 {TN:2 FP:1 FN:1 TP:2}
	// cheapest threshold 0.35 costs 1666.67 per 1,000
}
