package monitor

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the monitor's Prometheus gauges: the latest check of each
// model and environment, and a count of alerts.
type metrics struct {
	driftShare  *prometheus.GaugeVec
	scorePSI    *prometheus.GaugeVec
	errorRate   *prometheus.GaugeVec
	consecutive *prometheus.GaugeVec
	alerts      *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	labels := []string{"model", "environment"}
	m := &metrics{
		driftShare: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "modelgate_monitor_drift_share",
			Help: "Share of input columns that drifted from the reference data in the latest check."}, labels),
		scorePSI: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "modelgate_monitor_score_psi",
			Help: "PSI of the latest window's scores against the production version's baseline."}, labels),
		errorRate: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "modelgate_monitor_error_rate",
			Help: "Error rate of the production version in the latest window."}, labels),
		consecutive: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "modelgate_monitor_consecutive_over",
			Help: "Checks in a row over a threshold (the alert fires at the configured K)."}, labels),
		alerts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "modelgate_monitor_alerts_total",
			Help: "Drift alerts raised, by the action configured."}, append(labels, "action")),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.driftShare, m.scorePSI, m.errorRate, m.consecutive, m.alerts} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return nil, err
			}
		}
	}
	return m, nil
}

func (m *metrics) observe(model, env string, c Check) {
	if c.DriftShare != nil {
		m.driftShare.WithLabelValues(model, env).Set(*c.DriftShare)
	}
	if c.ScorePSI != nil {
		m.scorePSI.WithLabelValues(model, env).Set(*c.ScorePSI)
	}
	if c.ErrorRate != nil {
		m.errorRate.WithLabelValues(model, env).Set(*c.ErrorRate)
	}
	m.consecutive.WithLabelValues(model, env).Set(float64(c.Consecutive))
}
