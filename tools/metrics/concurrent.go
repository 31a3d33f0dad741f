package metrics

import "sync"

// concurrentRows is the size from which Binary computes its metrics side
// by side: each is one pass over every row (the ranking one over the
// sorted scores), ~20-40 ms apiece on 10M rows, and nothing else runs
// while an evaluation without a baseline summarises. Below it, or with
// resample weights (the bootstrap already uses every core), they run one
// after the other.
const concurrentRows = 1 << 20

// binaryConcurrent is Binary(threshold, nil) with the passes on separate
// goroutines. Each pass is the same function, summing in the same order,
// so every value is the one Binary computes one pass after the other.
func (d *BinaryData) binaryConcurrent(threshold float64) BinaryMetrics {
	var m BinaryMetrics
	var wg sync.WaitGroup
	jobs := []func(){
		func() { m.ROCAUC, m.PRAUC = d.Ranking(nil) },
		func() { m.Confusion = d.ConfusionAt(threshold, nil) },
		func() { m.LogLoss = d.LogLoss(nil); m.Brier = d.Brier(nil) },
		func() { m.ECE = d.ECE(ECEBins, nil) },
	}
	for _, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			j()
		}()
	}
	wg.Wait()
	c := m.Confusion
	n := c.TN + c.FP + c.FN + c.TP
	m.Accuracy = safeDiv(c.TP+c.TN, n)
	m.Precision = zeroDiv(c.TP, c.TP+c.FP)
	m.Recall = zeroDiv(c.TP, c.TP+c.FN)
	m.F1 = zeroDiv(2*c.TP, 2*c.TP+c.FP+c.FN)
	return m
}
