package evaluation

import (
	"encoding/json"
	"fmt"
	"html/template"
	"maps"
	"math"
	"slices"

	"github.com/modelgate/modelgate/tools/chart"
	"github.com/modelgate/modelgate/tools/compare"
)

// EvidenceCharts are the evaluation's charts, drawn from what the
// report stores (the comparison and the curves), so that the reviewers'
// page and `evaluate --html` draw the same evidence.
type EvidenceCharts struct {
	Deltas      template.HTML // every compared metric's delta with its interval
	ROC, PR     template.HTML // both models overlaid; empty unless binary
	Calibration template.HTML
	Slices      template.HTML // the slice comparisons that regressed
	AllSlices   template.HTML // every slice's guarded metrics (the HTML report)
	Regressed   int           // how many slice comparisons regressed
}

// DecodeDetails reads the evaluate stage's Report.Details.
func DecodeDetails(raw []byte) (*compare.Result, *Curves, error) {
	det := details{Result: &compare.Result{}}
	if err := json.Unmarshal(raw, &det); err != nil {
		return nil, nil, fmt.Errorf("evaluation details: %w", err)
	}
	return det.Result, det.Curves, nil
}

// DeltaClass reads a change in the metric's direction, as the
// reviewers' page colours its table: "up" when the interval (or,
// without one, the delta) shows an improvement, "down" a worsening, ""
// when the interval straddles zero. A lower log_loss is an improvement.
func DeltaClass(metric string, c compare.Comparison) string {
	var sign int
	switch {
	case c.CIHigh != nil && *c.CIHigh < 0, c.CILow == nil && c.Delta != nil && *c.Delta < 0:
		sign = -1
	case c.CILow != nil && *c.CILow > 0, c.CILow == nil && c.Delta != nil && *c.Delta > 0:
		sign = 1
	}
	if compare.LowerIsBetter(metric) {
		sign = -sign
	}
	return map[int]string{1: "up", -1: "down"}[sign]
}

func val(p *float64) float64 {
	if p == nil {
		return math.NaN()
	}
	return *p
}

func deltaItem(label, metric string, c compare.Comparison) chart.Delta {
	note := string(c.Verdict)
	if c.Guarded {
		note += ", guarded"
	}
	if c.PValue != nil {
		note += fmt.Sprintf(", p = %s (%s)", chart.Num(*c.PValue), c.Test)
	}
	return chart.Delta{Label: label, Delta: val(c.Delta), Low: val(c.CILow), High: val(c.CIHigh), Class: DeltaClass(metric, c), Note: note}
}

// Charts draws the evidence; id prefixes the charts' element ids.
func Charts(r *compare.Result, curves *Curves, id string) EvidenceCharts {
	var ec EvidenceCharts
	if r == nil {
		return ec
	}
	conf := fmt.Sprintf("%g%%", math.Round(r.Confidence*1000)/10)
	var items []chart.Delta
	for _, k := range compare.Metrics(r.Task, r.Cost != nil) {
		if c, ok := r.Comparison[k]; ok && c.Delta != nil {
			items = append(items, deltaItem(k, k, c))
		}
	}
	if r.Baseline != nil {
		ec.Deltas = chart.Deltas(chart.DeltasParams{ID: id + "deltas", Title: "Metric deltas, candidate − production (" + conf + " intervals)",
			Desc: "Each metric on its own scale around zero; green is better, red worse in the metric's direction.", Confidence: r.Confidence, Items: items})
	}
	if curves != nil && curves.Candidate != nil {
		roc := []chart.Series{{Name: "candidate", Points: curves.Candidate.ROC(), Note: note("AUC", r.Candidate, "roc_auc")}}
		pr := []chart.Series{{Name: "candidate", Points: curves.Candidate.PR(), Note: note("AP", r.Candidate, "pr_auc")}}
		cal := []chart.ReliabilitySeries{{Name: "candidate", Bins: curves.Candidate.Bins(), Note: note("ECE", r.Candidate, "ece")}}
		if p := curves.Production; p != nil && r.Baseline != nil {
			roc = append(roc, chart.Series{Name: "production", Points: p.ROC(), Note: note("AUC", *r.Baseline, "roc_auc")})
			pr = append(pr, chart.Series{Name: "production", Points: p.PR(), Note: note("AP", *r.Baseline, "pr_auc")})
			cal = append(cal, chart.ReliabilitySeries{Name: "production", Bins: p.Bins(), Note: note("ECE", *r.Baseline, "ece")})
		}
		ec.ROC = chart.Curves(chart.CurvesParams{ID: id + "roc", Title: "ROC curve", XLabel: "false positive rate", YLabel: "true positive rate", Series: roc, Diagonal: true})
		ec.PR = chart.Curves(chart.CurvesParams{ID: id + "pr", Title: "Precision-recall curve", XLabel: "recall", YLabel: "precision", Series: pr})
		ec.Calibration = chart.Reliability(chart.ReliabilityParams{ID: id + "calibration", Title: "Reliability diagram (calibration)", Series: cal})
	}
	var regressed, guarded []chart.Delta
	compared := 0
	for _, s := range r.Slices {
		for _, k := range slices.Sorted(maps.Keys(s.Comparison)) {
			c := s.Comparison[k]
			if c.Delta == nil {
				continue
			}
			compared++
			label := fmt.Sprintf("%s=%s %s (%d rows)", s.Column, s.Value, k, s.Rows)
			if c.Guarded {
				guarded = append(guarded, deltaItem(label, k, c))
			}
			if c.Verdict == compare.Regressed {
				regressed = append(regressed, deltaItem(label, k, c))
			}
		}
	}
	ec.Regressed = len(regressed)
	if len(r.Slices) > 0 {
		title := fmt.Sprintf("Slices that regressed: %d of %d slice comparisons (%s intervals)", len(regressed), compared, conf)
		if len(regressed) == 0 {
			ec.Slices = chart.Deltas(chart.DeltasParams{ID: id + "slices", Title: title})
		} else {
			ec.Slices = chart.Deltas(chart.DeltasParams{ID: id + "slices", Title: title, Desc: "Candidate − production within each slice.", Confidence: r.Confidence, Items: regressed})
		}
	}
	if len(guarded) > 0 {
		ec.AllSlices = chart.Deltas(chart.DeltasParams{ID: id + "all-slices", Title: "Per-slice deltas of the guarded metrics, candidate − production (" + conf + " intervals)",
			Desc: "Candidate − production within each slice.", Confidence: r.Confidence, Items: guarded})
	}
	return ec
}

// note is "AUC 0.97" when the metric set holds a number for key.
func note(name string, m compare.MetricSet, key string) string {
	v, ok := m.Values[key]
	if !ok || math.IsNaN(v) {
		return ""
	}
	return name + " " + chart.Num(v)
}
