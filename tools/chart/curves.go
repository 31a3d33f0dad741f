package chart

import (
	"fmt"
	"html/template"
	"strings"
)

// Point is one vertex of a curve, in data units.
type Point struct{ X, Y float64 }

// Series is one model's curve.
type Series struct {
	Name   string
	Points []Point
	Note   string // "AUC 0.9876": written in the legend and the series' title
}

// CurvesParams is a chart of curves on the unit square (ROC, PR).
type CurvesParams struct {
	ID, Title, Desc string
	XLabel, YLabel  string
	Series          []Series
	Diagonal        bool // the chance line y = x (ROC)
}

const (
	sqW, sqH               = 380.0, 340.0
	sqL, sqR, sqT, sqB     = 52.0, 14.0, 30.0, 44.0
	legendRowH, markRadius = 15.0, 3.5
)

type square struct{ sx, sy linear }

func newSquare() square {
	return square{sx: linear{0, 1, sqL, sqW - sqR}, sy: linear{0, 1, sqH - sqB, sqT}}
}

// frame draws the axes of the unit square with their ticks and labels.
func (c *canvas) frame(sq square, xl, yl string) {
	for _, t := range []float64{0, 0.25, 0.5, 0.75, 1} {
		x, y := sq.sx.at(t), sq.sy.at(t)
		c.line(x, sq.sy.at(0), x, sq.sy.at(1), colorGrid, "")
		c.line(sq.sx.at(0), y, sq.sx.at(1), y, colorGrid, "")
		c.text(x, sq.sy.at(0)+14, "middle", 10, `class="tick"`, Num(t))
		c.text(sq.sx.at(0)-5, y+3, "end", 10, `class="tick"`, Num(t))
	}
	fmt.Fprintf(&c.b, `<rect x="%s" y="%s" width="%s" height="%s" fill="none" stroke="%s"/>`,
		coord(sq.sx.at(0)), coord(sq.sy.at(1)), coord(sq.sx.at(1)-sq.sx.at(0)), coord(sq.sy.at(0)-sq.sy.at(1)), colorAxis)
	c.text((sq.sx.at(0)+sq.sx.at(1))/2, sqH-8, "middle", 11, `class="axis-label x"`, xl)
	my := (sq.sy.at(0) + sq.sy.at(1)) / 2
	c.text(14, my, "middle", 11, fmt.Sprintf(`class="axis-label y" transform="rotate(-90 14 %s)"`, coord(my)), yl)
}

func (c *canvas) legend(sq square, names []string) {
	for i, n := range names {
		y := sq.sy.at(0) - 10 - float64(len(names)-1-i)*legendRowH
		x := sq.sx.at(0.45)
		c.line(x, y-4, x+18, y-4, palette[i%len(palette)], `stroke-width="2.5"`)
		c.text(x+22, y, "start", 11, `class="legend"`, shorten(n, 34))
	}
}

// polyline writes the finite points of a curve clamped to the square.
func (c *canvas) polyline(sq square, pts []Point, color string) int {
	var b strings.Builder
	n := 0
	for _, p := range pts {
		if !finite(p.X) || !finite(p.Y) {
			continue
		}
		fmt.Fprintf(&b, "%s,%s ", coord(sq.sx.at(clamp(p.X, 0, 1))), coord(sq.sy.at(clamp(p.Y, 0, 1))))
		n++
	}
	if n > 0 {
		fmt.Fprintf(&c.b, `<polyline class="curve" fill="none" stroke="%s" stroke-width="2" stroke-linejoin="round" points="%s"/>`, color, strings.TrimSpace(b.String()))
	}
	return n
}

func seriesTitle(s Series, n int) string {
	t := s.Name
	if s.Note != "" {
		t += ": " + s.Note
	}
	return fmt.Sprintf("%s (%d points)", t, n)
}

// Curves draws one polyline per series on the unit square, the first
// series in the candidate's colour, the second in production's.
func Curves(p CurvesParams) template.HTML {
	drawable := 0
	for _, s := range p.Series {
		for _, pt := range s.Points {
			if finite(pt.X) && finite(pt.Y) {
				drawable++
				break
			}
		}
	}
	if drawable == 0 {
		return empty(p.ID, "curves", p.Title, "No curve: the labels hold a single class or there are no scores.")
	}
	var names, notes []string
	for _, s := range p.Series {
		n := s.Name
		if s.Note != "" {
			n += " (" + s.Note + ")"
			notes = append(notes, s.Name+" "+s.Note)
		}
		names = append(names, n)
	}
	desc := p.Desc
	if len(notes) > 0 {
		desc = strings.TrimSpace(desc + " " + strings.Join(notes, "; ") + ".")
	}
	c := newCanvas(p.ID, "curves", p.Title, desc, sqW, sqH)
	sq := newSquare()
	c.frame(sq, p.XLabel, p.YLabel)
	if p.Diagonal {
		c.line(sq.sx.at(0), sq.sy.at(0), sq.sx.at(1), sq.sy.at(1), colorAxis, `stroke-dasharray="4 3" class="chance"`)
	}
	for i, s := range p.Series {
		fmt.Fprintf(&c.b, `<g class="series" data-series="%s">`, esc(s.Name))
		var inner canvas
		n := inner.polyline(sq, s.Points, palette[i%len(palette)])
		fmt.Fprintf(&c.b, `<title>%s</title>%s</g>`, esc(seriesTitle(s, n)), inner.b.String())
	}
	c.legend(sq, names)
	return c.done()
}

// Bin is one bin of a reliability diagram (scikit-learn's
// calibration_curve: prob_pred, prob_true) with its row count.
type Bin struct {
	MeanPredicted, FractionPositive, Count float64
}

// ReliabilitySeries is one model's calibration.
type ReliabilitySeries struct {
	Name string
	Bins []Bin
	Note string // "ECE 0.021"
}

// ReliabilityParams is a reliability diagram.
type ReliabilityParams struct {
	ID, Title, Desc string
	Series          []ReliabilitySeries
}

// Reliability draws each model's observed positive rate against its
// mean predicted probability per bin, over the diagonal of perfect
// calibration; each bin is a marker whose title gives its numbers.
func Reliability(p ReliabilityParams) template.HTML {
	hasBins := false
	for _, s := range p.Series {
		hasBins = hasBins || len(s.Bins) > 0
	}
	if !hasBins {
		return empty(p.ID, "reliability", p.Title, "No calibration: there are no probabilities to bin.")
	}
	var names, notes []string
	for _, s := range p.Series {
		n := s.Name
		if s.Note != "" {
			n += " (" + s.Note + ")"
			notes = append(notes, s.Name+" "+s.Note)
		}
		names = append(names, n)
	}
	desc := p.Desc
	if len(notes) > 0 {
		desc = strings.TrimSpace(desc + " " + strings.Join(notes, "; ") + ".")
	}
	c := newCanvas(p.ID, "reliability", p.Title, desc, sqW, sqH)
	sq := newSquare()
	c.frame(sq, "mean predicted probability", "fraction of positives")
	c.line(sq.sx.at(0), sq.sy.at(0), sq.sx.at(1), sq.sy.at(1), colorAxis, `stroke-dasharray="4 3" class="chance"`)
	for i, s := range p.Series {
		color := palette[i%len(palette)]
		pts := make([]Point, 0, len(s.Bins))
		for _, b := range s.Bins {
			pts = append(pts, Point{b.MeanPredicted, b.FractionPositive})
		}
		fmt.Fprintf(&c.b, `<g class="series" data-series="%s"><title>%s</title>`, esc(s.Name), esc(seriesTitle(Series{Name: s.Name, Note: s.Note}, len(s.Bins))))
		c.polyline(sq, pts, color)
		for _, b := range s.Bins {
			if !finite(b.MeanPredicted) || !finite(b.FractionPositive) {
				continue
			}
			fmt.Fprintf(&c.b, `<circle class="bin" cx="%s" cy="%s" r="%s" fill="%s"><title>%s</title></circle>`,
				coord(sq.sx.at(clamp(b.MeanPredicted, 0, 1))), coord(sq.sy.at(clamp(b.FractionPositive, 0, 1))), coord(markRadius), color,
				esc(fmt.Sprintf("%s: %s rows, mean predicted %s, fraction positive %s", s.Name, Num(b.Count), Num(b.MeanPredicted), Num(b.FractionPositive))))
		}
		c.b.WriteString("</g>")
	}
	c.legend(sq, names)
	return c.done()
}
