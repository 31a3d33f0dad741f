package drift

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sort"
	"sync"

	"github.com/modelgate/modelgate/tools/dataset"
	"github.com/modelgate/modelgate/tools/stats"
)

// Test names a drift test.
type Test string

const (
	TestAuto          Test = ""
	TestKS            Test = "ks"
	TestWasserstein   Test = "wasserstein"
	TestPSI           Test = "psi"
	TestChiSquare     Test = "chisquare"
	TestZ             Test = "z"
	TestJensenShannon Test = "jensenshannon"
	TestNone          Test = "none" // not tested (timestamp, or no data)
)

// Tests lists the selectable tests.
var Tests = []Test{TestKS, TestWasserstein, TestPSI, TestChiSquare, TestZ, TestJensenShannon}

// DefaultThreshold is each test's default: a p-value below it (ks,
// chisquare, z) or a distance at or above it (the others) is drift.
func DefaultThreshold(t Test) float64 {
	switch t {
	case TestKS, TestChiSquare, TestZ:
		return 0.05
	}
	return 0.1
}

// PValueTest reports whether t decides by p-value.
func PValueTest(t Test) bool { return t == TestKS || t == TestChiSquare || t == TestZ }

// ColumnOptions overrides the test and threshold for one column.
type ColumnOptions struct {
	Test      Test
	Threshold float64 // 0 = the test's default
}

// Options configure a comparison.
type Options struct {
	Columns    []string                 // compare only these; default every reference column
	Exclude    []string                 // leave these out (e.g. the label)
	Share      float64                  // dataset drift when this share of columns drifted; default 0.5
	Correction string                   // "" or "bh"
	PerColumn  map[string]ColumnOptions // per-column overrides
	SmallN     int                      // reference rows up to which the statistical tests are used; default 1000
	Bins       int                      // PSI bins; default 10
	Histograms bool                     // keep histograms for the HTML report
}

func (o *Options) defaults() {
	if o.Share == 0 {
		o.Share = 0.5
	}
	if o.SmallN == 0 {
		o.SmallN = 1000
	}
	if o.Bins == 0 {
		o.Bins = 10
	}
}

// Check validates options.
func (o Options) Check() error {
	if o.Share < 0 || o.Share > 1 {
		return fmt.Errorf("drift share must be between 0 and 1, got %g", o.Share)
	}
	if o.Correction != "" && o.Correction != "bh" {
		return fmt.Errorf("correction must be \"bh\" or empty, got %q", o.Correction)
	}
	for c, co := range o.PerColumn {
		if co.Test != TestAuto && !slices.Contains(Tests, co.Test) {
			return fmt.Errorf("column %q: unknown drift test %q (one of %v)", c, co.Test, Tests)
		}
		if co.Threshold < 0 {
			return fmt.Errorf("column %q: threshold must be positive", c)
		}
	}
	return nil
}

// Histogram is a column's distribution in both datasets, for reports.
type Histogram struct {
	Labels    []string  `json:"labels"`
	Edges     []float64 `json:"edges,omitempty"` // numeric: len(Labels)+1 edges
	Reference []float64 `json:"reference"`       // share per bin
	Current   []float64 `json:"current"`
}

// ColumnResult is one column's comparison. Field names follow scipy's.
type ColumnResult struct {
	Type                  string     `json:"type"`
	Test                  Test       `json:"test"`
	Statistic             float64    `json:"statistic"`
	PValue                *float64   `json:"p_value"` // null for distance tests
	PValueAdjusted        *float64   `json:"p_value_adjusted,omitempty"`
	Threshold             float64    `json:"threshold"`
	Drifted               bool       `json:"drifted"`
	KSStatistic           *float64   `json:"ks_statistic,omitempty"`
	KSPValue              *float64   `json:"ks_pvalue,omitempty"`
	Wasserstein           *float64   `json:"wasserstein,omitempty"`
	PSI                   *float64   `json:"psi,omitempty"`
	NullFractionReference float64    `json:"null_fraction_reference"`
	NullFractionCurrent   float64    `json:"null_fraction_current"`
	RowsReference         int        `json:"rows_reference"`
	RowsCurrent           int        `json:"rows_current"`
	Approximate           bool       `json:"approximate,omitempty"` // computed from sketches
	Note                  string     `json:"note,omitempty"`
	Histogram             *Histogram `json:"histogram,omitempty"`

	colName string // for per-column overrides; the name is the map key in JSON
}

// Result is the whole comparison.
type Result struct {
	Columns        map[string]*ColumnResult `json:"columns"`
	DriftedColumns []string                 `json:"drifted_columns"`
	DriftShare     float64                  `json:"drift_share"`
	DatasetDrift   bool                     `json:"dataset_drift"`
	ShareThreshold float64                  `json:"share_threshold"`
	Correction     string                   `json:"correction,omitempty"`
	Order          []string                 `json:"-"` // columns in file order
}

// ErrColumn is wrapped by errors about columns that are missing or mismatched.
var ErrColumn = errors.New("column mismatch")

// selectColumns decides which reference columns are compared.
func selectColumns(ref, cur *dataset.Frame, o Options) ([]string, error) {
	var cols []string
	if len(o.Columns) > 0 {
		for _, c := range o.Columns {
			if _, ok := ref.Col(c); !ok {
				return nil, fmt.Errorf("%w: column %q is not in the reference %s (it has %v)", ErrColumn, c, ref.Source, ref.Names())
			}
			cols = append(cols, c)
		}
	} else {
		for _, c := range ref.Columns {
			if !slices.Contains(o.Exclude, c.Name) {
				cols = append(cols, c.Name)
			}
		}
	}
	for _, c := range cols {
		rc, _ := ref.Col(c)
		cc, ok := cur.Col(c)
		if !ok {
			return nil, fmt.Errorf("%w: column %q of the reference is missing from the current data %s", ErrColumn, c, cur.Source)
		}
		if rc.Type != cc.Type && cc.NullCount() < cc.Len() && rc.NullCount() < rc.Len() {
			return nil, fmt.Errorf("%w: column %q is %s in the reference but %s in the current data %s", ErrColumn, c, rc.Type, cc.Type, cur.Source)
		}
	}
	return cols, nil
}

// Compare runs the drift tests on every selected column, in parallel.
func Compare(ref, cur *dataset.Frame, o Options) (*Result, error) {
	o.defaults()
	if err := o.Check(); err != nil {
		return nil, err
	}
	if ref.Rows == 0 {
		return nil, fmt.Errorf("reference %s has no data rows", ref.Source)
	}
	if cur.Rows == 0 {
		return nil, fmt.Errorf("current data %s has no data rows", cur.Source)
	}
	cols, err := selectColumns(ref, cur, o)
	if err != nil {
		return nil, err
	}
	res := &Result{Columns: map[string]*ColumnResult{}, Order: cols, ShareThreshold: o.Share, Correction: o.Correction}
	out := make([]*ColumnResult, len(cols))
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for i, name := range cols {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			rc, _ := ref.Col(name)
			cc, _ := cur.Col(name)
			out[i] = compareColumn(rc, cc, ref.Rows, o)
		}()
	}
	wg.Wait()
	for i, name := range cols {
		res.Columns[name] = out[i]
	}
	finish(res, o)
	return res, nil
}

// finish applies the correction and the dataset-level decision.
func finish(res *Result, o Options) {
	if o.Correction == "bh" {
		var names []string
		var ps []float64
		for _, name := range res.Order {
			c := res.Columns[name]
			if PValueTest(c.Test) && c.PValue != nil {
				names = append(names, name)
				ps = append(ps, *c.PValue)
			}
		}
		adj := stats.BenjaminiHochberg(ps)
		for i, name := range names {
			c := res.Columns[name]
			a := adj[i]
			c.PValueAdjusted = &a
			c.Drifted = a < c.Threshold
		}
	}
	res.DriftedColumns = []string{}
	tested := 0
	for _, name := range res.Order {
		c := res.Columns[name]
		if c.Test == TestNone && c.Type == string(dataset.TypeTimestamp) {
			continue
		}
		tested++
		if c.Drifted {
			res.DriftedColumns = append(res.DriftedColumns, name)
		}
	}
	if tested > 0 {
		res.DriftShare = float64(len(res.DriftedColumns)) / float64(tested)
	}
	res.DatasetDrift = tested > 0 && res.DriftShare >= o.Share
}

func ptr(v float64) *float64 { return &v }

func nullFraction(c *dataset.Column) float64 {
	if c.Len() == 0 {
		return 0
	}
	return float64(c.NullCount()) / float64(c.Len())
}

// chooseTest applies Evidently's default selection.
func chooseTest(typ dataset.Type, refRows, distinct int, o Options) Test {
	categorical := typ != dataset.TypeNumeric || distinct <= 5
	small := refRows <= o.SmallN
	switch {
	case categorical && small && distinct <= 2:
		return TestZ
	case categorical && small:
		return TestChiSquare
	case categorical:
		return TestJensenShannon
	case small:
		return TestKS
	}
	return TestWasserstein
}

func compareColumn(rc, cc *dataset.Column, refRows int, o Options) *ColumnResult {
	r := &ColumnResult{
		colName:               rc.Name,
		Type:                  string(rc.Type),
		NullFractionReference: nullFraction(rc),
		NullFractionCurrent:   nullFraction(cc),
	}
	if rc.Type == dataset.TypeTimestamp {
		r.Test = TestNone
		r.Note = "timestamp columns are not tested for drift"
		return r
	}
	if rc.Type == dataset.TypeNumeric {
		a, b := rc.Values(), cc.Values()
		// ±inf values (kept as numbers by the reader, as pandas does)
		// would make wasserstein and the PSI bins infinite: they are left
		// out of the statistics and counted in the note instead.
		infA, infB := len(a), len(b)
		a = slices.DeleteFunc(a, func(v float64) bool { return math.IsInf(v, 0) })
		b = slices.DeleteFunc(b, func(v float64) bool { return math.IsInf(v, 0) })
		infA, infB = infA-len(a), infB-len(b)
		stats.SortFloat64s(a)
		stats.SortFloat64s(b)
		numericResult(r, a, b, refRows, o)
		if infA+infB > 0 {
			note := fmt.Sprintf("%d infinite values in the reference and %d in the current data were left out of the statistics", infA, infB)
			if r.Note != "" {
				note = r.Note + "; " + note
			}
			r.Note = note
		}
		return r
	}
	ra, ca := countCategories(rc), countCategories(cc)
	categoricalResult(r, ra, ca, refRows, o)
	return r
}

// numericResult fills r from sorted non-null samples.
func numericResult(r *ColumnResult, a, b []float64, refRows int, o Options) {
	r.RowsReference, r.RowsCurrent = len(a), len(b)
	if len(a) == 0 || len(b) == 0 {
		noData(r, len(a), len(b))
		return
	}
	ks, _ := stats.KS2SampSorted(a, b)
	w, _ := stats.Wasserstein1Sorted(a, b)
	psi, _ := stats.PSISorted(a, b, o.Bins)
	r.KSStatistic, r.KSPValue, r.Wasserstein, r.PSI = ptr(ks.Statistic), ptr(ks.PValue), ptr(w), ptr(psi.PSI)
	distinct := countDistinctSorted(a, 6)
	test := chooseTest(dataset.TypeNumeric, refRows, distinct, o)
	if over, ok := o.PerColumn[r.colName]; ok && over.Test != TestAuto {
		test = over.Test
	}
	r.Test = test
	switch test {
	case TestKS:
		r.Statistic, r.PValue = ks.Statistic, ptr(ks.PValue)
	case TestWasserstein:
		r.Statistic = w / math.Max(stats.StdDev(a), 0.001)
	case TestPSI:
		r.Statistic = psi.PSI
	case TestChiSquare, TestZ, TestJensenShannon:
		categoricalStats(r, valueCounts(a), valueCounts(b), test)
	}
	decide(r, o)
	if o.Histograms {
		r.Histogram = numericHistogram(a, b, 20)
	}
}

func decide(r *ColumnResult, o Options) {
	if over, ok := o.PerColumn[r.colName]; ok && over.Threshold > 0 {
		r.Threshold = over.Threshold
	} else {
		r.Threshold = DefaultThreshold(r.Test)
	}
	if PValueTest(r.Test) {
		r.Drifted = r.PValue != nil && *r.PValue < r.Threshold
	} else {
		r.Drifted = r.Statistic >= r.Threshold
	}
}

func noData(r *ColumnResult, na, nb int) {
	r.Test = TestNone
	switch {
	case na == 0 && nb == 0:
		r.Note = "no non-null values in either dataset"
	case nb == 0:
		r.Note = "no non-null values in the current data"
		r.Drifted = true
	default:
		r.Note = "no non-null values in the reference"
		r.Drifted = true
	}
}

func countDistinctSorted(a []float64, limit int) int {
	n := 0
	for i := range a {
		if i == 0 || a[i] != a[i-1] {
			n++
			if n >= limit {
				return n
			}
		}
	}
	return n
}

func valueCounts(sorted []float64) map[string]float64 {
	out := map[string]float64{}
	for _, v := range sorted {
		out[fmt.Sprint(v)]++
	}
	return out
}

func countCategories(c *dataset.Column) map[string]float64 {
	out := map[string]float64{}
	for i := range c.Null {
		if !c.Null[i] {
			out[c.Text(i)]++
		}
	}
	return out
}

func categoricalResult(r *ColumnResult, ra, ca map[string]float64, refRows int, o Options) {
	var na, nb float64
	for _, v := range ra {
		na += v
	}
	for _, v := range ca {
		nb += v
	}
	r.RowsReference, r.RowsCurrent = int(na), int(nb)
	if na == 0 || nb == 0 {
		noData(r, int(na), int(nb))
		return
	}
	test := chooseTest(dataset.TypeCategorical, refRows, len(union(ra, ca)), o)
	if over, ok := o.PerColumn[r.colName]; ok && over.Test != TestAuto {
		test = over.Test
	}
	if test == TestKS || test == TestWasserstein || test == TestPSI {
		test = TestChiSquare // numeric tests make no sense on categories
		r.Note = "numeric test requested on a categorical column; chi-square used"
	}
	r.Test = test
	categoricalStats(r, ra, ca, test)
	decide(r, o)
	if o.Histograms {
		r.Histogram = categoricalHistogram(ra, ca, 20)
	}
}

func union(a, b map[string]float64) []string {
	keys := make([]string, 0, len(a)+len(b))
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

func categoricalStats(r *ColumnResult, ra, ca map[string]float64, test Test) {
	keys := union(ra, ca)
	rv, cv := make([]float64, len(keys)), make([]float64, len(keys))
	var na, nb float64
	for i, k := range keys {
		rv[i], cv[i] = ra[k], ca[k]
		na += rv[i]
		nb += cv[i]
	}
	switch test {
	case TestZ:
		if len(keys) > 2 {
			r.Test = TestChiSquare
			r.Note = "more than two categories: chi-square used instead of the Z-test"
			categoricalStats(r, ra, ca, TestChiSquare)
			return
		}
		z := stats.TwoProportionZ(rv[0], na, cv[0], nb)
		r.Statistic, r.PValue = z.Statistic, ptr(z.PValue)
	case TestChiSquare:
		c := stats.ChiSquareHomogeneity(rv, cv)
		r.Statistic, r.PValue = c.Statistic, ptr(c.PValue)
	default:
		r.Statistic = stats.JensenShannon(rv, cv)
	}
}

func numericHistogram(a, b []float64, bins int) *Histogram {
	lo, hi := math.Min(a[0], b[0]), math.Max(a[len(a)-1], b[len(b)-1])
	if hi == lo {
		hi = lo + 1
	}
	h := &Histogram{Edges: make([]float64, bins+1), Reference: make([]float64, bins), Current: make([]float64, bins)}
	for i := range h.Edges {
		h.Edges[i] = lo + (hi-lo)*float64(i)/float64(bins)
	}
	fill := func(s []float64, out []float64) {
		for _, v := range s {
			k := int((v - lo) / (hi - lo) * float64(bins))
			k = min(max(k, 0), bins-1)
			out[k]++
		}
		for i := range out {
			out[i] /= float64(len(s))
		}
	}
	fill(a, h.Reference)
	fill(b, h.Current)
	for i := 0; i < bins; i++ {
		h.Labels = append(h.Labels, fmt.Sprintf("%.4g", (h.Edges[i]+h.Edges[i+1])/2))
	}
	return h
}

func categoricalHistogram(ra, ca map[string]float64, top int) *Histogram {
	keys := union(ra, ca)
	sort.SliceStable(keys, func(i, j int) bool { return ra[keys[i]]+ca[keys[i]] > ra[keys[j]]+ca[keys[j]] })
	var na, nb float64
	for _, v := range ra {
		na += v
	}
	for _, v := range ca {
		nb += v
	}
	h := &Histogram{}
	var otherR, otherC float64
	for i, k := range keys {
		if i < top {
			h.Labels = append(h.Labels, k)
			h.Reference = append(h.Reference, ra[k]/na)
			h.Current = append(h.Current, ca[k]/nb)
		} else {
			otherR += ra[k] / na
			otherC += ca[k] / nb
		}
	}
	if len(keys) > top {
		h.Labels = append(h.Labels, "(other)")
		h.Reference = append(h.Reference, otherR)
		h.Current = append(h.Current, otherC)
	}
	return h
}
