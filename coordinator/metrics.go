package coordinator

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/modelgate/modelgate/internal/store"
)

type metrics struct {
	runs        *prometheus.GaugeVec
	transitions *prometheus.CounterVec
	stageSecs   *prometheus.HistogramVec
	agentErrors *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		runs: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "modelgate_runs",
			Help: "Runs in each non-terminal state known to this coordinator."}, []string{"state"}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "modelgate_run_transitions_total",
			Help: "Run state transitions, by the state entered."}, []string{"state"}),
		stageSecs: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "modelgate_stage_duration_seconds",
			Help: "Duration of successful stage attempts.", Buckets: prometheus.ExponentialBuckets(0.001, 4, 12)}, []string{"stage"}),
		agentErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "modelgate_agent_errors_total",
			Help: "Agent attempts that ended in an error (not a failing verdict)."}, []string{"agent"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.runs, m.transitions, m.stageSecs, m.agentErrors} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

func (m *metrics) reset(inflight []store.Run) {
	m.runs.Reset()
	for _, s := range store.AllRunStates {
		if !s.Terminal() {
			m.runs.WithLabelValues(string(s)).Set(0)
		}
	}
	for _, r := range inflight {
		m.runs.WithLabelValues(string(r.State)).Inc()
	}
}

func (m *metrics) transition(from, to store.RunState) {
	if from != "" && !from.Terminal() {
		m.runs.WithLabelValues(string(from)).Dec()
	}
	if !to.Terminal() {
		m.runs.WithLabelValues(string(to)).Inc()
	}
	m.transitions.WithLabelValues(string(to)).Inc()
}

func (m *metrics) stageDone(stage string, d time.Duration) {
	m.stageSecs.WithLabelValues(stage).Observe(d.Seconds())
}

func (m *metrics) agentError(agent string) { m.agentErrors.WithLabelValues(agent).Inc() }
