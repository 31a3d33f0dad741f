package ui

import (
	"encoding/json"
	"fmt"
	"html/template"
	"maps"
	"math"
	"slices"
	"sort"

	"github.com/modelgate/modelgate/agents"
	"github.com/modelgate/modelgate/agents/evaluation"
	"github.com/modelgate/modelgate/tools/chart"
	"github.com/modelgate/modelgate/tools/drift"
)

// evidenceView is what moved, drawn for the top of the run page: the
// metric deltas with their intervals, both models' curves and
// calibration, the drifted columns' histograms, the slices that
// regressed and the findings by severity. Every chart is drawn from the
// stored reports, the same evidence the policy decided on.
type evidenceView struct {
	Deltas, ROC, PR, Calibration, Slices template.HTML
	Histograms                           []template.HTML
	Drifted, HistogramsShown             int
	Findings                             template.HTML
	Serious, Minor                       []stageFinding // critical/high/medium; low/info
	EvidenceError                        string
}

// stageFinding is a finding with the stage that reported it.
type stageFinding struct {
	Stage string
	agents.Finding
}

var severityColors = map[agents.Severity]string{agents.Critical: "#8b0000", agents.High: "#cf222e", agents.Medium: "#bc4c00", agents.Low: "#9a6700", agents.Info: "#57606a"}

// newEvidence draws the charts from the stages' reports.
func newEvidence(stages []stageView) *evidenceView {
	ev := &evidenceView{}
	for _, st := range stages {
		if st.Report == nil {
			continue
		}
		if len(st.Comparison) > 0 && ev.Deltas == "" {
			ev.Deltas = deltasChart(st.Comparison)
		}
		if st.Report.Agent == "evaluation" && len(st.Report.Details) > 0 {
			r, curves, err := evaluation.DecodeDetails(st.Report.Details)
			if err != nil {
				ev.EvidenceError = "the evaluation's details cannot be read: " + err.Error()
			} else {
				ec := evaluation.Charts(r, curves, "run-")
				ev.ROC, ev.PR, ev.Calibration, ev.Slices = ec.ROC, ec.PR, ec.Calibration, ec.Slices
			}
		}
		if st.Report.Agent == "validation" && len(st.Report.Details) > 0 {
			ev.addDrift(st.Report.Details)
		}
		for _, f := range st.Findings {
			sf := stageFinding{Stage: st.Name, Finding: f}
			if rank(f.Severity) <= severityRank[agents.Medium] {
				ev.Serious = append(ev.Serious, sf)
			} else {
				ev.Minor = append(ev.Minor, sf)
			}
		}
	}
	bySeverity := func(fs []stageFinding) {
		sort.SliceStable(fs, func(i, j int) bool { return rank(fs[i].Severity) < rank(fs[j].Severity) })
	}
	bySeverity(ev.Serious)
	bySeverity(ev.Minor)
	counts := map[agents.Severity]float64{}
	for _, f := range append(append([]stageFinding(nil), ev.Serious...), ev.Minor...) {
		counts[f.Severity]++
	}
	var items []chart.Count
	for _, sev := range []agents.Severity{agents.Critical, agents.High, agents.Medium, agents.Low, agents.Info} {
		items = append(items, chart.Count{Label: string(sev), Value: counts[sev], Color: severityColors[sev]})
	}
	ev.Findings = chart.Counts(chart.CountsParams{ID: "run-findings", Title: "Findings by severity", Desc: "Findings of every stage.", Items: items})
	return ev
}

func rank(s agents.Severity) int {
	if r, ok := severityRank[s]; ok {
		return r
	}
	return len(severityRank)
}

// deltasChart draws the comparison table's rows, coloured as the table
// colours them (deltaClass), so chart and table never disagree.
func deltasChart(rows []metricRow) template.HTML {
	v := func(p *float64) float64 {
		if p == nil {
			return math.NaN()
		}
		return *p
	}
	var items []chart.Delta
	for _, r := range rows {
		if r.Delta == nil {
			continue
		}
		note := ""
		if r.PValue != nil {
			note = "p = " + chart.Num(*r.PValue)
		}
		items = append(items, chart.Delta{Label: r.Name, Delta: *r.Delta, Low: v(r.Low), High: v(r.High), Class: deltaClass(r), Note: note})
	}
	if len(items) == 0 {
		return ""
	}
	return chart.Deltas(chart.DeltasParams{ID: "run-deltas", Title: "Metric deltas, candidate − production (95% intervals)",
		Desc: "Each metric on its own scale around zero; green is better, red worse in the metric's direction.", Confidence: 0.95, Items: items})
}

// addDrift draws the histograms the validation report kept (those of
// drifted columns), in the report's column order.
func (ev *evidenceView) addDrift(raw json.RawMessage) {
	var det struct {
		Drift   *drift.Result `json:"drift"`
		DriftOf string        `json:"drift_of"`
	}
	if err := json.Unmarshal(raw, &det); err != nil {
		ev.EvidenceError = "the validation's details cannot be read: " + err.Error()
		return
	}
	if det.Drift == nil {
		return
	}
	current := det.DriftOf
	if current == "" {
		current = "current"
	}
	// The stored result has no column order (Order is not in its JSON):
	// the columns go by name, so the page is the same on every load.
	for _, name := range slices.Sorted(maps.Keys(det.Drift.Columns)) {
		c := det.Drift.Columns[name]
		if c == nil || !c.Drifted {
			continue
		}
		ev.Drifted++
		if c.Histogram == nil {
			continue
		}
		ev.HistogramsShown++
		stat := fmt.Sprintf("%s %s", c.Test, chart.Num(c.Statistic))
		if c.PValue != nil {
			stat += ", p " + chart.Num(*c.PValue)
		}
		ev.Histograms = append(ev.Histograms, chart.Histogram(chart.HistogramParams{ID: chart.IDFor("run-histogram", name),
			Title: name + ": reference vs " + current + " (" + stat + ")", Desc: "Drifted column " + name + ".",
			Labels: c.Histogram.Labels, Reference: c.Histogram.Reference, Current: c.Histogram.Current, CurrentName: current}))
	}
}
