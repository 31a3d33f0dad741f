package chart

import (
	"fmt"
	"html/template"
	"math"
)

// Count is one bar of a counts chart.
type Count struct {
	Label string
	Value float64
	Color string // a CSS colour of the caller's palette; default neutral
}

// CountsParams is a horizontal bar chart of counts (findings by severity).
type CountsParams struct {
	ID, Title, Desc string
	Items           []Count
}

// Counts draws one horizontal bar per item with its count written after
// it; a category with no items keeps its row, so the absence of
// critical findings reads as a zero, not as a missing row.
func Counts(p CountsParams) template.HTML {
	if len(p.Items) == 0 {
		return empty(p.ID, "counts", p.Title, "Nothing to count.")
	}
	const w, labelW, barW, rowH, top = 480.0, 90.0, 320.0, 22.0, 30.0
	h := top + float64(len(p.Items))*rowH + 8
	maxv, total := 0.0, 0.0
	for _, it := range p.Items {
		if finite(it.Value) && it.Value > 0 {
			maxv = math.Max(maxv, it.Value)
			total += it.Value
		}
	}
	if maxv == 0 {
		maxv = 1
	}
	desc := fmt.Sprintf("%s in total.", Num(total))
	if p.Desc != "" {
		desc = p.Desc + " " + desc
	}
	c := newCanvas(p.ID, "counts", p.Title, desc, w, h)
	sx := linear{0, maxv, labelW, labelW + barW}
	for i, it := range p.Items {
		y := top + float64(i)*rowH
		v := it.Value
		if !finite(v) || v < 0 {
			v = 0
		}
		color := it.Color
		if !validColor(color) {
			color = colorNeutral
		}
		fmt.Fprintf(&c.b, `<g class="count-row" data-label="%s"><title>%s: %s</title>`, esc(it.Label), esc(it.Label), Num(it.Value))
		c.text(labelW-8, y+rowH/2+4, "end", 12, `class="row-label"`, shorten(it.Label, 14))
		fmt.Fprintf(&c.b, `<rect class="bar" x="%s" y="%s" width="%s" height="%s" fill="%s"/>`, coord(labelW), coord(y+4), coord(sx.at(v)-labelW), coord(rowH-8), color)
		c.text(sx.at(v)+6, y+rowH/2+4, "start", 11, `class="row-value"`, Num(it.Value))
		c.b.WriteString("</g>")
	}
	return c.done()
}

// validColor accepts #rgb and #rrggbb only: a colour reaches an
// attribute, so nothing else may pass.
func validColor(s string) bool {
	if len(s) != 4 && len(s) != 7 || s[0] != '#' {
		return false
	}
	for _, r := range s[1:] {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f' || r >= 'A' && r <= 'F') {
			return false
		}
	}
	return true
}
