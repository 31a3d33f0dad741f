package metrics

import (
	"math"
	"math/rand/v2"
	"testing"
)

// BenchmarkBinaryRanking1M times what bench/eval/run.sh compares with
// scikit-learn (roc_auc, pr_auc, log_loss, brier), on 1M rows.
func BenchmarkBinaryRanking1M(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	n := 1_000_000
	y := make([]float64, n)
	p := make([]float64, n)
	for i := range y {
		x := rng.NormFloat64() - 3.5
		if rng.Float64() < 0.03 {
			y[i] = 1
			x += 2.5
		}
		p[i] = 1 / (1 + math.Exp(-x))
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		d, err := NewBinaryData(y, p)
		if err != nil {
			b.Fatal(err)
		}
		d.Ranking(nil)
		d.LogLoss(nil)
		d.Brier(nil)
	}
}
