package compare

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/modelgate/modelgate/tools/model"
)

// BenchmarkRun100k is a full comparison of two binary models on 100k rows
// with 1,000 paired bootstrap resamples.
func BenchmarkRun100k(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 6))
	n := 100_000
	y := make([]float64, n)
	c := make([]float64, n)
	p := make([]float64, n)
	for i := range y {
		x := rng.NormFloat64() - 2
		if rng.Float64() < 0.1 {
			y[i] = 1
			x += 2
		}
		c[i] = 1 / (1 + math.Exp(-x-0.3*rng.NormFloat64()))
		p[i] = 1 / (1 + math.Exp(-x-0.5*rng.NormFloat64()))
	}
	base := model.Predictions{Kind: model.Binary, Rows: n, Values: p}
	for i := 0; i < b.N; i++ {
		_, err := Run(context.Background(), Params{Task: "binary", Labels: y, Candidate: model.Predictions{Kind: model.Binary, Rows: n, Values: c}, Baseline: &base, Seed: 1})
		if err != nil {
			b.Fatal(err)
		}
	}
}
