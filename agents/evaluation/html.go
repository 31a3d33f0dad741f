package evaluation

import (
	"fmt"
	"html/template"
	"io"
	"maps"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/modelgate/modelgate/tools/compare"
	"github.com/modelgate/modelgate/tools/metrics"
)

// WriteHTML writes a self-contained report (no scripts, no external
// files): metrics and deltas with their intervals, ROC and
// precision-recall curves of both models and a reliability diagram
// (binary tasks), and the per-slice deltas as an interval plot.
func WriteHTML(w io.Writer, out *Outcome) error {
	r := out.Result
	page := htmlPage{R: r, Source: out.SourceFile, Verdict: string(r.Verdict), Passed: r.Passed}
	page.Rows = metricRows(r)
	if r.Task == "binary" {
		cd, err := metrics.NewBinaryData(out.Labels, out.Candidate.Values)
		if err != nil {
			return err
		}
		series := []curveSeries{{Name: "candidate", Color: "#1f77b4", d: cd}}
		if out.Baseline != nil {
			bd, err := metrics.NewBinaryData(out.Labels, out.Baseline.Values)
			if err != nil {
				return err
			}
			series = append(series, curveSeries{Name: "production", Color: "#ff7f0e", d: bd})
		}
		page.ROC = template.HTML(curvePlot("ROC curve", "false positive rate", "true positive rate", series, func(d *metrics.BinaryData) []metrics.Point { return d.ROCCurve() }, true))
		page.PR = template.HTML(curvePlot("Precision-recall curve", "recall", "precision", series, func(d *metrics.BinaryData) []metrics.Point { return d.PRCurve() }, false))
		page.Calib = template.HTML(reliabilityPlot(series))
	}
	page.Slices = template.HTML(slicePlot(r))
	return pageTmpl.Execute(w, page)
}

type htmlPage struct {
	R                      *compare.Result
	Source                 string
	Verdict                string
	Passed                 bool
	Rows                   []metricRow
	ROC, PR, Calib, Slices template.HTML
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

type curveSeries struct {
	Name, Color string
	d           *metrics.BinaryData
}

const (
	plotW, plotH = 360.0, 300.0
	padL, padB   = 48.0, 40.0
	padT, padR   = 28.0, 12.0
)

func px(x float64) float64 { return padL + x*(plotW-padL-padR) }
func py(y float64) float64 { return plotH - padB - y*(plotH-padB-padT) }

func axes(b *strings.Builder, title, xl, yl string) {
	fmt.Fprintf(b, `<svg xmlns="http://www.w3.org/2000/svg" width="%g" height="%g" role="img" aria-label="%s">`, plotW, plotH, template.HTMLEscapeString(title))
	fmt.Fprintf(b, `<text x="%g" y="16" font-size="13" font-weight="bold">%s</text>`, padL, template.HTMLEscapeString(title))
	fmt.Fprintf(b, `<rect x="%g" y="%g" width="%g" height="%g" fill="none" stroke="#999"/>`, px(0), py(1), px(1)-px(0), py(0)-py(1))
	for _, t := range []float64{0, 0.25, 0.5, 0.75, 1} {
		fmt.Fprintf(b, `<text x="%g" y="%g" font-size="10" text-anchor="middle">%g</text>`, px(t), py(0)+14, t)
		fmt.Fprintf(b, `<text x="%g" y="%g" font-size="10" text-anchor="end">%g</text>`, px(0)-4, py(t)+3, t)
	}
	fmt.Fprintf(b, `<text x="%g" y="%g" font-size="11" text-anchor="middle">%s</text>`, (px(0)+px(1))/2, plotH-6, template.HTMLEscapeString(xl))
	fmt.Fprintf(b, `<text x="12" y="%g" font-size="11" text-anchor="middle" transform="rotate(-90 12 %g)">%s</text>`, (py(0)+py(1))/2, (py(0)+py(1))/2, template.HTMLEscapeString(yl))
}

func legend(b *strings.Builder, series []curveSeries) {
	for i, s := range series {
		y := py(0) - 12 - float64(i)*14
		fmt.Fprintf(b, `<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="%s" stroke-width="2"/><text x="%g" y="%g" font-size="11">%s</text>`,
			px(0.62), y, px(0.7), y, s.Color, px(0.72), y+4, s.Name)
	}
}

// curvePlot draws one polyline per model. Points beyond 2,000 are thinned
// evenly so that the page stays small on large holdouts.
func curvePlot(title, xl, yl string, series []curveSeries, pts func(*metrics.BinaryData) []metrics.Point, diagonal bool) string {
	var b strings.Builder
	axes(&b, title, xl, yl)
	if diagonal {
		fmt.Fprintf(&b, `<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="#ccc" stroke-dasharray="4"/>`, px(0), py(0), px(1), py(1))
	}
	for _, s := range series {
		p := pts(s.d)
		if len(p) == 0 {
			continue
		}
		step := max(1, len(p)/2000)
		b.WriteString(`<polyline fill="none" stroke-width="2" stroke="` + s.Color + `" points="`)
		for i := 0; i < len(p); i += step {
			fmt.Fprintf(&b, "%.1f,%.1f ", px(p[i].X), py(p[i].Y))
		}
		last := p[len(p)-1]
		fmt.Fprintf(&b, `%.1f,%.1f"/>`, px(last.X), py(last.Y))
	}
	legend(&b, series)
	b.WriteString("</svg>")
	return b.String()
}

func reliabilityPlot(series []curveSeries) string {
	var b strings.Builder
	axes(&b, "Reliability diagram", "mean predicted probability", "observed positive rate")
	fmt.Fprintf(&b, `<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="#ccc" stroke-dasharray="4"/>`, px(0), py(0), px(1), py(1))
	for _, s := range series {
		bins := s.d.Reliability(metrics.ECEBins)
		b.WriteString(`<polyline fill="none" stroke-width="2" stroke="` + s.Color + `" points="`)
		for _, bin := range bins {
			fmt.Fprintf(&b, "%.1f,%.1f ", px(bin.MeanScore), py(bin.Positive))
		}
		b.WriteString(`"/>`)
		for _, bin := range bins {
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"><title>%s: %g rows, mean score %.3f, positive rate %.3f</title></circle>`,
				px(bin.MeanScore), py(bin.Positive), s.Color, s.Name, bin.Count, bin.MeanScore, bin.Positive)
		}
	}
	legend(&b, series)
	b.WriteString("</svg>")
	return b.String()
}

// slicePlot draws, for every slice and guarded metric, the delta with its
// interval against the zero line: a forest plot.
func slicePlot(r *compare.Result) string {
	type item struct {
		label     string
		d, lo, hi float64
		v         compare.Verdict
	}
	var items []item
	for _, s := range r.Slices {
		for _, k := range slices.Sorted(maps.Keys(s.Comparison)) {
			c := s.Comparison[k]
			if !c.Guarded || c.Delta == nil {
				continue
			}
			it := item{label: fmt.Sprintf("%s=%s (%d) %s", s.Column, s.Value, s.Rows, k), d: *c.Delta, lo: *c.Delta, hi: *c.Delta, v: c.Verdict}
			if c.CILow != nil {
				it.lo, it.hi = *c.CILow, *c.CIHigh
			}
			items = append(items, it)
		}
	}
	if len(items) == 0 {
		return ""
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].d < items[j].d })
	lo, hi := 0.0, 0.0
	for _, it := range items {
		lo, hi = min(lo, it.lo), max(hi, it.hi)
	}
	if hi-lo == 0 {
		hi, lo = hi+1e-3, lo-1e-3
	}
	const w, left, right, rowH = 720.0, 300.0, 20.0, 22.0
	h := float64(len(items))*rowH + 50
	x := func(v float64) float64 { return left + (v-lo)/(hi-lo)*(w-left-right) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%g" height="%g" role="img" aria-label="per-slice deltas">`, w, h)
	fmt.Fprintf(&b, `<text x="4" y="16" font-size="13" font-weight="bold">Per-slice delta (candidate − production), %.0f%% intervals</text>`, r.Confidence*100)
	fmt.Fprintf(&b, `<line x1="%.1f" y1="24" x2="%.1f" y2="%g" stroke="#999" stroke-dasharray="4"/>`, x(0), x(0), h-20)
	for i, it := range items {
		y := 36 + float64(i)*rowH
		color := "#555"
		switch it.v {
		case compare.Regressed:
			color = "#d62728"
		case compare.Improved:
			color = "#2ca02c"
		}
		fmt.Fprintf(&b, `<text x="4" y="%.1f" font-size="11">%s</text>`, y+4, template.HTMLEscapeString(it.label))
		fmt.Fprintf(&b, `<line class="ci" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="2"/>`, x(it.lo), y, x(it.hi), y, color)
		fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="4" fill="%s"><title>delta %.4g [%.4g, %.4g] %s</title></circle>`, x(it.d), y, color, it.d, it.lo, it.hi, it.v)
	}
	fmt.Fprintf(&b, `<text x="%.1f" y="%g" font-size="10" text-anchor="middle">0</text>`, x(0), h-6)
	fmt.Fprintf(&b, `<text x="%.1f" y="%g" font-size="10">%.3g</text><text x="%.1f" y="%g" font-size="10" text-anchor="end">%.3g</text>`, left, h-6, lo, w-right, h-6, hi)
	b.WriteString("</svg>")
	return b.String()
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
{{if .ROC}}<div class="plots" id="curves">{{.ROC}}{{.PR}}{{.Calib}}</div>{{end}}
{{if .R.Slices}}<h2>Slices</h2>{{if .Slices}}<div id="slices">{{.Slices}}</div>{{end}}
<table id="slice-table"><tr><th>slice</th><th>rows</th><th>verdict</th></tr>{{range .R.Slices}}<tr><td>{{.Column}}={{.Value}}</td><td>{{.Rows}}</td><td class="{{.Verdict}}">{{.Verdict}}</td></tr>{{end}}</table>{{end}}
{{if .R.Undefined}}<h2>Undefined metrics</h2><ul>{{range .R.Undefined}}<li>{{.Metric}} ({{.Subject}}): {{.Reason}}</li>{{end}}</ul>{{end}}
</body></html>
`))
