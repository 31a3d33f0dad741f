package drift

import (
	"fmt"
	"html/template"
	"io"
	"math"

	"github.com/modelgate/modelgate/tools/chart"
)

// ReportMeta names the datasets in a report.
type ReportMeta struct {
	Reference string
	Current   string
}

var reportTmpl = template.Must(template.New("drift").Funcs(template.FuncMap{
	"pct": func(v float64) string { return fmt.Sprintf("%.1f%%", v*100) },
	"num": formatNum,
	"pval": func(p *float64) string {
		if p == nil {
			return "–"
		}
		return formatNum(*p)
	},
	"chart": histogramSVG,
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Drift report</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:1100px;color:#1d2430;padding:0 1rem}
h1{font-size:1.5rem;margin:0 0 .25rem} .sub{color:#5b6575;margin-bottom:1.5rem}
.banner{padding:1rem 1.25rem;border-radius:8px;margin-bottom:1.5rem;font-size:1.1rem}
.drift{background:#fde8e8;border:1px solid #f5a3a3} .ok{background:#e6f6ea;border:1px solid #9fd8ad}
table{border-collapse:collapse;width:100%;margin-bottom:2rem} th,td{padding:.4rem .6rem;border-bottom:1px solid #e3e7ee;text-align:left}
th{background:#f4f6f9;font-weight:600} td.n{text-align:right;font-variant-numeric:tabular-nums}
tr.d td{background:#fff5f5} .tag{display:inline-block;padding:0 .5rem;border-radius:10px;font-size:12px}
.tag.y{background:#e5484d;color:#fff} .tag.n{background:#dfe3ea}
.card{border:1px solid #e3e7ee;border-radius:8px;padding:1rem;margin-bottom:1.25rem}
.card h3{margin:0 0 .5rem} .legend span{display:inline-block;width:12px;height:12px;margin:0 .3rem 0 1rem;vertical-align:middle}
</style></head><body>
<h1>Data drift</h1>
<div class="sub">reference <code>{{.Meta.Reference}}</code> · current <code>{{.Meta.Current}}</code></div>
{{if .R.DatasetDrift}}<div class="banner drift"><b>Dataset drift detected:</b> {{len .R.DriftedColumns}} of {{len .R.Order}} columns drifted ({{pct .R.DriftShare}}, threshold {{pct .R.ShareThreshold}}).</div>
{{else}}<div class="banner ok"><b>No dataset drift:</b> {{len .R.DriftedColumns}} of {{len .R.Order}} columns drifted ({{pct .R.DriftShare}}, threshold {{pct .R.ShareThreshold}}).</div>{{end}}
{{if .Drifted}}<h2>Drifted columns</h2>
{{range .Drifted}}<div class="card"><h3>{{.Name}}</h3>
<div>{{.C.Test}} = {{num .C.Statistic}}{{if .C.PValue}}, p = {{pval .C.PValue}}{{end}} (threshold {{num .C.Threshold}}) · missing {{pct .C.NullFractionReference}} → {{pct .C.NullFractionCurrent}}</div>
<div class="legend"><span style="background:#4c78a8"></span>reference<span style="background:#f58518"></span>current</div>
{{chart .Name .C.Histogram}}</div>{{end}}{{end}}
<h2>All columns</h2>
<table><tr><th>column</th><th>type</th><th>test</th><th>statistic</th><th>p-value</th><th>threshold</th><th>drift</th><th>KS</th><th>Wasserstein</th><th>PSI</th><th>missing ref</th><th>missing cur</th></tr>
{{range .All}}<tr{{if .C.Drifted}} class="d"{{end}}><td>{{.Name}}</td><td>{{.C.Type}}</td><td>{{.C.Test}}</td><td class="n">{{num .C.Statistic}}</td><td class="n">{{pval .C.PValue}}</td><td class="n">{{num .C.Threshold}}</td>
<td>{{if .C.Drifted}}<span class="tag y">drift</span>{{else}}<span class="tag n">ok</span>{{end}}</td>
<td class="n">{{pval .C.KSStatistic}}</td><td class="n">{{pval .C.Wasserstein}}</td><td class="n">{{pval .C.PSI}}</td><td class="n">{{pct .C.NullFractionReference}}</td><td class="n">{{pct .C.NullFractionCurrent}}</td></tr>
{{end}}</table>
</body></html>
`))

type namedCol struct {
	Name string
	C    *ColumnResult
}

// WriteHTML renders a self-contained HTML report: a verdict banner, a
// reference-vs-current histogram for each drifted column, and the full
// table. Histograms are present when Compare ran with Histograms set.
func WriteHTML(w io.Writer, res *Result, meta ReportMeta) error {
	data := struct {
		R       *Result
		Meta    ReportMeta
		Drifted []namedCol
		All     []namedCol
	}{R: res, Meta: meta}
	for _, name := range res.Order {
		nc := namedCol{name, res.Columns[name]}
		data.All = append(data.All, nc)
		if nc.C.Drifted {
			data.Drifted = append(data.Drifted, nc)
		}
	}
	if err := reportTmpl.Execute(w, data); err != nil {
		return fmt.Errorf("render drift report: %w", err)
	}
	return nil
}

func formatNum(v float64) string {
	switch {
	case math.IsNaN(v):
		return "–"
	case v == 0:
		return "0"
	case math.Abs(v) < 1e-4 || math.Abs(v) >= 1e6:
		return fmt.Sprintf("%.3g", v)
	}
	return fmt.Sprintf("%.4f", v)
}

// histogramSVG draws reference and current side by side with
// tools/chart, the same chart as the reviewers' page.
func histogramSVG(name string, h *Histogram) template.HTML {
	if h == nil || len(h.Labels) == 0 {
		return template.HTML("<p><i>no histogram (run with histograms enabled)</i></p>")
	}
	return chart.Histogram(chart.HistogramParams{ID: chart.IDFor("histogram", name), Title: name + ": reference vs current",
		Labels: h.Labels, Reference: h.Reference, Current: h.Current})
}
