package gateway

import (
	"errors"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// llmVecs are the gateway's chat-traffic series: time to first token and
// tokens per model and version.
type llmVecs struct {
	ttft   *prometheus.HistogramVec
	tokens *prometheus.CounterVec
}

func newLLMVecs(reg prometheus.Registerer) (*llmVecs, error) {
	v := &llmVecs{
		ttft: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "modelgate_gateway_time_to_first_token_seconds", Help: "Streamed chat answers: request sent upstream to the first content chunk, per model and version.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"model", "version"}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "modelgate_gateway_tokens_total", Help: "Tokens of chat answers per model, version and kind (prompt, completion).",
		}, []string{"model", "version", "kind"}),
	}
	cs := []prometheus.Collector{v.ttft, v.tokens}
	for i, c := range cs {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return nil, err
			}
			cs[i] = are.ExistingCollector
		}
	}
	v.ttft = cs[0].(*prometheus.HistogramVec)
	v.tokens = cs[1].(*prometheus.CounterVec)
	return v, nil
}

// chatMetricsRef makes a version's chat series at its first chat answer,
// so that a V2 model's /metrics shows no empty token series.
type chatMetricsRef struct {
	vecs           *llmVecs
	model, version string
	once           sync.Once
	m              chatMetrics
}

type chatMetrics struct {
	ttft                       prometheus.Observer
	promptTokens, compleTokens prometheus.Counter
}

func (r *chatMetricsRef) get() *chatMetrics {
	r.once.Do(func() {
		r.m = chatMetrics{
			ttft:         r.vecs.ttft.WithLabelValues(r.model, r.version),
			promptTokens: r.vecs.tokens.WithLabelValues(r.model, r.version, "prompt"),
			compleTokens: r.vecs.tokens.WithLabelValues(r.model, r.version, "completion"),
		}
	})
	return &r.m
}

func (v *versionMetrics) observeChat(a chatAnswer, ttftMs float64) {
	m := v.chat.get()
	if a.Usage {
		m.promptTokens.Add(float64(a.Prompt))
	}
	m.compleTokens.Add(float64(a.Completion))
	if ttftMs >= 0 {
		m.ttft.Observe(ttftMs / 1e3)
	}
}
