package chart

import (
	"fmt"
	"html/template"
	"math"
)

// Delta is one row of a deltas chart: a change with its interval.
type Delta struct {
	Label string
	// Delta is candidate − production; Low and High bound its interval
	// (NaN: no interval, only the point is drawn).
	Delta, Low, High float64
	// Class is the reading of the change in the metric's direction:
	// "up" better, "down" worse, "" within noise. The caller decides it
	// (a lower log_loss is better), the chart only colours it.
	Class string
	Note  string // a verdict or a remark, appended to the row's title
}

// DeltasParams is one deltas chart (a forest plot).
type DeltasParams struct {
	ID, Title, Desc string
	Confidence      float64 // the intervals' level, for the titles; 0 leaves it out
	Items           []Delta
	// Shared draws every row on one axis (the same metric across slices).
	// Otherwise each row is scaled to its own evidence around a zero line
	// common to all rows: metrics of different units (an AUC, a cost per
	// 1,000) stay readable in one chart, and each row's scale is printed
	// beside it.
	Shared bool
	// Limit, when positive, bounds the axis to ±Limit: interval ends
	// beyond it are clipped at the edge and marked with an arrow.
	Limit float64
}

const (
	deltaW, deltaLabelW, deltaPlotW = 760.0, 210.0, 300.0
	deltaRowH, deltaTop             = 26.0, 34.0
)

func (p DeltasParams) level() string {
	if p.Confidence > 0 && p.Confidence < 1 {
		return fmt.Sprintf("%g%% interval", math.Round(p.Confidence*1000)/10)
	}
	return "interval"
}

// extent is the half-width of the axis that shows the row's evidence.
func (p DeltasParams) extent(items []Delta) float64 {
	m := 0.0
	for _, it := range items {
		for _, v := range []float64{it.Delta, it.Low, it.High} {
			if finite(v) {
				m = math.Max(m, math.Abs(v))
			}
		}
	}
	if p.Limit > 0 && finite(p.Limit) {
		m = math.Min(m, p.Limit)
	}
	if m == 0 {
		m = 1e-3 // nothing moved: any scale shows a point on zero
	}
	return m * 1.08
}

// Deltas draws each row's delta as a point and its interval as a bar
// against a zero line, coloured by Class, with the numbers written at
// the right of the row.
func Deltas(p DeltasParams) template.HTML {
	if len(p.Items) == 0 {
		return empty(p.ID, "deltas", p.Title, "Nothing to compare.")
	}
	h := deltaTop + float64(len(p.Items))*deltaRowH + 26
	var up, down int
	for _, it := range p.Items {
		switch it.Class {
		case "up":
			up++
		case "down":
			down++
		}
	}
	desc := fmt.Sprintf("%d rows: %d better, %d worse, %d without a clear change.", len(p.Items), up, down, len(p.Items)-up-down)
	if p.Desc != "" {
		desc = p.Desc + " " + desc
	}
	c := newCanvas(p.ID, "deltas", p.Title, desc, deltaW, h)
	x0 := deltaLabelW + deltaPlotW/2
	shared := p.extent(p.Items)
	c.line(x0, deltaTop-8, x0, h-22, colorAxis, `stroke-dasharray="4 3" class="zero"`)
	c.text(x0, h-8, "middle", 10, `class="axis-label"`, "0 (no change)")
	if p.Shared {
		c.text(deltaLabelW, h-8, "start", 10, `class="axis-label"`, Signed(-shared))
		c.text(deltaLabelW+deltaPlotW, h-8, "end", 10, `class="axis-label"`, Signed(shared))
	}
	for i, it := range p.Items {
		m := shared
		if !p.Shared {
			m = p.extent([]Delta{it})
		}
		sx := linear{-m, m, deltaLabelW, deltaLabelW + deltaPlotW}
		y := deltaTop + float64(i)*deltaRowH + deltaRowH/2
		color := colorNeutral
		switch it.Class {
		case "up":
			color = colorUp
		case "down":
			color = colorDown
		}
		title := it.Label + ": delta " + Signed(it.Delta)
		hasCI := !math.IsNaN(it.Low) && !math.IsNaN(it.High)
		if hasCI {
			title += ", " + p.level() + " [" + Signed(it.Low) + ", " + Signed(it.High) + "]"
		}
		if it.Note != "" {
			title += ", " + it.Note
		}
		fmt.Fprintf(&c.b, `<g class="delta-row %s" data-class="%s"><title>%s</title>`, esc(it.Class), esc(it.Class), esc(title))
		if i%2 == 0 {
			fmt.Fprintf(&c.b, `<rect x="0" y="%s" width="%s" height="%s" fill="#f6f8fa"/>`, coord(y-deltaRowH/2), coord(deltaW), coord(deltaRowH))
		}
		c.text(deltaLabelW-8, y+4, "end", 12, `class="row-label"`, shorten(it.Label, 30))
		if hasCI {
			lo, hi := math.Min(it.Low, it.High), math.Max(it.Low, it.High)
			xl, xh := sx.at(clamp(lo, -m, m)), sx.at(clamp(hi, -m, m))
			c.line(xl, y, xh, y, color, `stroke-width="3" class="ci"`)
			if lo < -m {
				fmt.Fprintf(&c.b, `<path class="clipped" d="M%s %sl6 -5v10z" fill="%s"/>`, coord(xl), coord(y), color)
			}
			if hi > m {
				fmt.Fprintf(&c.b, `<path class="clipped" d="M%s %sl-6 -5v10z" fill="%s"/>`, coord(xh), coord(y), color)
			}
		}
		if finite(it.Delta) {
			fmt.Fprintf(&c.b, `<circle class="point" cx="%s" cy="%s" r="4.5" fill="%s" stroke="#fff"/>`, coord(sx.at(clamp(it.Delta, -m, m))), coord(y), color)
		}
		value := Signed(it.Delta)
		if hasCI {
			value += " [" + Signed(it.Low) + ", " + Signed(it.High) + "]"
		}
		c.text(deltaLabelW+deltaPlotW+10, y+4, "start", 11, fmt.Sprintf(`class="row-value" fill="%s"`, color), value)
		if !p.Shared {
			c.text(deltaW-4, y+4, "end", 9, `class="row-scale" fill="#57606a"`, "±"+Num(m))
		}
		c.b.WriteString("</g>")
	}
	return c.done()
}
