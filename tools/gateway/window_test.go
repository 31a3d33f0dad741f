package gateway

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"math/rand/v2"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/charmbracelet/log"
	"github.com/stretchr/testify/require"
)

func TestHistogramQuantileWithinABucket(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	tests := []struct {
		name       string
		continuous bool
		gen        func() float64
	}{
		{"lognormal latencies", true, func() float64 { return math.Exp(r.NormFloat64()*0.8 + 1) }},
		{"uniform 0.1..300 ms", true, func() float64 { return 0.1 + 299.9*r.Float64() }},
		{"few distinct values", false, func() float64 { return float64(1 + r.IntN(4)) }},
		{"a slow tail", true, func() float64 {
			if r.IntN(50) == 0 {
				return 800 + 200*r.Float64()
			}
			return 2 + r.Float64()
		}},
	}
	for _, tc := range tests {
		// not parallel: the generators share r
		var h Histogram
		v := make([]float64, 5000)
		for i := range v {
			v[i] = tc.gen()
			h.Add(v[i])
		}
		slices.Sort(v)
		require.EqualValues(t, len(v), h.N(), tc.name)
		for _, q := range []float64{0.5, 0.9, 0.99} {
			// numpy's linear quantile lies between the values of ranks
			// ⌊q(n−1)⌋ and ⌈q(n−1)⌉; the estimate lies within one bucket
			// (6.25 %) of that bracket
			rank := q * float64(len(v)-1)
			lo, hi := v[int(math.Floor(rank))], v[int(math.Ceil(rank))]
			est := h.Quantile(q)
			require.GreaterOrEqual(t, est, lo/(1+1.0/histSub)-1e-9, "%s q=%g", tc.name, q)
			require.LessOrEqual(t, est, hi*(1+1.0/histSub)+1e-9, "%s q=%g", tc.name, q)
		}
		require.InEpsilon(t, mean(v), h.Mean(), 1e-12, tc.name)
		// at powers of two the coarse le counts are exact (for values
		// that are not the bound itself)
		want := histogram(v)
		got := h.buckets()
		for i, b := range bucketBounds {
			if lf := math.Log2(b); tc.continuous && lf == math.Trunc(lf) {
				require.Equal(t, want[i].Count, got[i].Count, "%s le=%g", tc.name, b)
			}
		}
		require.Equal(t, want[len(want)-1], got[len(got)-1])
	}
}

func TestHistogramEdges(t *testing.T) {
	t.Parallel()
	for _, v := range []float64{0, -1, math.NaN(), 1e-9} {
		require.Equal(t, 0, histIndex(v), "%g", v)
	}
	require.Equal(t, histBuckets-1, histIndex(math.Inf(1)))
	require.Equal(t, histBuckets-1, histIndex(1e9))
	for i := 1; i < histBuckets-1; i++ {
		lo, hi := histLower(i), histLower(i+1)
		require.Equal(t, i, histIndex(lo), "lower edge of %d", i)
		require.Equal(t, i, histIndex(math.Nextafter(hi, 0)), "just under the upper edge of %d", i)
		require.LessOrEqual(t, hi/lo, 1+1.0/histSub+1e-12)
	}
	var h Histogram
	require.Zero(t, h.Quantile(0.99))
	var a, b Histogram
	a.Add(1)
	a.Add(2)
	b.Add(1)
	d := a.Since(&b)
	require.EqualValues(t, 1, d.N())
	require.InDelta(t, 2, d.Sum, 1e-12)
	reset := b.Since(&a) // b is "older" than a: counters were reset, b counts whole
	require.Equal(t, b, reset)
}

func TestSamplesCarryNaNAndInfinities(t *testing.T) {
	t.Parallel()
	in := Samples{0.25, math.NaN(), math.Inf(1), math.Inf(-1), -0.0, 1e-300}
	raw, err := json.Marshal(in)
	require.NoError(t, err)
	var out Samples
	require.NoError(t, json.Unmarshal(raw, &out))
	require.Len(t, out, len(in))
	for i := range in {
		require.Equal(t, math.Float64bits(in[i]), math.Float64bits(out[i]))
	}
	for _, bad := range []string{`"AAAA"`, `12`, `"not base64!"`} {
		require.Error(t, json.Unmarshal([]byte(bad), &out), bad)
	}
}

// twoGateways are two gateways sharing one store and nothing else.
func twoGateways(t *testing.T, table RouteTable) (*bundle, *Gateway, string) {
	t.Helper()
	a := setup(t, Options{})
	require.NoError(t, a.gw.SetRoutes(context.Background(), table.Model, table))
	b, err := New(Options{Routes: a.store, Logger: log.New(io.Discard)})
	require.NoError(t, err)
	t.Cleanup(func() { b.Close() })
	require.NoError(t, b.Load(context.Background()))
	srv := httptest.NewServer(b)
	t.Cleanup(srv.Close)
	return a, b, srv.URL
}

func TestWindowsMergeToTheWholeTraffic(t *testing.T) {
	t.Parallel()
	stable := newUpstream(t, firstFeature)
	cand := newUpstream(t, func(r []float64) float64 { return r[0] / 2 })
	a, b, bURL := twoGateways(t, RouteTable{Model: "m", Stable: Backend{Version: "v1", URL: stable.URL},
		Candidate: &Backend{Version: "v2", URL: cand.URL}, CandidateWeight: 50, Mode: ModeCanary})
	ctx := context.Background()
	// positions before the window, as a Mark keeps them
	fromA, fromB := a.gw.Window("m").Position(), b.Window("m").Position()
	markA := a.gw.Mark("m")
	rows := make([][]float64, 37)
	for i := range rows {
		rows[i] = []float64{float64(i) / 37}
	}
	for _, tc := range []struct {
		url string
		n   int
	}{{a.srv.URL, 120}, {bURL, 80}} {
		res, err := Replay(ctx, ReplayOptions{URL: tc.url, Model: "m", Rows: rows, Requests: tc.n, Concurrency: 4})
		require.NoError(t, err)
		require.Equal(t, tc.n, res.OK)
	}
	// b publishes through the store; a is read live
	require.NoError(t, b.Publish(ctx, a.store))
	pub, err := a.store.WindowList(ctx, "m")
	require.NoError(t, err)
	require.Len(t, pub, 1)
	wb, err := DecodeWindow("m", pub[b.Epoch()])
	require.NoError(t, err)
	da, db := a.gw.Window("m").Since(fromA), wb.Since(fromB)

	for _, v := range []string{"v1", "v2"} {
		sa, sb := a.gw.Stats("m", v, markA), b.Stats("m", v, Mark{})
		merged := MergeVersion(v, da.Versions[v], db.Versions[v])
		require.Equal(t, sa.Requests+sb.Requests, merged.Requests, v)
		require.Equal(t, sa.Errors+sb.Errors, merged.Errors, v)
		require.ElementsMatch(t, append(slices.Clone(sa.Scores), sb.Scores...), merged.Scores, "%s: scores pooled", v)
		// one gateway alone: the window form gives the exact figures back
		one := MergeVersion(v, da.Versions[v])
		require.Equal(t, sa.Requests, one.Requests)
		require.Equal(t, sa.Scores, one.Scores)
		require.Equal(t, sa.Requests, one.Histogram[len(one.Histogram)-1].Count, "%s: every latency is in the histogram", v)
		require.Positive(t, one.LatencyP99Ms, v)
	}
	require.EqualValues(t, 200, MergeVersion("v1", da.Versions["v1"], db.Versions["v1"]).Requests+
		MergeVersion("v2", da.Versions["v2"], db.Versions["v2"]).Requests)
}

func TestShadowWindowsMerge(t *testing.T) {
	t.Parallel()
	stable := newUpstream(t, firstFeature)
	cand := newUpstream(t, func(r []float64) float64 { return r[0] + 0.2 })
	a, b, bURL := twoGateways(t, RouteTable{Model: "m", Stable: Backend{Version: "v1", URL: stable.URL},
		Candidate: &Backend{Version: "v2", URL: cand.URL}, ShadowShare: 1, Mode: ModeShadow})
	ctx := context.Background()
	rows := make([][]float64, 10)
	for i := range rows {
		rows[i] = []float64{float64(i) / 10}
	}
	for _, url := range []string{a.srv.URL, bURL} {
		res, err := Replay(ctx, ReplayOptions{URL: url, Model: "m", Rows: rows, Requests: 50, Concurrency: 2})
		require.NoError(t, err)
		require.Equal(t, 50, res.OK)
	}
	require.Eventually(t, func() bool {
		return a.gw.ShadowStats("m", Mark{}).Compared == 50 && b.ShadowStats("m", Mark{}).Compared == 50
	}, 5*time.Second, time.Millisecond)
	sa, sb := a.gw.ShadowStats("m", Mark{}), b.ShadowStats("m", Mark{})
	m := MergeShadow(a.gw.Window("m").Shadow, b.Window("m").Shadow)
	require.EqualValues(t, 100, m.Compared)
	require.EqualValues(t, 100, m.Rows)
	require.EqualValues(t, sa.AgreeRows+sb.AgreeRows, m.AgreeRows)
	require.InDelta(t, 0.8, m.Agreement, 1e-12)
	require.InDelta(t, 0.2, m.MeanAbsDelta, 1e-9)
	require.InDelta(t, 0.2, m.MaxAbsDelta, 1e-9)
	require.InDelta(t, (sa.ShadowMeanMs+sb.ShadowMeanMs)/2, m.ShadowMeanMs, 1e-9, "equal counts: the pooled mean is the mean of means")
}

// The request path records into a fixed histogram: no allocation once a
// version's buffers exist.
func TestRecordDoesNotAllocate(t *testing.T) { // not parallel: AllocsPerRun refuses
	var s series
	out := &Outputs{Rows: 1, Width: 1, Values: []float64{0.5}}
	s.record(1, outcomeOK, out) // the rings are allocated on first use
	require.Zero(t, testing.AllocsPerRun(1000, func() { s.record(3.5, outcomeOK, out) }))
}

func FuzzDecodeWindow(f *testing.F) {
	var s series
	s.record(2, outcomeOK, &Outputs{Rows: 1, Width: 1, Values: []float64{0.25}})
	w := Window{Gateway: "g", Model: "m", Versions: map[string]VersionWindow{"v1": {Requests: 1, Latency: s.latHist, ScoreSeq: 1, Scores: Samples{0.25}}}}
	good, err := json.Marshal(w)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{"gateway":"g","model":"m","versions":{"v1":{"latency":{"sum":1,"buckets":[[99999,1]]}}}}`))
	f.Add([]byte(`{"gateway":"g","model":"m","versions":{"v1":{"score_seq":0,"scores":"AAAAAAAA8D8="}}}`))
	f.Add([]byte(`{"gateway":"","model":"m"}`))
	f.Add([]byte(`nope`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		w, err := DecodeWindow("m", raw)
		if err != nil {
			return
		}
		for _, v := range w.Versions {
			if uint64(len(v.Scores)) > v.ScoreSeq {
				t.Fatalf("accepted %d scores with score_seq %d", len(v.Scores), v.ScoreSeq)
			}
			_ = v.Since(VersionWindow{ScoreSeq: v.ScoreSeq / 2})
			_ = v.Latency.Quantile(0.99)
		}
		again, err := json.Marshal(w)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		if _, err := DecodeWindow("m", again); err != nil {
			t.Fatalf("a decoded window does not decode again: %v", err)
		}
	})
}

// BenchmarkHistogramAdd is what mergeable histograms add to each request:
// one Add under the series lock the request already takes.
func BenchmarkHistogramAdd(b *testing.B) {
	var h Histogram
	v := 0.3
	b.ReportAllocs()
	for b.Loop() {
		h.Add(v)
		v += 0.7
		if v > 5000 {
			v = 0.3
		}
	}
}
