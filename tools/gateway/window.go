package gateway

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// Window is what one gateway publishes about one model so that a
// deployment agent elsewhere can judge a rollout on every replica's
// traffic: its counters since it started, latency histograms, and the
// most recent scores, each sample tagged with how many came before it.
// Two windows of one gateway subtract (Since) to the traffic between
// them; windows of several gateways merge (MergeVersion, MergeShadow) by
// summing counts and histograms and pooling samples.
type Window struct {
	Gateway  string                   `json:"gateway"` // the publishing instance (its epoch): a restart is a new gateway
	Model    string                   `json:"model"`
	At       time.Time                `json:"at"`
	Versions map[string]VersionWindow `json:"versions"`
	Shadow   ShadowWindow             `json:"shadow"`
}

// VersionWindow is one version's published counters.
type VersionWindow struct {
	Requests     uint64    `json:"requests"`
	Errors       uint64    `json:"errors"`
	ClientErrors uint64    `json:"client_errors"`
	Fallbacks    uint64    `json:"fallbacks"`
	Latency      Histogram `json:"latency"`
	ScoreSeq     uint64    `json:"score_seq"` // scores ever recorded; Scores are the last len(Scores) of them
	Scores       Samples   `json:"scores,omitempty"`

	LLM *LLMCounters `json:"llm,omitempty"` // chat answers only
}

// ShadowWindow is the shadow comparison's published counters.
type ShadowWindow struct {
	Mirrored  uint64    `json:"mirrored"`
	Dropped   uint64    `json:"dropped"`
	Compared  uint64    `json:"compared"`
	Errors    uint64    `json:"errors"`
	Rows      uint64    `json:"rows"`
	AgreeRows uint64    `json:"agree_rows"`
	SumDelta  float64   `json:"sum_delta"`
	Primary   Histogram `json:"primary_latency"`
	Shadow    Histogram `json:"shadow_latency"`
	DeltaSeq  uint64    `json:"delta_seq"`
	Deltas    Samples   `json:"deltas,omitempty"`

	Chat *ChatShadowCounters `json:"chat,omitempty"` // chat answers only
}

// Samples are float64 values sent as base64 of their little-endian bits:
// exact, compact, and able to carry the NaN and infinite scores that the
// canary's finiteness check must see (JSON numbers cannot).
type Samples []float64

// MarshalJSON writes the base64 string.
func (s Samples) MarshalJSON() ([]byte, error) {
	b := make([]byte, 8*len(s))
	for i, v := range s {
		binary.LittleEndian.PutUint64(b[8*i:], math.Float64bits(v))
	}
	return json.Marshal(b)
}

// UnmarshalJSON reads the base64 string.
func (s *Samples) UnmarshalJSON(raw []byte) error {
	var b []byte
	if err := json.Unmarshal(raw, &b); err != nil {
		return fmt.Errorf("samples: %w", err)
	}
	if len(b)%8 != 0 {
		return fmt.Errorf("samples: %d bytes is not a whole number of float64s", len(b))
	}
	if len(b)/8 > ringSize {
		return fmt.Errorf("samples: %d values, at most %d", len(b)/8, ringSize)
	}
	out := make([]float64, len(b)/8)
	for i := range out {
		out[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:]))
	}
	*s = out
	return nil
}

// Epoch names this gateway instance; it is the Gateway of its windows.
func (g *Gateway) Epoch() string { return g.epoch }

// Window snapshots what this gateway measured for model since it started.
func (g *Gateway) Window(model string) Window {
	ms := g.state(model)
	w := Window{Gateway: g.epoch, Model: model, At: time.Now().UTC(), Versions: map[string]VersionWindow{}}
	ms.mu.Lock()
	vs := make(map[string]*series, len(ms.versions))
	for v, s := range ms.versions {
		vs[v] = s
	}
	ms.mu.Unlock()
	for v, s := range vs {
		s.mu.Lock()
		w.Versions[v] = VersionWindow{Requests: s.requests, Errors: s.errors, ClientErrors: s.clientErr, Fallbacks: s.fallbacks,
			Latency: s.latHist, ScoreSeq: s.scores.seq, Scores: s.scores.since(0), LLM: s.llmCopy()}
		s.mu.Unlock()
	}
	sh := &ms.shadow
	sh.mu.Lock()
	w.Shadow = ShadowWindow{Mirrored: sh.mirrored, Dropped: sh.dropped.Load(), Compared: sh.compared, Errors: sh.errors,
		Rows: sh.rows, AgreeRows: sh.agreeRows, SumDelta: sh.sumDelta, Primary: sh.primaryHist, Shadow: sh.shadowHist,
		DeltaSeq: sh.deltas.seq, Deltas: sh.deltas.since(0), Chat: sh.chatCounters(true, 0)}
	sh.mu.Unlock()
	return w
}

// WindowStore is where gateways publish their windows; store.Store
// satisfies it.
type WindowStore interface {
	WindowPut(ctx context.Context, model, gateway string, doc json.RawMessage) error
}

// Publish writes this gateway's window of every model it has measured.
func (g *Gateway) Publish(ctx context.Context, ws WindowStore) error {
	g.statesMu.Lock()
	models := make([]string, 0, len(g.states))
	for m := range g.states {
		models = append(models, m)
	}
	g.statesMu.Unlock()
	var errs []error
	for _, m := range models {
		raw, err := json.Marshal(g.Window(m))
		if err != nil {
			errs = append(errs, fmt.Errorf("encode window of %s: %w", m, err))
			continue
		}
		if err := ws.WindowPut(ctx, m, g.epoch, raw); err != nil {
			errs = append(errs, fmt.Errorf("publish window of %s: %w", m, err))
		}
	}
	return errors.Join(errs...)
}

// DecodeWindow parses a published window of model, refusing one that
// names another model or no gateway.
func DecodeWindow(model string, raw []byte) (Window, error) {
	var w Window
	if err := json.Unmarshal(raw, &w); err != nil {
		return Window{}, fmt.Errorf("window of %s: %w", model, err)
	}
	if w.Gateway == "" {
		return Window{}, fmt.Errorf("window of %s: no gateway named", model)
	}
	if w.Model != model {
		return Window{}, fmt.Errorf("window of %s from gateway %s names model %q", model, w.Gateway, w.Model)
	}
	for v, vw := range w.Versions {
		if uint64(len(vw.Scores)) > vw.ScoreSeq {
			return Window{}, fmt.Errorf("window of %s from gateway %s: version %s has %d scores but says %d were recorded", model, w.Gateway, v, len(vw.Scores), vw.ScoreSeq)
		}
	}
	if uint64(len(w.Shadow.Deltas)) > w.Shadow.DeltaSeq {
		return Window{}, fmt.Errorf("window of %s from gateway %s: %d shadow deltas but %d recorded", model, w.Gateway, len(w.Shadow.Deltas), w.Shadow.DeltaSeq)
	}
	if c := w.Shadow.Chat; c != nil && uint64(len(c.F1)) > c.F1Seq {
		return Window{}, fmt.Errorf("window of %s from gateway %s: %d shadow F1 values but %d recorded", model, w.Gateway, len(c.F1), c.F1Seq)
	}
	return w, nil
}

// Position is w without its samples: what a Mark keeps of it (the
// sequence numbers say where the window's samples start).
func (w Window) Position() Window {
	p := w
	p.Versions = make(map[string]VersionWindow, len(w.Versions))
	for v, vw := range w.Versions {
		vw.Scores = nil
		p.Versions[v] = vw
	}
	p.Shadow.Deltas = nil
	if c := w.Shadow.Chat; c != nil {
		pc := *c
		pc.F1 = nil
		p.Shadow.Chat = &pc
	}
	return p
}

// Since is the traffic w holds beyond from, an earlier window of the same
// gateway (a from of another gateway, or none, counts from zero).
func (w Window) Since(from Window) Window {
	if from.Gateway != w.Gateway {
		from = Window{}
	}
	out := Window{Gateway: w.Gateway, Model: w.Model, At: w.At, Versions: make(map[string]VersionWindow, len(w.Versions)),
		Shadow: w.Shadow.Since(from.Shadow)}
	for v, vw := range w.Versions {
		out.Versions[v] = vw.Since(from.Versions[v])
	}
	return out
}

// tail is the samples recorded after seq from: the last seq−from of s
// (all of them when the counters were reset).
func tail(s Samples, seq, from uint64) Samples {
	if from > seq {
		return s
	}
	n := seq - from
	if n >= uint64(len(s)) {
		return s
	}
	return s[uint64(len(s))-n:]
}

// Since is the version's traffic beyond from.
func (w VersionWindow) Since(from VersionWindow) VersionWindow {
	if from.Requests > w.Requests || from.ScoreSeq > w.ScoreSeq {
		return w // counters were reset
	}
	return VersionWindow{Requests: w.Requests - from.Requests, Errors: sub(w.Errors, from.Errors), ClientErrors: sub(w.ClientErrors, from.ClientErrors),
		Fallbacks: sub(w.Fallbacks, from.Fallbacks), Latency: w.Latency.Since(&from.Latency),
		ScoreSeq: w.ScoreSeq - from.ScoreSeq, Scores: tail(w.Scores, w.ScoreSeq, from.ScoreSeq), LLM: w.LLM.Since(from.LLM)}
}

// Since is the shadow comparison beyond from.
func (w ShadowWindow) Since(from ShadowWindow) ShadowWindow {
	if from.Rows > w.Rows || from.DeltaSeq > w.DeltaSeq || from.Compared > w.Compared {
		return w
	}
	return ShadowWindow{Mirrored: sub(w.Mirrored, from.Mirrored), Dropped: sub(w.Dropped, from.Dropped), Compared: w.Compared - from.Compared,
		Errors: sub(w.Errors, from.Errors), Rows: w.Rows - from.Rows, AgreeRows: sub(w.AgreeRows, from.AgreeRows), SumDelta: w.SumDelta - from.SumDelta,
		Primary: w.Primary.Since(&from.Primary), Shadow: w.Shadow.Since(&from.Shadow),
		DeltaSeq: w.DeltaSeq - from.DeltaSeq, Deltas: tail(w.Deltas, w.DeltaSeq, from.DeltaSeq), Chat: w.Chat.Since(from.Chat)}
}

// MergeVersion is one version's statistics over several gateways'
// windows: counts and latency histograms summed, scores pooled. The error
// rate is total errors over total requests and the percentiles come from
// the summed histogram (within 6.25 %), never an average of per-gateway
// figures.
func MergeVersion(version string, ws ...VersionWindow) VersionStats {
	st := VersionStats{Version: version}
	var lat Histogram
	n := 0
	for _, w := range ws {
		n += len(w.Scores)
	}
	st.Scores = make([]float64, 0, n)
	var llm *LLMCounters
	for _, w := range ws {
		if w.LLM != nil {
			if llm == nil {
				llm = &LLMCounters{}
			}
			llm.merge(w.LLM)
		}
		st.Requests += w.Requests
		st.Errors += w.Errors
		st.ClientErrors += w.ClientErrors
		st.Fallbacks += w.Fallbacks
		lat.Merge(&w.Latency)
		st.Scores = append(st.Scores, w.Scores...)
	}
	st.ScoreCount = len(st.Scores)
	if st.Requests > 0 {
		st.ErrorRate = float64(st.Errors) / float64(st.Requests)
	}
	st.LatencyP50Ms, st.LatencyP99Ms, st.LatencyP95Ms = lat.Quantile(0.50), lat.Quantile(0.99), lat.Quantile(0.95)
	st.LLM = llm.Stats()
	st.Histogram = lat.buckets()
	return st
}

// MergeShadow is the shadow comparison over several gateways' windows,
// summed the same way.
func MergeShadow(ws ...ShadowWindow) ShadowSummary {
	var s ShadowSummary
	var p, sh Histogram
	var sumDelta float64
	var deltas []float64
	chats := make([]*ChatShadowCounters, 0, len(ws))
	for _, w := range ws {
		chats = append(chats, w.Chat)
		s.Mirrored += w.Mirrored
		s.Dropped += w.Dropped
		s.Compared += w.Compared
		s.Errors += w.Errors
		s.Rows += w.Rows
		s.AgreeRows += w.AgreeRows
		sumDelta += w.SumDelta
		p.Merge(&w.Primary)
		sh.Merge(&w.Shadow)
		deltas = append(deltas, w.Deltas...)
	}
	if n := s.Compared + s.Errors; n > 0 {
		s.ErrorRate = float64(s.Errors) / float64(n)
	}
	if s.Rows > 0 {
		s.Agreement = float64(s.AgreeRows) / float64(s.Rows)
		s.MeanAbsDelta = sumDelta / float64(s.Rows)
	}
	s.PrimaryP99Ms, s.ShadowP99Ms = p.Quantile(0.99), sh.Quantile(0.99)
	s.PrimaryMeanMs, s.ShadowMeanMs = p.Mean(), sh.Mean()
	if len(deltas) > 0 {
		slices.Sort(deltas)
		s.MaxAbsDelta = deltas[len(deltas)-1]
		s.P95AbsDelta = Quantile(deltas, 0.95)
	}
	s.Chat = summariseChat(chats...)
	return s
}
