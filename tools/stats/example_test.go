package stats_test

import (
	"fmt"

	"github.com/modelgate/modelgate/tools/stats"
)

func ExampleKS2Samp() {
	a := []float64{0.61, 0.29, 0.06, 0.59, -1.73, -0.74, 0.51, -0.56, 0.39, 1.64, 0.05, -0.06, 0.64, -0.82, 0.37}
	b := []float64{1.61, 1.29, 1.06, 1.59, -0.73, 0.26, 1.51, 0.44, 1.39, 2.64, 1.05, 0.94, 1.64, 0.18, 1.37}
	r, _ := stats.KS2Samp(a, b)
	fmt.Printf("D=%.4f p=%.6f (%s)\n", r.Statistic, r.PValue, r.Method)
	w, _ := stats.Wasserstein1(a, b)
	fmt.Printf("W=%.4f\n", w)
	// Output:
	// D=0.6667 p=0.001837 (exact)
	// W=1.0000
}

func ExampleBenjaminiHochberg() {
	fmt.Printf("%.4f\n", stats.BenjaminiHochberg([]float64{0.01, 0.04, 0.03, 0.2}))
	// Output:
	// [0.0400 0.0533 0.0533 0.2000]
}
