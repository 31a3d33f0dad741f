package evaluation

import (
	"fmt"
	"html/template"
	"io"
	"math"
	"strings"

	"github.com/modelgate/modelgate/tools/compare"
)

// WriteHTML writes a self-contained report (no scripts, no external
// files): metrics and deltas with their intervals, ROC and
// precision-recall curves of both models and a reliability diagram
// (binary tasks), and the per-slice deltas as an interval plot.
func WriteHTML(w io.Writer, out *Outcome) error {
	r := out.Result
	page := htmlPage{R: r, Source: out.SourceFile, Verdict: string(r.Verdict), Passed: r.Passed}
	page.Rows = metricRows(r)
	var curves *Curves
	if r.Task == "binary" {
		var base []float64
		if out.Baseline != nil {
			base = out.Baseline.Values
		}
		curves = NewCurves(out.Labels, out.Candidate.Values, base)
	}
	ec := Charts(r, curves, "")
	page.Deltas, page.Slices = ec.Deltas, ec.AllSlices
	if curves != nil {
		page.ROC, page.PR, page.Calib = ec.ROC, ec.PR, ec.Calibration
	}
	return pageTmpl.Execute(w, page)
}

type htmlPage struct {
	R                              *compare.Result
	Source                         string
	Verdict                        string
	Passed                         bool
	Rows                           []metricRow
	Deltas, ROC, PR, Calib, Slices template.HTML
}

type metricRow struct {
	Name, Candidate, Baseline, Delta, CI, P, Verdict string
	Guarded                                          bool
}

func metricRows(r *compare.Result) []metricRow {
	names := compare.Metrics(r.Task, r.Cost != nil)
	var rows []metricRow
	for _, n := range names {
		row := metricRow{Name: n, Candidate: fmtv(r.Candidate.Values[n], true)}
		if r.Baseline != nil {
			row.Baseline = fmtv(r.Baseline.Values[n], true)
		}
		if c, ok := r.Comparison[n]; ok {
			row.Verdict = strings.ReplaceAll(string(c.Verdict), "_", " ")
			row.Guarded = c.Guarded
			if c.Delta != nil {
				row.Delta = fmt.Sprintf("%+.4f", *c.Delta)
			}
			if c.CILow != nil {
				row.CI = fmt.Sprintf("[%+.4f, %+.4f]", *c.CILow, *c.CIHigh)
			}
			if c.PValue != nil {
				row.P = fmt.Sprintf("%.3g (%s)", *c.PValue, c.Test)
			}
		}
		rows = append(rows, row)
	}
	return rows
}

func fmtv(v float64, ok bool) string {
	if !ok || math.IsNaN(v) {
		return "undefined"
	}
	return fmt.Sprintf("%.4f", v)
}

var pageTmpl = template.Must(template.New("page").Funcs(template.FuncMap{"deref": num}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>modelgate evaluation: {{.Verdict}}</title>
<style>
body{font-family:system-ui,sans-serif;margin:24px;color:#222}
table{border-collapse:collapse;margin:12px 0}td,th{border:1px solid #ddd;padding:4px 8px;text-align:right}
th:first-child,td:first-child{text-align:left}.regressed{color:#d62728;font-weight:bold}.improved{color:#2ca02c}
.plots{display:flex;flex-wrap:wrap;gap:16px}.fail{color:#d62728}.pass{color:#2ca02c}
</style></head><body>
<h1>Evaluation: <span id="verdict" class="{{if .Passed}}pass{{else}}fail{{end}}">{{.Verdict}}{{if not .Passed}} (failed){{end}}</span></h1>
<p>{{.R.Task}} task, {{.R.Rows}} rows of <code>{{.Source}}</code>; {{.R.Resamples}} paired bootstrap resamples, seed {{.R.Seed}}.</p>
{{if .R.Reasons}}<ul id="reasons">{{range .R.Reasons}}<li class="regressed">{{.}}</li>{{end}}</ul>{{end}}
<table id="metrics"><tr><th>metric</th><th>candidate</th>{{if .R.Baseline}}<th>production</th><th>delta</th><th>interval</th><th>p-value</th><th>verdict</th>{{end}}</tr>
{{range .Rows}}<tr><td>{{.Name}}{{if .Guarded}} *{{end}}</td><td>{{.Candidate}}</td>{{if $.R.Baseline}}<td>{{.Baseline}}</td><td>{{.Delta}}</td><td>{{.CI}}</td><td>{{.P}}</td><td class="{{.Verdict}}">{{.Verdict}}</td>{{end}}</tr>
{{end}}</table>
<p>* guarded: a threshold bounds its change.</p>
{{if .R.Floors}}<h2>Floors</h2><table id="floors"><tr><th>metric</th><th>value</th><th>min</th><th>max</th><th>met</th></tr>
{{range .R.Floors}}<tr><td>{{.Metric}}</td><td>{{if .Value}}{{printf "%.4f" (deref .Value)}}{{else}}undefined{{end}}</td><td>{{if .Min}}{{deref .Min}}{{end}}</td><td>{{if .Max}}{{deref .Max}}{{end}}</td><td class="{{if .Passed}}improved{{else}}regressed{{end}}">{{.Passed}}</td></tr>{{end}}</table>{{end}}
{{if .R.Cost}}<h2>Business cost</h2><p>Expected cost per 1,000 decisions: candidate {{printf "%.2f" .R.Cost.CandidatePer1000}}{{if .R.Cost.BaselinePer1000}}, production {{printf "%.2f" (deref .R.Cost.BaselinePer1000)}}{{end}}. The candidate's cost-minimising threshold is {{printf "%.4g" .R.Cost.CandidateOptimalThreshold}} ({{printf "%.2f" .R.Cost.CandidateOptimalPer1000}} per 1,000).</p>{{end}}
{{if .Deltas}}<div class="plots" id="deltas-chart">{{.Deltas}}</div>{{end}}
{{if .ROC}}<div class="plots" id="curves">{{.ROC}}{{.PR}}{{.Calib}}</div>{{end}}
{{if .R.Slices}}<h2>Slices</h2>{{if .Slices}}<div id="slices">{{.Slices}}</div>{{end}}
<table id="slice-table"><tr><th>slice</th><th>rows</th><th>verdict</th></tr>{{range .R.Slices}}<tr><td>{{.Column}}={{.Value}}</td><td>{{.Rows}}</td><td class="{{.Verdict}}">{{.Verdict}}</td></tr>{{end}}</table>{{end}}
{{if .R.Undefined}}<h2>Undefined metrics</h2><ul>{{range .R.Undefined}}<li>{{.Metric}} ({{.Subject}}): {{.Reason}}</li>{{end}}</ul>{{end}}
</body></html>
`))
