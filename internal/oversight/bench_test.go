package oversight_test

import (
	"context"
	"encoding/json"
	"io"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/charmbracelet/log"

	"github.com/modelgate/modelgate/internal/oversight"
)

// BenchmarkDecide measures one whole promotion decision with the default
// bundle over a realistic input (4 reports, 30 metrics, 50 findings): the
// input digest, the policy evaluation, the checks of its answer, masking
// and recording the audit event (encoded to JSON, as the audit trail does).
//
// Besides ns/op it reports, from per-call measurements:
//   - p50-µs, p99-µs: wall-clock latency of one Decide;
//   - cpu-µs/op: CPU time of the whole process per decision (getrusage,
//     garbage collection included), and cpu-decisions/s = 1e6 / cpu-µs/op,
//     which is what one core sustains; on a shared machine this is the
//     figure to read, because wall-clock time includes waiting for a core;
//   - cpu-p99-µs: the 99th percentile of the CPU time of one call on its
//     own thread (scheduling delays excluded, GC assists included).
//
// Run on one core: bench/oversight/run.sh, or
// go test -run '^$' -bench BenchmarkDecide -cpu 1 ./internal/oversight/
func BenchmarkDecide(b *testing.B) {
	rec := &encodingRecorder{}
	e, err := oversight.NewEngine(context.Background(), oversight.EngineOptions{Recorder: rec, Timeout: 5 * time.Second, Logger: log.New(io.Discard)})
	if err != nil {
		b.Fatal(err)
	}
	in := realisticInput()
	ctx := context.Background()
	// The thread CPU clock measures this goroutine only while it stays on
	// one thread.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	wall := make([]time.Duration, 0, b.N)
	cpu := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	proc0 := processCPU()
	for b.Loop() {
		start, c0 := time.Now(), threadCPU()
		d, err := e.Decide(ctx, in)
		c1, elapsed := threadCPU(), time.Since(start)
		wall, cpu = append(wall, elapsed), append(cpu, c1-c0)
		if err != nil || !d.Allow {
			b.Fatalf("decision: %v %+v", err, d.Deny)
		}
	}
	proc := processCPU() - proc0
	b.StopTimer()
	if rec.n != len(wall) {
		b.Fatalf("%d decisions, %d audit events", len(wall), rec.n)
	}
	if n := len(wall); n > 0 {
		slices.Sort(wall)
		slices.Sort(cpu)
		b.ReportMetric(float64(wall[n/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(wall[n*99/100].Microseconds()), "p99-µs")
		if proc > 0 {
			perOp := float64(proc.Microseconds()) / float64(n)
			b.ReportMetric(perOp, "cpu-µs/op")
			b.ReportMetric(1e6/perOp, "cpu-decisions/s")
			b.ReportMetric(float64(cpu[n*99/100].Microseconds()), "cpu-p99-µs")
		}
	}
}

// encodingRecorder stands in for the audit trail: it encodes each event's
// data to JSON as the trail does before writing, and keeps the count.
type encodingRecorder struct {
	n    int
	last []byte
}

func (r *encodingRecorder) Record(_ context.Context, _, _, _ string, data any) error {
	raw, err := json.Marshal(data)
	if err != nil {
		return err
	}
	r.n++
	r.last = raw
	return nil
}
