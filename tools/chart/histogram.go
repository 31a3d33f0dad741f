package chart

import (
	"fmt"
	"html/template"
	"math"
)

// HistogramParams is one column's distribution in two datasets: the
// share of rows per bin in the reference and in the current data.
type HistogramParams struct {
	ID, Title, Desc            string
	Labels                     []string
	Reference, Current         []float64 // shares in [0, 1], aligned with Labels
	ReferenceName, CurrentName string    // default "reference", "current"
}

const (
	histW, histH               = 560.0, 250.0
	histL, histR, histT, histB = 46.0, 10.0, 30.0, 58.0
)

// Histogram draws grouped bars, reference and current side by side per
// bin, on a y axis of shares; bins beyond the shorter of the three
// slices are left out, and non-finite or negative shares are drawn as 0
// while the bar's title keeps the stored value.
func Histogram(p HistogramParams) template.HTML {
	n := min(len(p.Labels), len(p.Reference), len(p.Current))
	if n == 0 {
		return empty(p.ID, "histogram", p.Title, "No histogram was recorded for this column.")
	}
	refName, curName := p.ReferenceName, p.CurrentName
	if refName == "" {
		refName = "reference"
	}
	if curName == "" {
		curName = "current"
	}
	top := 0.0
	for i := range n {
		for _, v := range []float64{p.Reference[i], p.Current[i]} {
			if finite(v) {
				top = math.Max(top, v)
			}
		}
	}
	if top <= 0 {
		top = 1
	}
	top = math.Min(1, top*1.1)
	desc := fmt.Sprintf("%d bins; share of rows per bin, %s against %s.", n, curName, refName)
	if p.Desc != "" {
		desc = p.Desc + " " + desc
	}
	c := newCanvas(p.ID, "histogram", p.Title, desc, histW, histH)
	sx := linear{0, float64(n), histL, histW - histR}
	sy := linear{0, top, histH - histB, histT}
	for _, t := range ticks(0, top, 4) {
		y := sy.at(t)
		c.line(histL, y, histW-histR, y, colorGrid, "")
		c.text(histL-4, y+3, "end", 10, `class="tick"`, Pct(t))
	}
	c.line(histL, sy.at(0), histW-histR, sy.at(0), colorAxis, "")
	slot := sx.at(1) - sx.at(0)
	bw := slot * 0.4
	for i := range n {
		x := sx.at(float64(i)) + slot*0.1
		for k, v := range []float64{p.Reference[i], p.Current[i]} {
			who := []string{refName, curName}[k]
			drawn := clamp(v, 0, top)
			if !finite(v) {
				drawn = 0
			}
			y := sy.at(drawn)
			fmt.Fprintf(&c.b, `<rect class="bar %s" x="%s" y="%s" width="%s" height="%s" fill="%s"><title>%s</title></rect>`,
				[]string{"reference", "current"}[k], coord(x+float64(k)*bw), coord(y), coord(bw), coord(sy.at(0)-y), []string{"#4c78a8", "#f58518"}[k],
				esc(fmt.Sprintf("%s: %s %s", p.Labels[i], who, Pct(v))))
		}
		if n <= 24 {
			lx, ly := x+bw, sy.at(0)+10
			c.text(lx, ly, "end", 9, fmt.Sprintf(`class="tick" transform="rotate(-35 %s %s)"`, coord(lx), coord(ly)), shorten(p.Labels[i], 14))
		}
	}
	c.text(14, (histT+sy.at(0))/2, "middle", 11, fmt.Sprintf(`class="axis-label y" transform="rotate(-90 14 %s)"`, coord((histT+sy.at(0))/2)), "share of rows")
	c.text((histL+histW-histR)/2, histH-4, "middle", 11, `class="axis-label x"`, "bin")
	for k, name := range []string{refName, curName} {
		x := histW - histR - 170 + float64(k)*85
		fmt.Fprintf(&c.b, `<rect x="%s" y="8" width="10" height="10" fill="%s"/>`, coord(x), []string{"#4c78a8", "#f58518"}[k])
		c.text(x+14, 17, "start", 11, `class="legend"`, shorten(name, 10))
	}
	return c.done()
}
