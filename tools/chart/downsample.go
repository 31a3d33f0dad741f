package chart

import (
	"container/heap"
	"math"
)

// MaxCurvePoints is the size a stored curve is downsampled to: enough
// for a chart a few hundred pixels wide, small enough to keep in every
// evaluation report.
const MaxCurvePoints = 200

// Downsample returns at most max points of a polyline (max < 3 is
// taken as 3). It drops non-finite points, then interior points that
// are exactly collinear with their neighbours (which changes neither
// the drawing nor the area under it), then, while too many remain, the
// point whose removal changes the area under the polyline least
// (Visvalingam–Whyatt). The first and last points are always kept, so a
// ROC curve still runs from (0,0) to (1,1); removing a vertex changes
// the trapezoidal area by exactly the triangle it forms with its
// neighbours, so the AUC of the result differs from the input's by at
// most the sum of those triangles.
func Downsample(pts []Point, max int) []Point {
	max = int(math.Max(float64(max), 3))
	in := make([]Point, 0, len(pts))
	for _, p := range pts {
		if finite(p.X) && finite(p.Y) {
			in = append(in, p)
		}
	}
	in = dropCollinear(in)
	if len(in) <= max {
		return in
	}
	n := len(in)
	prev, next := make([]int, n), make([]int, n)
	for i := range in {
		prev[i], next[i] = i-1, i+1
	}
	gen := make([]int, n)
	h := &areaHeap{}
	for i := 1; i < n-1; i++ {
		heap.Push(h, areaItem{i, triangle(in[i-1], in[i], in[i+1]), 0})
	}
	alive := n
	removed := make([]bool, n)
	for alive > max && h.Len() > 0 {
		it := heap.Pop(h).(areaItem)
		if removed[it.i] || it.gen != gen[it.i] {
			continue
		}
		removed[it.i] = true
		alive--
		p, q := prev[it.i], next[it.i]
		next[p], prev[q] = q, p
		for _, j := range []int{p, q} {
			if j > 0 && j < n-1 {
				gen[j]++
				heap.Push(h, areaItem{j, triangle(in[prev[j]], in[j], in[next[j]]), gen[j]})
			}
		}
	}
	out := make([]Point, 0, alive)
	for i := 0; i < n; i = next[i] {
		out = append(out, in[i])
	}
	return out
}

func dropCollinear(in []Point) []Point {
	if len(in) < 3 {
		return in
	}
	out := []Point{in[0]}
	for i := 1; i < len(in)-1; i++ {
		a, b, c := out[len(out)-1], in[i], in[i+1]
		if b == a || triangle(a, b, c) == 0 && between(a, b, c) {
			continue
		}
		out = append(out, b)
	}
	last := in[len(in)-1]
	if last != out[len(out)-1] || len(out) == 1 {
		out = append(out, last)
	}
	return out
}

// between reports whether b lies between a and c on their segment, so
// that dropping it does not shorten a curve that turns back.
func between(a, b, c Point) bool {
	return math.Min(a.X, c.X) <= b.X && b.X <= math.Max(a.X, c.X) &&
		math.Min(a.Y, c.Y) <= b.Y && b.Y <= math.Max(a.Y, c.Y)
}

func triangle(a, b, c Point) float64 {
	return math.Abs((b.X-a.X)*(c.Y-a.Y)-(c.X-a.X)*(b.Y-a.Y)) / 2
}

// TrapezoidArea is the area under a polyline by the trapezoidal rule
// (scikit-learn's auc), for checking what Downsample preserved.
func TrapezoidArea(pts []Point) float64 {
	var a float64
	for i := 1; i < len(pts); i++ {
		a += (pts[i].X - pts[i-1].X) * (pts[i].Y + pts[i-1].Y) / 2
	}
	return a
}

type areaItem struct {
	i    int
	area float64
	gen  int
}

type areaHeap []areaItem

func (h areaHeap) Len() int { return len(h) }
func (h areaHeap) Less(i, j int) bool {
	if h[i].area != h[j].area {
		return h[i].area < h[j].area
	}
	return h[i].i < h[j].i
}
func (h areaHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *areaHeap) Push(x any)   { *h = append(*h, x.(areaItem)) }
func (h *areaHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	return it
}
