package deployment

import (
	"fmt"
	"strings"

	"github.com/modelgate/modelgate/agents"
)

// metrics flattens a rollout's measurements for policies and the registry.
func metrics(st *State) map[string]float64 {
	m := map[string]float64{}
	if st.Phase == PhasePromoted {
		m["deploy.promoted"] = 1
	} else {
		m["deploy.promoted"] = 0
	}
	if st.Phase == PhaseRolledBack {
		m["deploy.rolled_back"] = 1
	}
	if !st.FinishedAt.IsZero() {
		m["deploy.duration_s"] = st.FinishedAt.Sub(st.StartedAt).Seconds()
	}
	if st.Smoke != nil {
		m["smoke.requests"] = float64(st.Smoke.Requests)
		m["smoke.latency_p99_ms"] = st.Smoke.P99Ms
	}
	for _, h := range st.History {
		switch h.Phase {
		case PhaseShadow:
			if s := h.Shadow; s != nil {
				m["shadow.requests"] = float64(s.Compared + s.Errors)
				m["shadow.agreement"] = s.Agreement
				m["shadow.error_rate"] = s.ErrorRate
				m["shadow.mean_abs_delta"] = s.MeanAbsDelta
				m["shadow.latency_p99_ms"] = s.ShadowP99Ms
				m["shadow.primary_latency_p99_ms"] = s.PrimaryP99Ms
				m["shadow.dropped"] = float64(s.Dropped)
			}
		case PhaseCanary, PhaseSwitch:
			prefix := "canary."
			if h.Phase == PhaseSwitch {
				prefix = "bluegreen."
			} else {
				m["canary.step"] = float64(h.Step)
				m["canary.weight"] = float64(h.Weight)
			}
			m[prefix+"requests"] = float64(h.Analysis.Candidate.Requests)
			for _, x := range h.Analysis.Measurements {
				switch x.Check {
				case "error_rate", "latency_p99_ms", "score_psi", "score_ks", "mann_whitney_effect":
					m[prefix+x.Check] = x.Value
					if x.Stable != nil {
						m["stable."+x.Check] = *x.Stable
					}
				}
			}
		}
	}
	if st.Phase == PhaseCanary || st.Strategy == "canary" {
		m["canary.failed_checks"] = float64(st.FailedChecks)
	}
	llmMetrics(st, m)
	return m
}

// report turns a finished rollout into the agent's report.
func (a *Agent) report(st State) agents.Report {
	rep := agents.Report{Agent: a.Name(), Stage: Stage, Metrics: metrics(&st), Details: rawJSON(st)}
	switch st.Phase {
	case PhasePromoted:
		rep.Verdict = agents.Pass
		rep.Summary = promotedSummary(&st)
		if st.Stable == nil {
			rep.Findings = append(rep.Findings, agents.Finding{ID: st.RunID + "/first", Severity: agents.Info, Code: "deploy.first_version",
				Subject: st.Model, Message: fmt.Sprintf("%s had no production version in %s: %s was deployed as stable after its smoke test, with no shadow or canary comparison", st.Model, st.Environment, st.Candidate.Version)})
		}
		if st.Promote != nil {
			rep.Findings = append(rep.Findings, agents.Finding{ID: st.RunID + "/manual-promote", Severity: agents.Medium, Code: "deploy.manual_promote",
				Subject: st.Model, Message: fmt.Sprintf("%s promoted %s by hand before the rollout finished", st.Promote.Actor, st.Candidate.Version),
				Evidence: map[string]any{"actor": st.Promote.Actor, "at": st.Promote.At}})
		}
	default:
		rep.Verdict = agents.Fail
		restored := "nothing (first version)"
		if st.Stable != nil {
			restored = st.Stable.Version
		}
		rep.Summary = fmt.Sprintf("Rolled back %s %s; all traffic is back on %s. Reason: %s.", st.Model, st.Candidate.Version, restored, st.Reason)
		ev := map[string]any{"candidate": st.Candidate.Version, "restored": restored, "reason": st.Reason}
		for k, v := range st.Evidence {
			ev[k] = v
		}
		rep.Findings = append(rep.Findings, agents.Finding{ID: st.RunID + "/rollback", Severity: agents.High, Code: "deploy.rollback",
			Subject: st.Model, Message: st.Reason, Evidence: ev})
		if len(st.History) > 0 {
			for _, m := range st.History[len(st.History)-1].Analysis.Failures() {
				rep.Findings = append(rep.Findings, agents.Finding{ID: st.RunID + "/check/" + m.Check, Severity: agents.Medium,
					Code: "deploy.check_failed", Subject: m.Check, Message: m.Message,
					Evidence: map[string]any{"value": m.Value, "limit": m.Limit, "stable": m.Stable}})
			}
		}
	}
	return rep
}

func promotedSummary(st *State) string {
	var parts []string
	for _, h := range st.History {
		if h.Phase == PhaseShadow && h.Shadow != nil && h.Analysis.Phase == Successful && h.Shadow.Chat != nil {
			parts = append(parts, fmt.Sprintf("shadow mean token F1 %.2f over %d answers", h.Shadow.Chat.MeanF1, h.Shadow.Chat.Pairs))
		} else if h.Phase == PhaseShadow && h.Shadow != nil && h.Analysis.Phase == Successful {
			parts = append(parts, fmt.Sprintf("shadow agreement %.1f%% over %d rows", 100*h.Shadow.Agreement, h.Shadow.Rows))
		}
	}
	var steps []string
	for _, h := range st.History {
		if h.Phase == PhaseCanary && h.Analysis.Phase == Successful {
			steps = append(steps, fmt.Sprintf("%d%%", h.Weight))
		}
	}
	if len(steps) > 0 {
		parts = append(parts, "canary "+strings.Join(steps, "→"))
	}
	if !st.SwitchedAt.IsZero() {
		parts = append(parts, "blue-green switch watched for "+st.FinishedAt.Sub(st.SwitchedAt).Round(1e6).String())
	}
	how := ""
	if len(parts) > 0 {
		how = " after " + strings.Join(parts, ", ")
	}
	prev := ""
	if st.Stable != nil {
		prev = fmt.Sprintf(", replacing %s", st.Stable.Version)
	}
	return fmt.Sprintf("Promoted %s %s to %s%s%s.", st.Model, st.Candidate.Version, st.Environment, prev, how)
}
