package gateway

import (
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
)

// ringSize bounds the per-version memory: the last ringSize latencies and
// scores are kept exactly; a window with more requests is summarised from
// its most recent ringSize (counts stay exact).
const ringSize = 1 << 15

// ring is a fixed buffer of the most recent values, each with a sequence
// number so that a window can ask for "everything after seq".
type ring struct {
	vals []float64
	seq  uint64 // values ever written
}

func (r *ring) add(v float64) {
	if r.vals == nil {
		r.vals = make([]float64, ringSize)
	}
	r.vals[r.seq%ringSize] = v
	r.seq++
}

// since copies the values written after seq (at most ringSize of them).
func (r *ring) since(seq uint64) []float64 {
	if seq > r.seq {
		seq = 0 // counters were reset (a new gateway); take everything
	}
	n := r.seq - seq
	if n > ringSize {
		n = ringSize
	}
	out := make([]float64, 0, n)
	for s := r.seq - n; s < r.seq; s++ {
		out = append(out, r.vals[s%ringSize])
	}
	return out
}

// series is what the gateway knows about one version of one model.
type series struct {
	mu        sync.Mutex
	requests  uint64
	errors    uint64 // 5xx, transport failures, malformed responses
	clientErr uint64 // 4xx the upstream gave
	fallbacks uint64 // candidate failures answered by stable instead
	latency   ring   // ms
	scores    ring
	latHist   Histogram // every latency since start, for merging with other gateways

	llm *LLMCounters // chat answers' tokens and time to first token; nil until the first
}

func (s *series) record(latencyMs float64, outcome int, out *Outputs) {
	s.mu.Lock()
	s.requests++
	switch outcome {
	case outcomeError:
		s.errors++
	case outcomeClientError:
		s.clientErr++
	}
	s.latency.add(latencyMs)
	s.latHist.Add(latencyMs)
	if out != nil {
		for i := 0; i < out.Rows; i++ {
			s.scores.add(out.Score(i))
		}
	}
	s.mu.Unlock()
}

const (
	outcomeOK = iota
	outcomeError
	outcomeClientError
)

// Pos is where a version's counters stood at a Mark.
type Pos struct {
	Requests  uint64 `json:"requests"`
	Errors    uint64 `json:"errors"`
	ClientErr uint64 `json:"client_errors"`
	Fallbacks uint64 `json:"fallbacks"`
	Latency   uint64 `json:"latency_seq"`
	Scores    uint64 `json:"scores_seq"`

	LLM *LLMCounters `json:"llm,omitempty"` // chat counters at the mark
}

func (s *series) pos() Pos {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Pos{s.requests, s.errors, s.clientErr, s.fallbacks, s.latency.seq, s.scores.seq, s.llmCopy()}
}

// VersionStats are one version's measurements over a window.
type VersionStats struct {
	Version      string    `json:"version"`
	Requests     uint64    `json:"requests"`
	Errors       uint64    `json:"errors"`
	ClientErrors uint64    `json:"client_errors"`
	Fallbacks    uint64    `json:"fallbacks"` // candidate failures that stable answered
	ErrorRate    float64   `json:"error_rate"`
	LatencyP50Ms float64   `json:"latency_p50_ms"`
	LatencyP99Ms float64   `json:"latency_p99_ms"`
	LatencyP95Ms float64   `json:"latency_p95_ms"`
	LLM          *LLMStats `json:"llm,omitempty"` // chat traffic only
	Histogram    []Bucket  `json:"latency_histogram"`
	Scores       []float64 `json:"-"` // the window's scores (the most recent 32,768 at most)
	ScoreCount   int       `json:"score_count"`
}

// Bucket is a latency histogram bucket: requests that took at most LeMs.
type Bucket struct {
	LeMs  float64 `json:"le_ms"`
	Count uint64  `json:"count"`
}

var bucketBounds = []float64{0.25, 0.5, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, math.Inf(1)}

func sub(a, b uint64) uint64 {
	if b > a {
		return a // counters reset since the mark
	}
	return a - b
}

func (s *series) stats(version string, from Pos) VersionStats {
	s.mu.Lock()
	st := VersionStats{
		Version:      version,
		Requests:     sub(s.requests, from.Requests),
		Errors:       sub(s.errors, from.Errors),
		ClientErrors: sub(s.clientErr, from.ClientErr),
		Fallbacks:    sub(s.fallbacks, from.Fallbacks),
	}
	lat := s.latency.since(from.Latency)
	st.Scores = s.scores.since(from.Scores)
	st.LLM = s.llm.Since(from.LLM).Stats()
	s.mu.Unlock()
	st.ScoreCount = len(st.Scores)
	if st.Requests > 0 {
		st.ErrorRate = float64(st.Errors) / float64(st.Requests)
	}
	slices.Sort(lat)
	st.LatencyP50Ms = Quantile(lat, 0.50)
	st.LatencyP99Ms = Quantile(lat, 0.99)
	st.LatencyP95Ms = Quantile(lat, 0.95)
	st.Histogram = histogram(lat)
	return st
}

func histogram(sorted []float64) []Bucket {
	out := make([]Bucket, len(bucketBounds))
	i := 0
	for b, le := range bucketBounds {
		for i < len(sorted) && sorted[i] <= le {
			i++
		}
		out[b] = Bucket{LeMs: le, Count: uint64(i)}
	}
	out[len(out)-1].LeMs = math.MaxFloat64 // JSON has no +Inf
	return out
}

// Quantile of sorted values by linear interpolation (numpy's default);
// 0 for none.
func Quantile(sorted []float64, q float64) float64 {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	h := q * float64(n-1)
	lo := int(math.Floor(h))
	if lo >= n-1 {
		return sorted[n-1]
	}
	return sorted[lo] + (h-float64(lo))*(sorted[lo+1]-sorted[lo])
}

// shadowSeries keeps the comparison of primary and shadow answers.
type shadowSeries struct {
	mu        sync.Mutex
	mirrored  uint64 // enqueued
	dropped   atomic.Uint64
	compared  uint64 // pairs where both answered
	errors    uint64 // shadow failed while the primary answered
	rows      uint64
	agreeRows uint64
	sumDelta  float64
	primary   ring // ms
	shadow    ring // ms
	deltas    ring // |Δscore| per row
	// every latency since start, for merging with other gateways
	primaryHist, shadowHist Histogram
	chat                    *chatShadow // chat answers compared; nil until the first pair
}

// ShadowPos is where the shadow counters stood at a Mark.
type ShadowPos struct {
	Mirrored  uint64  `json:"mirrored"`
	Dropped   uint64  `json:"dropped"`
	Compared  uint64  `json:"compared"`
	Errors    uint64  `json:"errors"`
	Rows      uint64  `json:"rows"`
	AgreeRows uint64  `json:"agree_rows"`
	SumDelta  float64 `json:"sum_delta"`
	Primary   uint64  `json:"primary_seq"`
	Shadow    uint64  `json:"shadow_seq"`
	Deltas    uint64  `json:"deltas_seq"`

	Chat *ChatShadowCounters `json:"chat,omitempty"` // chat comparison at the mark, without samples
}

func (s *shadowSeries) pos() ShadowPos {
	s.mu.Lock()
	defer s.mu.Unlock()
	return ShadowPos{s.mirrored, s.dropped.Load(), s.compared, s.errors, s.rows, s.agreeRows, s.sumDelta,
		s.primary.seq, s.shadow.seq, s.deltas.seq, s.chatCounters(false, 0)}
}

// ShadowSummary compares the candidate's shadow answers with the
// primary's over a window.
type ShadowSummary struct {
	Mirrored      uint64  `json:"mirrored"`
	Dropped       uint64  `json:"dropped"` // the bounded queue was full
	Compared      uint64  `json:"compared"`
	Errors        uint64  `json:"errors"`
	ErrorRate     float64 `json:"error_rate"` // errors / (compared + errors)
	Rows          uint64  `json:"rows"`
	AgreeRows     uint64  `json:"agree_rows"`
	Agreement     float64 `json:"agreement"` // agree_rows / rows; 0 when rows is 0
	MeanAbsDelta  float64 `json:"mean_abs_delta"`
	MaxAbsDelta   float64 `json:"max_abs_delta"` // over the window's most recent 32,768 rows
	P95AbsDelta   float64 `json:"p95_abs_delta"`
	PrimaryP99Ms  float64 `json:"primary_latency_p99_ms"`
	ShadowP99Ms   float64 `json:"shadow_latency_p99_ms"`
	PrimaryMeanMs float64 `json:"primary_latency_mean_ms"`
	ShadowMeanMs  float64 `json:"shadow_latency_mean_ms"`
	// Chat compares chat answers (exact, normalised, token F1); nil for a
	// model without chat traffic shadowed.
	Chat *ChatShadowSummary `json:"chat,omitempty"`
}

func (s *shadowSeries) summary(from ShadowPos) ShadowSummary {
	s.mu.Lock()
	sum := ShadowSummary{
		Mirrored:  sub(s.mirrored, from.Mirrored),
		Dropped:   sub(s.dropped.Load(), from.Dropped),
		Compared:  sub(s.compared, from.Compared),
		Errors:    sub(s.errors, from.Errors),
		Rows:      sub(s.rows, from.Rows),
		AgreeRows: sub(s.agreeRows, from.AgreeRows),
	}
	sumDelta := s.sumDelta - from.SumDelta
	if from.Rows > s.rows {
		sumDelta = s.sumDelta
	}
	p := s.primary.since(from.Primary)
	sh := s.shadow.since(from.Shadow)
	d := s.deltas.since(from.Deltas)
	var chatFrom uint64
	if from.Chat != nil {
		chatFrom = from.Chat.F1Seq
	}
	chat := s.chatCounters(true, chatFrom).Since(from.Chat)
	s.mu.Unlock()
	sum.Chat = summariseChat(chat)
	if n := sum.Compared + sum.Errors; n > 0 {
		sum.ErrorRate = float64(sum.Errors) / float64(n)
	}
	if sum.Rows > 0 {
		sum.Agreement = float64(sum.AgreeRows) / float64(sum.Rows)
		sum.MeanAbsDelta = sumDelta / float64(sum.Rows)
	}
	slices.Sort(p)
	slices.Sort(sh)
	slices.Sort(d)
	sum.PrimaryP99Ms, sum.ShadowP99Ms = Quantile(p, 0.99), Quantile(sh, 0.99)
	sum.PrimaryMeanMs, sum.ShadowMeanMs = mean(p), mean(sh)
	if len(d) > 0 {
		sum.MaxAbsDelta = d[len(d)-1]
		sum.P95AbsDelta = Quantile(d, 0.95)
	}
	return sum
}

func mean(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

// compare records one primary/shadow pair. The shadow failing is counted
// separately; a pair whose outputs have different row counts disagrees on
// every row.
func (s *shadowSeries) compare(primary, shadow *Outputs, primaryMs, shadowMs float64, threshold float64, shadowFailed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.primary.add(primaryMs)
	s.primaryHist.Add(primaryMs)
	if shadowFailed {
		s.errors++
		return
	}
	s.compared++
	s.shadow.add(shadowMs)
	s.shadowHist.Add(shadowMs)
	if primary == nil || shadow == nil {
		return // not a V2 tensor answer (chat completions): latency and errors only
	}
	if primary.Rows != shadow.Rows || primary.Width != shadow.Width {
		s.rows += uint64(primary.Rows)
		return
	}
	for i := 0; i < primary.Rows; i++ {
		s.rows++
		if primary.Class(i, threshold) == shadow.Class(i, threshold) {
			s.agreeRows++
		}
		d := 0.0
		pr, sr := primary.Values[i*primary.Width:(i+1)*primary.Width], shadow.Values[i*shadow.Width:(i+1)*shadow.Width]
		for j := range pr {
			d = math.Max(d, math.Abs(pr[j]-sr[j]))
		}
		if math.IsNaN(d) {
			d = math.Inf(1) // a NaN score is as far from any answer as it gets
		}
		if !math.IsInf(d, 0) {
			s.sumDelta += d
		} else {
			s.sumDelta += 1
		}
		s.deltas.add(d)
	}
}

// reservoir is Vitter's algorithm R over requests: every request answered
// has the same chance k/n of having a row in the sample (one row, chosen at
// random, from a batched request). The decision is taken before the body
// is parsed, on every request, so that the hot path parses only the few
// requests that land, and the odds stay exact: seen counts every request,
// parsed or not.
type reservoir struct {
	mu       sync.Mutex
	k        int
	seen     atomic.Uint64
	features []string
	rows     [][]float64 // nil where a chosen request could not be parsed
}

// slot decides whether the next request enters the sample and, if so,
// which slot it takes; -1 means no.
func (r *reservoir) slot() int {
	n := r.seen.Add(1)
	if n <= uint64(r.k) {
		return int(n - 1)
	}
	if j := rand.Uint64N(n); j < uint64(r.k) {
		return int(j)
	}
	return -1
}

func (r *reservoir) add(slot int, features []string, rows [][]float64) {
	if slot < 0 || slot >= r.k || len(rows) == 0 {
		return
	}
	row := rows[rand.IntN(len(rows))]
	r.mu.Lock()
	defer r.mu.Unlock()
	if !slices.Equal(features, r.features) {
		// a different input layout: the old rows cannot be compared
		r.features, r.rows = slices.Clone(features), nil
	}
	for len(r.rows) <= slot { // requests finish out of order while filling
		r.rows = append(r.rows, nil)
	}
	r.rows[slot] = row
}

// InputSample is a uniform sample of the requests clients sent (one row
// each), for drift monitoring against the training data. Seen counts the
// requests the sample was drawn from.
type InputSample struct {
	Features []string    `json:"features"`
	Rows     [][]float64 `json:"rows"`
	Seen     uint64      `json:"seen"`
}

func (r *reservoir) sample() InputSample {
	r.mu.Lock()
	defer r.mu.Unlock()
	rows := make([][]float64, 0, len(r.rows))
	for _, row := range r.rows {
		if row != nil {
			rows = append(rows, slices.Clone(row))
		}
	}
	return InputSample{Features: slices.Clone(r.features), Rows: rows, Seen: r.seen.Load()}
}

// modelState is everything measured for one model, across route changes.
type modelState struct {
	mu       sync.Mutex
	versions map[string]*series
	shadow   shadowSeries
	inputs   reservoir
}

func (m *modelState) series(version string) *series {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.versions[version]
	if !ok {
		s = &series{}
		m.versions[version] = s
	}
	return s
}
