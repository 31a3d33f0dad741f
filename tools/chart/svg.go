package chart

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"html"
	"html/template"
	"math"
	"strconv"
	"strings"
)

// Series colours: the candidate blue, production orange, as in the
// evaluation report; a third and later series cycle through the rest.
var palette = []string{"#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b"}

// Direction colours, the ones the reviewers' page uses for deltas.
const (
	colorUp      = "#1a7f37"
	colorDown    = "#cf222e"
	colorNeutral = "#57606a"
	colorAxis    = "#8c959f"
	colorGrid    = "#eaeef2"
)

// finite reports whether v is a drawable number.
func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// coord formats a coordinate; a non-finite one (a caller's bug, never
// reached through the public functions) becomes 0 rather than invalid SVG.
func coord(v float64) string {
	if !finite(v) {
		return "0"
	}
	return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64)
}

// Num formats a value as it appears in titles and text: six significant
// digits, so that a test can compare it with the stored evidence.
func Num(v float64) string {
	switch {
	case math.IsNaN(v):
		return "undefined"
	case math.IsInf(v, 1):
		return "+inf"
	case math.IsInf(v, -1):
		return "-inf"
	}
	return strconv.FormatFloat(v, 'g', 6, 64)
}

// Signed is Num with a plus sign on positive values.
func Signed(v float64) string {
	s := Num(v)
	if finite(v) && v > 0 {
		s = "+" + s
	}
	return s
}

// Pct formats a share as a percentage with one decimal.
func Pct(v float64) string {
	if !finite(v) {
		return Num(v)
	}
	return strconv.FormatFloat(v*100, 'f', 1, 64) + "%"
}

// esc escapes text for an SVG text node or attribute inside HTML. Bytes
// that are not UTF-8 and characters XML forbids (controls other than
// tab and newline, U+FFFE, U+FFFF) become U+FFFD: a column name read
// from a file may hold anything.
func esc(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r == 0xFFFE || r == 0xFFFF {
			return '\uFFFD'
		}
		return r
	}, s)
	return html.EscapeString(s)
}

// safeID keeps the characters of an element id that need no escaping
// anywhere (attribute, CSS selector, URL fragment).
func safeID(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	if b.Len() == 0 {
		return "chart"
	}
	return b.String()
}

// IDFor is an element id for a chart of a named thing (a column): the
// name's safe characters and a digest of the whole name, so that two
// names that differ only in characters an id cannot hold ("a b", "a-b")
// still get two ids.
func IDFor(prefix, name string) string {
	sum := sha256.Sum256([]byte(name))
	return safeID(prefix + "-" + shorten(name, 24) + "-" + hex.EncodeToString(sum[:4]))
}

// shorten cuts a label to n runes for drawing; the full text stays in
// the mark's <title>.
func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// canvas writes one chart: the <svg> element with its title and
// description, the marks, and the closing tag.
type canvas struct {
	b    strings.Builder
	id   string
	w, h float64
}

func newCanvas(id, kind, title, desc string, w, h float64) *canvas {
	c := &canvas{id: safeID(id), w: w, h: h}
	fmt.Fprintf(&c.b, `<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="%s" data-chart="%s" viewBox="0 0 %s %s" width="%s" height="%s" style="max-width:100%%;height:auto" role="img" aria-labelledby="%s-title %s-desc" font-family="system-ui,sans-serif">`,
		c.id, esc(kind), coord(w), coord(h), coord(w), coord(h), c.id, c.id)
	fmt.Fprintf(&c.b, `<title id="%s-title">%s</title><desc id="%s-desc">%s</desc>`, c.id, esc(title), c.id, esc(desc))
	c.text(8, 16, "start", 13, `font-weight="bold" class="chart-title"`, title)
	return c
}

func (c *canvas) text(x, y float64, anchor string, size float64, extra, s string) {
	fmt.Fprintf(&c.b, `<text x="%s" y="%s" text-anchor="%s" font-size="%s"`, coord(x), coord(y), anchor, coord(size))
	if !strings.Contains(extra, "fill=") {
		c.b.WriteString(` fill="#1f2328"`)
	}
	if extra != "" {
		c.b.WriteString(" " + extra)
	}
	c.b.WriteString(">" + esc(s) + "</text>")
}

func (c *canvas) line(x1, y1, x2, y2 float64, stroke string, extra string) {
	fmt.Fprintf(&c.b, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s"`, coord(x1), coord(y1), coord(x2), coord(y2), stroke)
	if extra != "" {
		c.b.WriteString(" " + extra)
	}
	c.b.WriteString("/>")
}

func (c *canvas) done() template.HTML {
	c.b.WriteString("</svg>")
	return template.HTML(c.b.String())
}

// empty is a chart with nothing to draw: it still has its title and
// says why in words, so that a page never shows a blank box.
func empty(id, kind, title, why string) template.HTML {
	c := newCanvas(id, kind, title, why, 480, 60)
	c.text(8, 40, "start", 12, `class="chart-empty"`, why)
	return c.done()
}

// linear maps [d0, d1] onto [r0, r1].
type linear struct{ d0, d1, r0, r1 float64 }

func (s linear) at(v float64) float64 {
	if s.d1 == s.d0 {
		return (s.r0 + s.r1) / 2
	}
	return s.r0 + (v-s.d0)/(s.d1-s.d0)*(s.r1-s.r0)
}

// clamp bounds v to [lo, hi]; NaN becomes lo.
func clamp(v, lo, hi float64) float64 {
	if math.IsNaN(v) || v < lo {
		return lo
	}
	if v > hi {
		return hi
	}
	return v
}

// ticks returns about n round values covering [lo, hi].
func ticks(lo, hi float64, n int) []float64 {
	if !finite(lo) || !finite(hi) || hi <= lo || n < 1 {
		return nil
	}
	raw := (hi - lo) / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	var out []float64
	for v := math.Ceil(lo/step) * step; v <= hi+step*1e-9 && len(out) < 50; v += step {
		r, _ := strconv.ParseFloat(strconv.FormatFloat(math.Round(v/step)*step, 'g', 12, 64), 64)
		out = append(out, r)
	}
	return out
}
