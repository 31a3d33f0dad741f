package chart

import (
	"encoding/binary"
	"encoding/xml"
	"errors"
	"html/template"
	"io"
	"math"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

var nan, inf = math.NaN(), math.Inf(1)

const hostile = `<script>alert(1)</script>"onload="x'&]]>`

// checkSVG fails unless s is one well-formed <svg> element with a title
// and a description, no script, no unescaped hostile text and no
// non-finite number in an attribute.
func checkSVG(t testing.TB, s template.HTML) {
	t.Helper()
	str := string(s)
	dec := xml.NewDecoder(strings.NewReader(str))
	dec.Strict = true
	depth, roots := 0, 0
	var title, desc bool
	var stack []string
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("invalid SVG: %v\n%s", err, str)
		}
		switch tk := tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				roots++
				if tk.Name.Local != "svg" {
					t.Fatalf("root is <%s>, not <svg>", tk.Name.Local)
				}
			}
			if tk.Name.Local == "script" || tk.Name.Local == "foreignObject" {
				t.Fatalf("<%s> in chart: %s", tk.Name.Local, str)
			}
			if depth == 1 && tk.Name.Local == "title" {
				title = true
			}
			if depth == 1 && tk.Name.Local == "desc" {
				desc = true
			}
			for _, a := range tk.Attr {
				if strings.HasPrefix(strings.ToLower(a.Name.Local), "on") {
					t.Fatalf("event handler attribute %s in %s", a.Name.Local, str)
				}
				if strings.Contains(a.Value, "NaN") || strings.Contains(a.Value, "Inf") {
					if a.Name.Local != "data-series" && a.Name.Local != "data-label" {
						t.Fatalf("non-finite number in %s=%q", a.Name.Local, a.Value)
					}
				}
			}
			stack = append(stack, tk.Name.Local)
			depth++
		case xml.EndElement:
			depth--
			stack = stack[:len(stack)-1]
		}
	}
	require.Equal(t, 1, roots, "one <svg> root")
	require.True(t, title && desc, "the chart has a <title> and a <desc>: %s", str)
	require.NotContains(t, str, "<script")
}

func TestChartsAreValidSVGOnAnyInput(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		svg  template.HTML
	}{
		{"deltas empty", Deltas(DeltasParams{ID: "d", Title: "Deltas"})},
		{"deltas hostile and non-finite", Deltas(DeltasParams{ID: hostile, Title: hostile, Desc: hostile, Confidence: 0.95, Items: []Delta{
			{Label: hostile, Delta: nan, Low: nan, High: nan, Class: hostile, Note: hostile},
			{Label: "inf", Delta: inf, Low: -inf, High: inf, Class: "up"},
			{Label: "reversed", Delta: 0.1, Low: 0.3, High: -0.2, Class: "down"},
			{Label: "zero", Delta: 0, Low: 0, High: 0},
		}})},
		{"deltas shared with limit", Deltas(DeltasParams{ID: "s", Title: "S", Shared: true, Limit: 0.05, Items: []Delta{{Label: "a", Delta: 0.2, Low: -1, High: 3}}})},
		{"curves empty", Curves(CurvesParams{ID: "c", Title: "ROC"})},
		{"curves non-finite only", Curves(CurvesParams{ID: "c", Title: "ROC", Series: []Series{{Name: "x", Points: []Point{{nan, 1}, {inf, 0}}}}})},
		{"curves hostile", Curves(CurvesParams{ID: "c", Title: hostile, XLabel: hostile, YLabel: hostile, Diagonal: true, Series: []Series{
			{Name: hostile, Note: hostile, Points: []Point{{0, 0}, {nan, 0.5}, {2, -3}, {1, 1}}}, {Name: "p", Points: []Point{{0, 0}, {1, 1}}}}})},
		{"reliability empty", Reliability(ReliabilityParams{ID: "r", Title: "R"})},
		{"reliability hostile", Reliability(ReliabilityParams{ID: "r", Title: hostile, Series: []ReliabilitySeries{{Name: hostile, Bins: []Bin{{nan, inf, -1}, {0.5, 0.4, 10}}}}})},
		{"histogram empty", Histogram(HistogramParams{ID: "h", Title: "H"})},
		{"histogram ragged", Histogram(HistogramParams{ID: "h", Title: hostile, Labels: []string{hostile, "b", "c"}, Reference: []float64{nan, 0.5}, Current: []float64{inf, -2, 9}})},
		{"histogram all zero", Histogram(HistogramParams{ID: "h", Title: "H", Labels: []string{"a"}, Reference: []float64{0}, Current: []float64{0}})},
		{"counts empty", Counts(CountsParams{ID: "n", Title: "N"})},
		{"counts hostile", Counts(CountsParams{ID: "n", Title: hostile, Items: []Count{{Label: hostile, Value: nan, Color: `red" onload="x`}, {Label: "high", Value: 3, Color: "#cf222e"}, {Label: "low", Value: -inf}}})},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			checkSVG(t, c.svg)
			require.NotContains(t, string(c.svg), "<script>alert")
			require.NotContains(t, string(c.svg), `"onload="`)
		})
	}
}

var numAttr = regexp.MustCompile(`(x1|x2|cx)="([-0-9.]+)"`)

// TestDeltasClipIntervalsToTheAxis: an interval beyond the axis limit is
// drawn to the edge of the plot, never past it, with an arrow saying so;
// one within it is drawn at its true ends.
func TestDeltasClipIntervalsToTheAxis(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		item      Delta
		limit     float64
		clipped   int
		wantLo    float64 // expected x of the interval's ends
		wantHi    float64
		wantPoint float64
	}{
		// axis ±0.1*1.08 over [210, 510]: x(v) = 360 + v/0.108*150
		{"inside", Delta{Delta: 0.05, Low: -0.1, High: 0.1}, 0, 0, 360 - 0.1/0.108*150, 360 + 0.1/0.108*150, 360 + 0.05/0.108*150},
		{"both clipped", Delta{Delta: 0.05, Low: -3, High: 2}, 0.1, 2, 210, 510, 360 + 0.05/0.108*150},
		{"infinite high", Delta{Delta: 0.1, Low: 0.02, High: inf}, 0, 1, 360 + 0.02/0.108*150, 510, 360 + 0.1/0.108*150},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.item.Label = "m"
			s := string(Deltas(DeltasParams{ID: "d", Title: "t", Items: []Delta{c.item}, Limit: c.limit}))
			checkSVG(t, template.HTML(s))
			require.Equal(t, c.clipped, strings.Count(s, `class="clipped"`))
			ci := s[strings.Index(s, `class="ci"`)-80:]
			got := map[string]float64{}
			for _, m := range numAttr.FindAllStringSubmatch(ci, -1) {
				if _, ok := got[m[1]]; !ok {
					got[m[1]], _ = strconv.ParseFloat(m[2], 64)
				}
			}
			require.InDelta(t, c.wantLo, got["x1"], 0.06)
			require.InDelta(t, c.wantHi, got["x2"], 0.06)
			require.InDelta(t, c.wantPoint, got["cx"], 0.06)
			for _, k := range []string{"x1", "x2", "cx"} {
				require.GreaterOrEqual(t, got[k], deltaLabelW)
				require.LessOrEqual(t, got[k], deltaLabelW+deltaPlotW)
			}
		})
	}
}

// TestDeltasTitleCarriesTheNumbers: a row's title states its delta and
// interval to six significant digits, and its colour follows Class.
func TestDeltasTitleCarriesTheNumbers(t *testing.T) {
	t.Parallel()
	s := string(Deltas(DeltasParams{ID: "d", Title: "t", Confidence: 0.95, Items: []Delta{
		{Label: "roc_auc", Delta: 0.0123456789, Low: 0.001, High: 0.0234, Class: "up", Note: "improved"},
		{Label: "log_loss", Delta: 0.2, Low: 0.1, High: 0.3, Class: "down"},
	}}))
	require.Contains(t, s, "<title>roc_auc: delta +0.0123457, 95% interval [+0.001, +0.0234], improved</title>")
	require.Contains(t, s, `<g class="delta-row down" data-class="down"><title>log_loss: delta +0.2, 95% interval [+0.1, +0.3]</title>`)
	require.Contains(t, s, `fill="`+colorUp+`"`)
	require.Contains(t, s, "2 rows: 1 better, 1 worse, 0 without a clear change.")
}

func TestScalesAndTicks(t *testing.T) {
	t.Parallel()
	s := linear{0, 1, 52, 366}
	require.InDelta(t, 52, s.at(0), 1e-12)
	require.InDelta(t, 366, s.at(1), 1e-12)
	require.InDelta(t, 209, s.at(0.5), 1e-12)
	inv := linear{0, 1, 296, 30} // y grows downwards
	require.InDelta(t, 296, inv.at(0), 1e-12)
	require.InDelta(t, 30, inv.at(1), 1e-12)
	require.InDelta(t, 5, linear{2, 2, 0, 10}.at(7), 1e-12, "a zero-width domain maps to the middle")
	require.Equal(t, []float64{0, 0.1, 0.2, 0.3}, ticks(0, 0.33, 4))
	require.Equal(t, []float64{0, 0.25, 0.5, 0.75, 1}, ticks(0, 1, 4))
	require.Nil(t, ticks(1, 0, 4))
	require.Nil(t, ticks(0, inf, 4))
	require.Equal(t, "0", coord(nan))
	require.Equal(t, 0.0, clamp(nan, 0, 1))
}

// rocLike is a monotone staircase of n steps, like a ROC curve of n
// distinct scores.
func rocLike(n int, seed uint64) []Point {
	r := rand.New(rand.NewPCG(seed, 1))
	pts := []Point{{0, 0}}
	var x, y float64
	for range n {
		if r.Float64() < 0.6 {
			y++
		} else {
			x++
		}
		pts = append(pts, Point{x, y})
	}
	for i := range pts {
		pts[i].X /= math.Max(x, 1)
		pts[i].Y /= math.Max(y, 1)
	}
	return pts
}

func TestDownsample(t *testing.T) {
	t.Parallel()
	t.Run("collinear points go, the drawing and area stay", func(t *testing.T) {
		t.Parallel()
		in := []Point{{0, 0}, {0, 0.5}, {0, 1}, {0.5, 1}, {1, 1}, {1, 1}}
		out := Downsample(in, 200)
		require.Equal(t, []Point{{0, 0}, {0, 1}, {1, 1}}, out)
		require.Equal(t, TrapezoidArea(in), TrapezoidArea(out))
	})
	t.Run("a curve that turns back keeps its turn", func(t *testing.T) {
		t.Parallel()
		in := []Point{{0, 0}, {1, 0}, {0.5, 0}}
		require.Equal(t, in, Downsample(in, 200))
	})
	t.Run("non-finite points are dropped", func(t *testing.T) {
		t.Parallel()
		require.Equal(t, []Point{{0, 0}, {1, 1}}, Downsample([]Point{{0, 0}, {nan, 1}, {inf, 0}, {1, 1}}, 200))
		require.Empty(t, Downsample(nil, 200))
	})
	for _, n := range []int{150, 1000, 20000} {
		t.Run("staircase of "+strconv.Itoa(n), func(t *testing.T) {
			t.Parallel()
			in := rocLike(n, uint64(n))
			out := Downsample(in, MaxCurvePoints)
			require.LessOrEqual(t, len(out), MaxCurvePoints)
			require.Equal(t, in[0], out[0])
			require.Equal(t, in[len(in)-1], out[len(out)-1])
			set := map[Point]bool{}
			for _, p := range in {
				set[p] = true
			}
			for i, p := range out {
				require.True(t, set[p], "every kept point is a vertex of the input")
				if i > 0 {
					require.GreaterOrEqual(t, p.X, out[i-1].X, "order is kept")
				}
			}
			require.InDelta(t, TrapezoidArea(in), TrapezoidArea(out), 2e-3, "the AUC moves by less than 0.002")
		})
	}
	require.Len(t, Downsample(rocLike(100, 3), 1), 3, "at least the ends and one point")
}

// FuzzRender feeds every renderer numbers and names decoded from the
// fuzzer's bytes: whatever they are, the output is one valid <svg>.
func FuzzRender(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0xf8, 0x7f}, "<b>", 0.95)
	f.Add([]byte("\x00\x00\x00\x00\x00\x00\xf0\x7f\x01\x02\x03\x04\x05\x06\x07\x08"), hostile, math.NaN())
	f.Add([]byte{}, "", 0.0)
	f.Fuzz(func(t *testing.T, raw []byte, name string, conf float64) {
		var v []float64
		for len(raw) >= 8 {
			v = append(v, math.Float64frombits(binary.LittleEndian.Uint64(raw)))
			raw = raw[8:]
		}
		at := func(i int) float64 {
			if len(v) == 0 {
				return 0
			}
			return v[i%len(v)]
		}
		var items []Delta
		var pts []Point
		var bins []Bin
		var counts []Count
		labels := []string{}
		for i := range v {
			items = append(items, Delta{Label: name, Delta: at(i), Low: at(i + 1), High: at(i + 2), Class: name, Note: name})
			pts = append(pts, Point{at(i), at(i + 1)})
			bins = append(bins, Bin{at(i), at(i + 1), at(i + 2)})
			counts = append(counts, Count{Label: name, Value: at(i), Color: name})
			labels = append(labels, name)
		}
		checkSVG(t, Deltas(DeltasParams{ID: name, Title: name, Desc: name, Confidence: conf, Items: items, Limit: at(3), Shared: len(v)%2 == 0}))
		checkSVG(t, Curves(CurvesParams{ID: name, Title: name, XLabel: name, YLabel: name, Series: []Series{{Name: name, Note: name, Points: pts}}, Diagonal: true}))
		checkSVG(t, Curves(CurvesParams{ID: name, Title: name, Series: []Series{{Name: name, Points: Downsample(pts, 5)}}}))
		checkSVG(t, Reliability(ReliabilityParams{ID: name, Title: name, Series: []ReliabilitySeries{{Name: name, Bins: bins}}}))
		checkSVG(t, Histogram(HistogramParams{ID: name, Title: name, Labels: labels, Reference: v, Current: v[min(1, len(v)):], ReferenceName: name}))
		checkSVG(t, Counts(CountsParams{ID: name, Title: name, Items: counts}))
		checkSVG(t, Histogram(HistogramParams{ID: IDFor(name, name), Title: name, Labels: labels, Reference: v, Current: v}))
	})
}
