package drift

import (
	"fmt"
	"math"
	"runtime/debug"
	"slices"
	"sync"

	"github.com/modelgate/modelgate/tools/dataset"
	"github.com/modelgate/modelgate/tools/stats"
)

// StreamOptions configure CompareStream.
type StreamOptions struct {
	Options
	MemoryBudget int64 // bytes; default 256 MiB
	Delimiter    rune
	K            int // KLL accuracy parameter; default stats.DefaultK
	MaxDistinct  int // categories tracked exactly per column; default 100,000
}

// minBudget is the smallest memory budget honoured.
const minBudget = 48 << 20

// profile is one column's one-pass summary.
type profile struct {
	typ      dataset.Type
	rows     int
	nulls    int
	sketch   *stats.KLL
	mean, m2 float64 // Welford, for the standard deviation
	counts   map[string]float64
	overflow bool
}

func (p *profile) addNumeric(c *dataset.Column) {
	for i, v := range c.Num {
		p.rows++
		if c.Null[i] {
			p.nulls++
			continue
		}
		p.sketch.Add(v)
		n := float64(p.sketch.N())
		d := v - p.mean
		p.mean += d / n
		p.m2 += d * (v - p.mean)
	}
}

func (p *profile) addText(c *dataset.Column, maxDistinct int) {
	for i := range c.Null {
		p.rows++
		if c.Null[i] {
			p.nulls++
			continue
		}
		k := c.Text(i)
		if _, ok := p.counts[k]; !ok && len(p.counts) >= maxDistinct {
			k, p.overflow = "(other)", true
		}
		p.counts[k]++
	}
}

func streamProfiles(path string, o StreamOptions, blockBytes int) ([]string, []*profile, error) {
	var names []string
	var profs []*profile
	_, err := dataset.Stream(path, dataset.StreamOptions{Options: dataset.Options{Delimiter: o.Delimiter}, BlockBytes: blockBytes}, func(b *dataset.Block) error {
		if profs == nil {
			for _, c := range b.Columns {
				names = append(names, c.Name)
				p := &profile{typ: c.Type}
				if c.Type == dataset.TypeNumeric {
					p.sketch = stats.NewKLL(o.K)
				} else {
					p.counts = map[string]float64{}
				}
				profs = append(profs, p)
			}
		}
		// Columns are independent: update their summaries in parallel.
		var wg sync.WaitGroup
		for i, c := range b.Columns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if profs[i].sketch != nil {
					profs[i].addNumeric(c)
				} else {
					profs[i].addText(c, o.MaxDistinct)
				}
			}()
		}
		wg.Wait()
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	if profs == nil {
		return nil, nil, fmt.Errorf("%s has no data rows", path)
	}
	return names, profs, nil
}

// CompareStream compares two CSV files in one pass each, in memory
// bounded by MemoryBudget whatever their size. Numeric columns are
// summarised by KLL sketches (results marked approximate; the error
// bound is on stats.KLL), categorical columns by exact counts. The test
// selection is Compare's; KS p-values are computed from the sketch
// statistic with scipy's formula.
func CompareStream(refPath, curPath string, o StreamOptions) (*Result, error) {
	o.defaults()
	if err := o.Check(); err != nil {
		return nil, err
	}
	if o.MemoryBudget == 0 {
		o.MemoryBudget = 256 << 20
	}
	if o.MemoryBudget < minBudget {
		return nil, fmt.Errorf("memory budget %d bytes is too small: give at least 48MiB (the program itself takes about 30MiB)", o.MemoryBudget)
	}
	if o.K == 0 {
		o.K = stats.DefaultK
	}
	if o.MaxDistinct == 0 {
		o.MaxDistinct = 100_000
	}
	// The budget covers the whole process: about 30MiB of it is the
	// binary and the runtime, the rest is heap. The Go runtime collects
	// more eagerly as the heap nears its limit; blocks in flight are what
	// use the heap, so they are sized from the budget too.
	prev := debug.SetMemoryLimit(max(o.MemoryBudget/4, o.MemoryBudget-minBudget))
	defer debug.SetMemoryLimit(prev)
	blockBytes := int(min(4<<20, o.MemoryBudget/256))
	refNames, ref, err := streamProfiles(refPath, o, blockBytes)
	if err != nil {
		return nil, fmt.Errorf("reference: %w", err)
	}
	curNames, cur, err := streamProfiles(curPath, o, blockBytes)
	if err != nil {
		return nil, fmt.Errorf("current: %w", err)
	}
	cols := o.Columns
	if len(cols) == 0 {
		for _, n := range refNames {
			if !slices.Contains(o.Exclude, n) {
				cols = append(cols, n)
			}
		}
	}
	res := &Result{Columns: map[string]*ColumnResult{}, Order: cols, ShareThreshold: o.Share, Correction: o.Correction}
	for _, name := range cols {
		ri := slices.Index(refNames, name)
		ci := slices.Index(curNames, name)
		if ri < 0 {
			return nil, fmt.Errorf("%w: column %q is not in the reference %s", ErrColumn, name, refPath)
		}
		if ci < 0 {
			return nil, fmt.Errorf("%w: column %q of the reference is missing from the current data %s", ErrColumn, name, curPath)
		}
		rp, cp := ref[ri], cur[ci]
		if rp.typ != cp.typ {
			return nil, fmt.Errorf("%w: column %q is %s in the reference but %s in the current data %s", ErrColumn, name, rp.typ, cp.typ, curPath)
		}
		res.Columns[name] = compareProfiles(name, rp, cp, o.Options)
	}
	finish(res, o.Options)
	return res, nil
}

func compareProfiles(name string, rp, cp *profile, o Options) *ColumnResult {
	r := &ColumnResult{colName: name, Type: string(rp.typ), Approximate: rp.sketch != nil}
	if rp.rows > 0 {
		r.NullFractionReference = float64(rp.nulls) / float64(rp.rows)
	}
	if cp.rows > 0 {
		r.NullFractionCurrent = float64(cp.nulls) / float64(cp.rows)
	}
	if rp.typ == dataset.TypeTimestamp {
		r.Test, r.Note = TestNone, "timestamp columns are not tested for drift"
		return r
	}
	if rp.sketch == nil {
		categoricalResult(r, rp.counts, cp.counts, rp.rows, o)
		if rp.overflow || cp.overflow {
			r.Note = "more categories than tracked exactly; the rarest are pooled as (other)"
		}
		return r
	}
	na, nb := int(rp.sketch.N()), int(cp.sketch.N())
	r.RowsReference, r.RowsCurrent = na, nb
	if na == 0 || nb == 0 {
		noData(r, na, nb)
		return r
	}
	av, aw := rp.sketch.Items()
	bv, bw := cp.sketch.Items()
	d := stats.WeightedKS(av, aw, bv, bw)
	ks := stats.KSPValue(d, na, nb)
	w := stats.WeightedWasserstein(av, aw, bv, bw)
	ra, ca := stats.NewItemsCDF(av, aw, rp.sketch.N()), stats.NewItemsCDF(bv, bw, cp.sketch.N())
	psi := sketchPSI(ra, ca, o.Bins)
	r.KSStatistic, r.KSPValue, r.Wasserstein, r.PSI = ptr(ks.Statistic), ptr(ks.PValue), ptr(w), ptr(psi)
	std := math.Sqrt(rp.m2 / float64(na))
	test := chooseTest(dataset.TypeNumeric, rp.rows, distinctUpTo(av, 6), o)
	if over, ok := o.PerColumn[name]; ok && over.Test != TestAuto {
		test = over.Test
	}
	if test == TestChiSquare || test == TestZ || test == TestJensenShannon {
		// Few distinct values: the sketch holds them all with exact weights.
		r.Test = test
		categoricalStats(r, weightsByValue(av, aw), weightsByValue(bv, bw), test)
	} else {
		r.Test = test
		switch test {
		case TestKS:
			r.Statistic, r.PValue = ks.Statistic, ptr(ks.PValue)
		case TestWasserstein:
			r.Statistic = w / math.Max(std, 0.001)
		case TestPSI:
			r.Statistic = psi
		}
	}
	decide(r, o)
	if o.Histograms {
		r.Histogram = sketchHistogram(rp.sketch, cp.sketch, ra, ca, 20)
	}
	return r
}

func distinctUpTo(sorted []float64, limit int) int { return countDistinctSorted(sorted, limit) }

func weightsByValue(v, w []float64) map[string]float64 {
	out := map[string]float64{}
	for i := range v {
		out[fmt.Sprint(v[i])] += w[i]
	}
	return out
}

// sketchPSI bins at the reference sketch's deciles.
func sketchPSI(ref, cur stats.ItemsCDF, bins int) float64 {
	var edges []float64
	for k := 1; k < bins; k++ {
		e := ref.Quantile(float64(k) / float64(bins))
		if len(edges) == 0 || e > edges[len(edges)-1] {
			edges = append(edges, e)
		}
	}
	shares := func(s stats.ItemsCDF) []float64 {
		out := make([]float64, len(edges)+1)
		prev := 0.0
		for i, e := range edges {
			c := s.CDF(e)
			out[i] = c - prev
			prev = c
		}
		out[len(edges)] = 1 - prev
		return out
	}
	r, c := shares(ref), shares(cur)
	psi := 0.0
	for i := range r {
		pr, pc := math.Max(r[i], 0), math.Max(c[i], 0)
		if pr == 0 {
			pr = stats.PSIEmptyBin
		}
		if pc == 0 {
			pc = stats.PSIEmptyBin
		}
		psi += (pc - pr) * math.Log(pc/pr)
	}
	return psi
}

func sketchHistogram(a, b *stats.KLL, ac, bc stats.ItemsCDF, bins int) *Histogram {
	lo, hi := math.Min(a.Min(), b.Min()), math.Max(a.Max(), b.Max())
	if hi == lo {
		hi = lo + 1
	}
	h := &Histogram{Edges: make([]float64, bins+1), Reference: make([]float64, bins), Current: make([]float64, bins)}
	for i := range h.Edges {
		h.Edges[i] = lo + (hi-lo)*float64(i)/float64(bins)
	}
	// Each edge's CDF once: bin i is CDF(edge i+1) - CDF(edge i), the
	// first bin from 0.
	prevA, prevB := 0.0, 0.0
	for i := 0; i < bins; i++ {
		ca, cb := ac.CDF(h.Edges[i+1]), bc.CDF(h.Edges[i+1])
		h.Reference[i], h.Current[i] = ca-prevA, cb-prevB
		prevA, prevB = ca, cb
		h.Labels = append(h.Labels, fmt.Sprintf("%.4g", (h.Edges[i]+h.Edges[i+1])/2))
	}
	return h
}
