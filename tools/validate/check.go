package validate

import (
	"fmt"
	"math"
	"slices"

	"github.com/modelgate/modelgate/tools/dataset"
)

// Severity of a validation finding.
type Severity string

const (
	Error   Severity = "error"   // the check failed
	Warning Severity = "warning" // worth a look; does not fail
)

// maxExamples is how many example rows a finding carries.
const maxExamples = 5

// Finding is one failed or suspicious check.
type Finding struct {
	Rule     string   `json:"rule"`
	Column   string   `json:"column,omitempty"`
	Severity Severity `json:"severity"`
	Message  string   `json:"message"`
	Expected any      `json:"expected,omitempty"`
	Observed any      `json:"observed,omitempty"`
	Rows     []int    `json:"rows,omitempty"` // 1-based data rows, at most five
}

// Report is the outcome of validating one dataset.
type Report struct {
	Source      string    `json:"source"`
	Environment string    `json:"environment"`
	Rows        int       `json:"rows"`
	Columns     int       `json:"columns"`
	Checks      int       `json:"checks"`
	Failures    int       `json:"failures"`
	Warnings    int       `json:"warnings"`
	Valid       bool      `json:"valid"`
	Findings    []Finding `json:"findings"`
}

// Options tune a validation run.
type Options struct {
	Environment string // training (default) or serving
}

// ReadOptions returns dataset options that read the schema's categorical
// columns as text (so "02134" stays "02134"), leaving other types to
// inference so that a mismatch becomes a finding rather than a read error.
func (s *Schema) ReadOptions() dataset.Options {
	t := map[string]dataset.Type{}
	for _, c := range s.Columns {
		if c.Type == dataset.TypeCategorical {
			t[c.Name] = c.Type
		}
	}
	return dataset.Options{Types: t}
}

type checker struct {
	r *Report
}

func (c *checker) check() { c.r.Checks++ }
func (c *checker) add(f Finding) {
	if len(f.Rows) > maxExamples {
		f.Rows = f.Rows[:maxExamples]
	}
	c.r.Findings = append(c.r.Findings, f)
	if f.Severity == Error {
		c.r.Failures++
	} else {
		c.r.Warnings++
	}
}

// Validate checks f against s.
func Validate(f *dataset.Frame, s *Schema, o Options) *Report {
	env := o.Environment
	if env == "" {
		env = Training
	}
	r := &Report{Source: f.Source, Environment: env, Rows: f.Rows, Columns: len(f.Columns), Findings: []Finding{}}
	c := &checker{r: r}

	c.check()
	if f.Rows < s.Rows.Min || (s.Rows.Max > 0 && f.Rows > s.Rows.Max) {
		want := fmt.Sprintf(">= %d", s.Rows.Min)
		if s.Rows.Max > 0 {
			want = fmt.Sprintf("%d..%d", s.Rows.Min, s.Rows.Max)
		}
		c.add(Finding{Rule: "row_count", Severity: Error, Expected: want, Observed: f.Rows,
			Message: fmt.Sprintf("%d rows, expected %s", f.Rows, want)})
	}
	for _, dc := range f.Columns {
		c.check()
		if _, ok := s.Col(dc.Name); !ok {
			c.add(Finding{Rule: "unexpected_column", Column: dc.Name, Severity: Warning,
				Message: fmt.Sprintf("column %q is not in the schema", dc.Name)})
		}
	}
	for i := range s.Columns {
		sc := &s.Columns[i]
		dc, ok := f.Col(sc.Name)
		inEnv := len(sc.Environments) == 0 || slices.Contains(sc.Environments, env)
		isLabel := s.Label != nil && s.Label.Name == sc.Name
		c.check()
		if !ok {
			required := sc.Required == nil || *sc.Required
			switch {
			case isLabel && env == Training:
				c.add(Finding{Rule: "label", Column: sc.Name, Severity: Error, Expected: "present", Observed: "missing",
					Message: fmt.Sprintf("label column %q is missing from training data", sc.Name)})
			case required && inEnv:
				c.add(Finding{Rule: "missing_column", Column: sc.Name, Severity: Error, Expected: "present", Observed: "missing",
					Message: fmt.Sprintf("required column %q is missing", sc.Name)})
			}
			continue
		}
		checkColumn(c, sc, dc, f.Rows)
		if isLabel && env == Training {
			checkLabel(c, s.Label, dc)
		}
	}
	r.Valid = r.Failures == 0
	return r
}

func checkColumn(c *checker, sc *Column, dc *dataset.Column, rows int) {
	c.check()
	if sc.Type != dc.Type && !(sc.Type == dataset.TypeCategorical) {
		f := Finding{Rule: "type", Column: sc.Name, Severity: Error, Expected: sc.Type, Observed: dc.Type,
			Message: fmt.Sprintf("column %q is %s, the schema says %s", sc.Name, dc.Type, sc.Type)}
		if dc.Type == dataset.TypeCategorical {
			// Point at the values that do not fit the declared type.
			for i, v := range dc.Str {
				if !dc.Null[i] && !fits(sc.Type, v) {
					f.Rows = append(f.Rows, i+1)
					if len(f.Rows) == maxExamples {
						break
					}
				}
			}
			if len(f.Rows) > 0 {
				f.Message += fmt.Sprintf(" (e.g. %q at row %d)", dc.Str[f.Rows[0]-1], f.Rows[0])
			}
		}
		c.add(f)
		return // the value checks below assume the declared type
	}
	if sc.MaxNullFraction != nil {
		c.check()
		nulls := dc.NullCount()
		nf := 0.0
		if rows > 0 {
			nf = float64(nulls) / float64(rows)
		}
		if nf > *sc.MaxNullFraction {
			var ex []int
			for i, b := range dc.Null {
				if b {
					ex = append(ex, i+1)
					if len(ex) == maxExamples {
						break
					}
				}
			}
			c.add(Finding{Rule: "completeness", Column: sc.Name, Severity: Error, Expected: *sc.MaxNullFraction, Observed: nf, Rows: ex,
				Message: fmt.Sprintf("column %q is %.2f%% missing, at most %.2f%% allowed", sc.Name, nf*100, *sc.MaxNullFraction*100)})
		}
	}
	if dc.Type == dataset.TypeNumeric {
		checkFinite(c, sc.Name, dc)
	}
	if (sc.Min != nil || sc.Max != nil) && dc.Type != dataset.TypeCategorical {
		c.check()
		lo, hi := math.Inf(-1), math.Inf(1)
		if sc.Min != nil {
			lo = *sc.Min
		}
		if sc.Max != nil {
			hi = *sc.Max
		}
		var out, n int
		var ex []int
		obsLo, obsHi := math.Inf(1), math.Inf(-1)
		for i, v := range dc.Num {
			if dc.Null[i] {
				continue
			}
			n++
			obsLo, obsHi = math.Min(obsLo, v), math.Max(obsHi, v)
			if v < lo || v > hi {
				out++
				if len(ex) < maxExamples {
					ex = append(ex, i+1)
				}
			}
		}
		if out > 0 {
			tol := DefaultRangeTolerance
			if sc.RangeTolerance != nil {
				tol = *sc.RangeTolerance
			}
			share := float64(out) / float64(n)
			sev := Warning
			if share > tol {
				sev = Error
			}
			c.add(Finding{Rule: "range", Column: sc.Name, Severity: sev, Rows: ex,
				Expected: map[string]any{"min": jsonNumber(lo), "max": jsonNumber(hi)}, Observed: map[string]any{"min": jsonNumber(obsLo), "max": jsonNumber(obsHi), "out_of_range": out, "share": share},
				Message: fmt.Sprintf("column %q: %d values (%.2f%%) outside [%g, %g]; observed [%g, %g]", sc.Name, out, share*100, lo, hi, obsLo, obsHi)})
		}
	}
	if len(sc.Values) > 0 {
		c.check()
		domain := map[string]bool{}
		for _, v := range sc.Values {
			domain[v] = true
		}
		var out, n int
		var ex []int
		newVals := map[string]int{}
		for i := range dc.Null {
			if dc.Null[i] {
				continue
			}
			n++
			v := dc.Text(i)
			if !domain[v] {
				out++
				newVals[v]++
				if len(ex) < maxExamples {
					ex = append(ex, i+1)
				}
			}
		}
		if out > 0 {
			mass := 1 - float64(out)/float64(n)
			minMass := DefaultMinDomainMass
			if sc.MinDomainMass != nil {
				minMass = *sc.MinDomainMass
			}
			sev := Warning
			if mass < minMass {
				sev = Error
			}
			var sample []string
			for v := range newVals {
				sample = append(sample, v)
			}
			slices.Sort(sample)
			if len(sample) > maxExamples {
				sample = sample[:maxExamples]
			}
			c.add(Finding{Rule: "domain", Column: sc.Name, Severity: sev, Rows: ex,
				Expected: map[string]any{"min_domain_mass": minMass}, Observed: map[string]any{"domain_mass": mass, "unknown_values": sample, "unknown_count": out},
				Message: fmt.Sprintf("column %q: %d values (%.2f%%) outside the known categories, e.g. %q", sc.Name, out, (1-mass)*100, sample[0])})
		}
	}
	if sc.Unique {
		c.check()
		seen := map[string]int{}
		var ex []int
		dups := 0
		for i := range dc.Null {
			if dc.Null[i] {
				continue
			}
			v := dc.Text(i)
			if first, ok := seen[v]; ok {
				dups++
				if len(ex) < maxExamples {
					if len(ex) == 0 {
						ex = append(ex, first)
					}
					ex = append(ex, i+1)
				}
				continue
			}
			seen[v] = i + 1
		}
		if dups > 0 {
			c.add(Finding{Rule: "unique", Column: sc.Name, Severity: Error, Rows: ex, Expected: "unique", Observed: map[string]int{"duplicates": dups},
				Message: fmt.Sprintf("column %q has %d duplicated values", sc.Name, dups)})
		}
	}
}

func fits(t dataset.Type, v string) bool {
	switch t {
	case dataset.TypeBoolean:
		_, ok := dataset.ParseBool(v)
		return ok
	case dataset.TypeTimestamp:
		_, ok := dataset.ParseTime(v)
		return ok
	case dataset.TypeNumeric:
		_, ok := dataset.ParseNumber(v)
		return ok
	}
	return true
}

func checkLabel(c *checker, l *Label, dc *dataset.Column) {
	if len(l.Classes) == 0 {
		return
	}
	c.check()
	counts := map[string]int{}
	total := 0
	for i := range dc.Null {
		if !dc.Null[i] {
			counts[dc.Text(i)]++
			total++
		}
	}
	shares := map[string]float64{}
	for _, cl := range l.Classes {
		share := 0.0
		if total > 0 {
			share = float64(counts[cl]) / float64(total)
		}
		shares[cl] = share
		if counts[cl] == 0 || share < l.MinClassShare {
			c.add(Finding{Rule: "class_balance", Column: l.Name, Severity: Error,
				Expected: map[string]any{"class": cl, "min_share": l.MinClassShare}, Observed: map[string]any{"class": cl, "share": share, "count": counts[cl]},
				Message: fmt.Sprintf("label %q: class %q is %.2f%% of rows, at least %.2f%% expected", l.Name, cl, share*100, l.MinClassShare*100)})
		}
	}
}

// checkFinite reports ±inf values. The reader keeps "inf", "-inf" and
// overflowing literals as numbers, as pandas does, so that the column
// stays numeric; but most consumers (xgboost, the metrics) refuse them,
// so the report names them and their rows.
func checkFinite(c *checker, name string, dc *dataset.Column) {
	c.check()
	var n int
	var ex []int
	for i, v := range dc.Num {
		if !dc.Null[i] && math.IsInf(v, 0) {
			n++
			if len(ex) < maxExamples {
				ex = append(ex, i+1)
			}
		}
	}
	if n == 0 {
		return
	}
	c.add(Finding{Rule: "finite", Column: name, Severity: Warning, Observed: n, Rows: ex,
		Message: fmt.Sprintf("column %q holds %d infinite values (read as ±inf, as pandas reads inf and numpy an overflowing literal), e.g. row %d: %g", name, n, ex[0], dc.Num[ex[0]-1])})
}

// jsonNumber is v, or "inf"/"-inf" for what JSON cannot carry.
func jsonNumber(v float64) any {
	switch {
	case math.IsInf(v, 1):
		return "inf"
	case math.IsInf(v, -1):
		return "-inf"
	}
	return v
}
