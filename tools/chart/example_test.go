package chart_test

import (
	"fmt"
	"math"
	"strings"

	"github.com/modelgate/modelgate/tools/chart"
)

func ExampleDeltas() {
	svg := chart.Deltas(chart.DeltasParams{ID: "deltas", Title: "Candidate − production", Confidence: 0.95, Items: []chart.Delta{
		{Label: "roc_auc", Delta: 0.012, Low: 0.004, High: 0.02, Class: "up"},
		{Label: "log_loss", Delta: -0.03, Low: -0.09, High: math.NaN()},
	}})
	s := string(svg)
	fmt.Println(strings.Contains(s, "<title>roc_auc: delta +0.012, 95% interval [+0.004, +0.02]</title>"))
	fmt.Println(strings.Count(s, `class="point"`))
	// Output:
	// true
	// 2
}

func ExampleDownsample() {
	var pts []chart.Point
	for i := 0; i <= 1000; i++ {
		x := float64(i) / 1000
		pts = append(pts, chart.Point{X: x, Y: math.Sqrt(x)})
	}
	out := chart.Downsample(pts, 50)
	fmt.Println(len(out), out[0], out[len(out)-1])
	fmt.Printf("%.4f %.4f\n", chart.TrapezoidArea(pts), chart.TrapezoidArea(out))
	// Output:
	// 50 {0 0} {1 1}
	// 0.6667 0.6666
}
