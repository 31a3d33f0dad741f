package oversight_test

import (
	"context"
	"io"
	"sort"
	"testing"
	"time"

	"github.com/charmbracelet/log"

	"github.com/modelgate/modelgate/internal/oversight"
)

// BenchmarkDecide measures one promotion decision with the default bundle
// over a realistic input (4 reports, 30 metrics, 50 findings), audit
// recording included, and reports p50/p99 latency alongside ns/op.
// Run on one core: go test -run '^$' -bench Decide -cpu 1 ./internal/oversight/
func BenchmarkDecide(b *testing.B) {
	rec := &discardRecorder{}
	e, err := oversight.NewEngine(context.Background(), oversight.EngineOptions{Recorder: rec, Timeout: time.Second, Logger: log.New(io.Discard)})
	if err != nil {
		b.Fatal(err)
	}
	in := realisticInput()
	ctx := context.Background()
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		d, err := e.Decide(ctx, in)
		lat = append(lat, time.Since(start))
		if err != nil || !d.Allow {
			b.Fatalf("decision: %v %+v", err, d.Deny)
		}
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	if n := len(lat); n > 0 {
		b.ReportMetric(float64(lat[n/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(lat[n*99/100].Microseconds()), "p99-µs")
	}
}

type discardRecorder struct{ n int }

func (r *discardRecorder) Record(context.Context, string, string, string, any) error {
	r.n++
	return nil
}
