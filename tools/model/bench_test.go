package model

import (
	"bytes"
	"context"
	"encoding/json"
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
	m.SetThreads(1)
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
