package llm

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the LLM's Prometheus counters. They live here, not in each
// caller, so that one registry sees one set whoever makes the calls.
type Metrics struct {
	requests  *prometheus.CounterVec
	tokens    *prometheus.CounterVec
	cost      prometheus.Counter
	rejected  *prometheus.CounterVec
	retries   prometheus.Counter
	fallbacks *prometheus.CounterVec
}

// NewMetrics creates the counters and registers them with reg (nil: kept
// unregistered, as tests want). Registering twice reuses the first set, so
// a server and a --local run in one process share counters.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "modelgate_llm_requests_total",
			Help: "LLM calls by purpose (brief, triage, ask) and outcome (ok, error, budget, egress_refused)."}, []string{"purpose", "outcome"}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "modelgate_llm_tokens_total",
			Help: "Tokens used, by purpose and kind (prompt, completion)."}, []string{"purpose", "kind"}),
		cost: prometheus.NewCounter(prometheus.CounterOpts{Name: "modelgate_llm_cost_usd_total",
			Help: "Estimated spend in US dollars at the configured prices."}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "modelgate_llm_output_rejected_total",
			Help: "LLM outputs rejected by the grounding check (and replaced by the template), by kind and reason."}, []string{"kind", "reason"}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{Name: "modelgate_llm_retries_total",
			Help: "HTTP attempts repeated after a 429, a 5xx or a network error."}),
		fallbacks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "modelgate_llm_fallbacks_total",
			Help: "Outputs served from the deterministic template because the LLM was unavailable, by kind."}, []string{"kind"}),
	}
	if reg == nil {
		return m
	}
	m.requests = register(reg, m.requests)
	m.tokens = register(reg, m.tokens)
	m.cost = register(reg, m.cost)
	m.rejected = register(reg, m.rejected)
	m.retries = register(reg, m.retries)
	m.fallbacks = register(reg, m.fallbacks)
	return m
}

func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
	}
	return c
}

// Rejected counts an output the grounding check refused.
func (m *Metrics) Rejected(kind, reason string) {
	if m != nil {
		m.rejected.WithLabelValues(kind, reason).Inc()
	}
}

// Fallback counts an output served from a template after the LLM failed.
func (m *Metrics) Fallback(kind string) {
	if m != nil {
		m.fallbacks.WithLabelValues(kind).Inc()
	}
}

func (m *Metrics) call(purpose, outcome string, u Usage) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(purpose, outcome).Inc()
	m.tokens.WithLabelValues(purpose, "prompt").Add(float64(u.PromptTokens))
	m.tokens.WithLabelValues(purpose, "completion").Add(float64(u.CompletionTokens))
	m.cost.Add(u.CostUSD)
}

func (m *Metrics) retried() {
	if m != nil {
		m.retries.Inc()
	}
}
