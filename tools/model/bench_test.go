package model

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func benchSetup(b *testing.B) (*XGBoost, Batch) {
	m, err := LoadXGBoostFile(filepath.Join(testdata, "binary-breast-cancer", "model-candidate.json"))
	if err != nil {
		b.Fatal(err)
	}
	hold := readFrame(b, filepath.Join(testdata, "binary-breast-cancer", "holdout.csv"))
	one, err := BatchFromFrame(hold, m.Info().Features)
	if err != nil {
		b.Fatal(err)
	}
	return m, one
}

// BenchmarkPredictSingleThread is native inference of the fixture
// candidate (80 trees, depth 3) on one core; see bench/eval for the
// comparison with xgboost.
func BenchmarkPredictSingleThread(b *testing.B) {
	m, one := benchSetup(b)
	benchPredict(b, m, one, 1)
}

// BenchmarkPredictTwoThreads is the same on two goroutines.
func BenchmarkPredictTwoThreads(b *testing.B) {
	m, one := benchSetup(b)
	benchPredict(b, m, one, 2)
}

// BenchmarkPredictDeepTrees is one core on 100 random trees of depth
// up to 6 (xgboost's default max_depth) over 30 features, a fifth of
// the values missing: the flat layout's general step.
func BenchmarkPredictDeepTrees(b *testing.B) {
	rng := rand.New(rand.NewPCG(6, 6))
	m := randomModel(b, rng, 100, 30, 6, 1, false)
	benchPredict(b, m, randomBatch(rng, 10_000, 30), 1)
}

// benchPredict scores copies of one until there are 100,000 rows, on
// threads goroutines, and reports rows per second of wall and of CPU.
func benchPredict(b *testing.B, m *XGBoost, one Batch, threads int) {
	m.SetThreads(threads)
	big := Batch{Features: one.Features}
	for big.Rows < 100_000 {
		big.Values = append(big.Values, one.Values...)
		big.Rows += one.Rows
	}
	b.ResetTimer()
	c0 := processCPU()
	for i := 0; i < b.N; i++ {
		if _, err := m.Predict(context.Background(), big); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(big.Rows*b.N)/b.Elapsed().Seconds(), "rows/s")
	// CPU time is the figure that survives neighbours on a shared
	// machine (wall time also counts the time they hold the core).
	b.ReportMetric(float64(big.Rows*b.N)/(processCPU()-c0).Seconds(), "rows/cpu-s")
}

// processCPU is the process's user+system CPU time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkServeInferSingleRow is the handler's cost of one single-row V2
// request, without the network.
func BenchmarkServeInferSingleRow(b *testing.B) {
	m, one := benchSetup(b)
	body, _ := json.Marshal(map[string]any{"inputs": []any{map[string]any{"name": "x", "shape": []int{1, 30}, "datatype": "FP64", "data": one.Row(0)}}})
	h := NewServer(ServerOptions{Models: map[string]Predictor{"fraud": m}})
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req := httptest.NewRequest(http.MethodPost, "/v2/models/fraud/infer", bytes.NewReader(body))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatal(w.Body.String())
		}
	}
}
