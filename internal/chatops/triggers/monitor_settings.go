package triggers

import (
	"time"

	"github.com/modelgate/modelgate/internal/config"
)

// What the production monitor does when a model stays over its
// thresholds for Consecutive checks.
const (
	MonitorNotify   = "notify"   // a drift alert only (the default)
	MonitorRetrain  = "retrain"  // the alert, and a retraining run of the registered pipeline
	MonitorRollback = "rollback" // the alert, and a rollback to the previous production version
)

// Monitor configures the production monitor of a model: every Every, the
// inputs the gateway sampled are compared with the production run's
// reference data (tools/drift), and the version's scores and error rate
// with its baseline (the first full window measured after it became
// production). Thresholds are upper bounds; zero takes the default.
type Monitor struct {
	Environment string          `json:"environment,omitempty"` // default production
	Every       config.Duration `json:"every,omitzero"`        // default 5m
	// Consecutive is K: this many checks in a row over a threshold raise
	// the alert (debounce); default 3.
	Consecutive int `json:"consecutive,omitempty"`
	// DriftShare is the share of input columns that must drift for the
	// inputs to count as drifted (tools/drift's share); default 0.5.
	DriftShare float64 `json:"drift_share,omitempty"`
	// ScorePSI bounds the PSI of the window's scores against the
	// baseline's; default 0.2.
	ScorePSI float64 `json:"score_psi,omitempty"`
	// ErrorRate bounds how far the window's error rate may rise above
	// the baseline's (absolute, 0.05 = five points); default 0.05.
	ErrorRate float64 `json:"error_rate,omitempty"`
	// MinSamples is the fewest rows, scores or requests a measurement
	// needs to count; default 100.
	MinSamples int    `json:"min_samples,omitempty"`
	Action     string `json:"action,omitempty"` // notify | retrain | rollback
}

// Defaults returns m with every zero field set to its default.
func (m Monitor) Defaults() Monitor {
	if m.Environment == "" {
		m.Environment = "production"
	}
	if m.Every.Duration <= 0 {
		m.Every.Duration = 5 * time.Minute
	}
	if m.Consecutive <= 0 {
		m.Consecutive = 3
	}
	if m.DriftShare <= 0 {
		m.DriftShare = 0.5
	}
	if m.ScorePSI <= 0 {
		m.ScorePSI = 0.2
	}
	if m.ErrorRate <= 0 {
		m.ErrorRate = 0.05
	}
	if m.MinSamples <= 0 {
		m.MinSamples = 100
	}
	if m.Action == "" {
		m.Action = MonitorNotify
	}
	return m
}

func (s *Settings) validateMonitor(add func(field, format string, a ...any)) {
	m := s.Monitor
	if m == nil {
		return
	}
	switch m.Action {
	case "", MonitorNotify, MonitorRollback:
	case MonitorRetrain:
		if s.Pipeline == nil {
			add("monitor.action", "retrain needs pipeline: it is what the retraining run runs")
		}
	default:
		add("monitor.action", "want %s, %s or %s", MonitorNotify, MonitorRetrain, MonitorRollback)
	}
	if m.Environment != "" && !modelName.MatchString(m.Environment) {
		add("monitor.environment", "%q is not an environment name", clip(m.Environment))
	}
	if m.Every.Duration < 0 || (m.Every.Duration > 0 && m.Every.Duration < time.Second) {
		add("monitor.every", "want at least 1s")
	}
	if m.Consecutive < 0 || m.Consecutive > 1000 {
		add("monitor.consecutive", "want 1 to 1000")
	}
	if m.DriftShare < 0 || m.DriftShare > 1 {
		add("monitor.drift_share", "want a share between 0 and 1")
	}
	for f, v := range map[string]float64{"monitor.score_psi": m.ScorePSI, "monitor.error_rate": m.ErrorRate} {
		if v < 0 {
			add(f, "must not be negative")
		}
	}
	if m.ErrorRate > 1 {
		add("monitor.error_rate", "want a rate between 0 and 1")
	}
	if m.MinSamples < 0 || m.MinSamples > 1_000_000 {
		add("monitor.min_samples", "want 1 to %d", 1_000_000)
	}
}
