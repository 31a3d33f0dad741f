package gateway

import (
	"errors"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the gateway's Prometheus series, per model and version.
// Children are looked up once per route change, not per request.
type metrics struct {
	requests  *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	shadow    *prometheus.CounterVec
	shadowLat *prometheus.HistogramVec
	dropped   *prometheus.CounterVec
	agreement *prometheus.GaugeVec
	weight    *prometheus.GaugeVec

	llm *llmVecs

	mu       sync.Mutex
	versions map[[2]string]*versionMetrics
	shadows  map[string]*shadowMetrics
}

// shadowMetrics are one model's shadow series, looked up once per route
// change like versionMetrics: WithLabelValues hashes its labels and takes
// a lock, which the mirrored (and the dropped) requests need not pay.
type shadowMetrics struct {
	compared, errors, dropped prometheus.Counter
	latency                   prometheus.Observer
	// agreement is created at the first comparison (under the model's
	// shadow lock), so that no series says 0 % before anything was compared.
	agreement prometheus.Gauge
	vec       *prometheus.GaugeVec
	model     string
}

func (m *metrics) forShadow(model string) *shadowMetrics {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s, ok := m.shadows[model]; ok {
		return s
	}
	s := &shadowMetrics{
		compared: m.shadow.WithLabelValues(model, "compared"),
		errors:   m.shadow.WithLabelValues(model, "error"),
		dropped:  m.dropped.WithLabelValues(model),
		latency:  m.shadowLat.WithLabelValues(model),
		vec:      m.agreement,
		model:    model,
	}
	m.shadows[model] = s
	return s
}

type versionMetrics struct {
	ok, errors, clientErrors, fallbacks prometheus.Counter
	duration                            prometheus.Observer
	chat                                chatMetricsRef // created at the first chat answer
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{versions: map[[2]string]*versionMetrics{}, shadows: map[string]*shadowMetrics{}}
	buckets := []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "modelgate_gateway_requests_total", Help: "Requests answered per model, version and outcome (ok, error, client_error, fallback).",
	}, []string{"model", "version", "outcome"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "modelgate_gateway_upstream_duration_seconds", Help: "Upstream latency per model and version.", Buckets: buckets,
	}, []string{"model", "version"})
	m.shadow = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "modelgate_gateway_shadow_requests_total", Help: "Shadow requests per model and outcome (compared, error).",
	}, []string{"model", "outcome"})
	m.shadowLat = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "modelgate_gateway_shadow_duration_seconds", Help: "Shadow upstream latency per model.", Buckets: buckets,
	}, []string{"model"})
	m.dropped = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "modelgate_gateway_shadow_dropped_total", Help: "Shadow requests dropped because the queue was full.",
	}, []string{"model"})
	m.agreement = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "modelgate_gateway_shadow_agreement_ratio", Help: "Share of shadowed rows where candidate and primary agree, since the gateway started.",
	}, []string{"model"})
	m.weight = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "modelgate_gateway_candidate_weight_percent", Help: "Percent of a model's traffic routed to its candidate.",
	}, []string{"model"})
	cs := []prometheus.Collector{m.requests, m.duration, m.shadow, m.shadowLat, m.dropped, m.agreement, m.weight}
	for i, c := range cs {
		if err := reg.Register(c); err != nil {
			// A second gateway on the same registry (tests, a server
			// restarting its gateway) shares the first one's series.
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return nil, err
			}
			cs[i] = are.ExistingCollector
		}
	}
	m.requests = cs[0].(*prometheus.CounterVec)
	m.duration = cs[1].(*prometheus.HistogramVec)
	m.shadow = cs[2].(*prometheus.CounterVec)
	m.shadowLat = cs[3].(*prometheus.HistogramVec)
	m.dropped = cs[4].(*prometheus.CounterVec)
	m.agreement = cs[5].(*prometheus.GaugeVec)
	m.weight = cs[6].(*prometheus.GaugeVec)
	llm, err := newLLMVecs(reg)
	if err != nil {
		return nil, err
	}
	m.llm = llm
	return m, nil
}

func (m *metrics) forVersion(model, version string) *versionMetrics {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := [2]string{model, version}
	if v, ok := m.versions[k]; ok {
		return v
	}
	v := &versionMetrics{
		ok:           m.requests.WithLabelValues(model, version, "ok"),
		errors:       m.requests.WithLabelValues(model, version, "error"),
		clientErrors: m.requests.WithLabelValues(model, version, "client_error"),
		fallbacks:    m.requests.WithLabelValues(model, version, "fallback"),
		duration:     m.duration.WithLabelValues(model, version),
		chat:         chatMetricsRef{vecs: m.llm, model: model, version: version},
	}
	m.versions[k] = v
	return v
}
