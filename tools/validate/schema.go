package validate

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"slices"
	"sort"

	"gopkg.in/yaml.v3"

	"github.com/modelgate/modelgate/tools/dataset"
	"github.com/modelgate/modelgate/tools/strictyaml"
)

// Environments the schema knows.
const (
	Training = "training"
	Serving  = "serving"
)

// Schema describes what a dataset must look like.
type Schema struct {
	Version int       `yaml:"version" json:"version"`
	Source  string    `yaml:"source,omitempty" json:"source,omitempty"` // where it was inferred from
	Rows    RowBounds `yaml:"rows" json:"rows"`
	Label   *Label    `yaml:"label,omitempty" json:"label,omitempty"`
	Columns []Column  `yaml:"columns" json:"columns"`
}

// RowBounds limits the row count; Max 0 means no upper bound.
type RowBounds struct {
	Min int `yaml:"min" json:"min"`
	Max int `yaml:"max,omitempty" json:"max,omitempty"`
}

// Label describes the target column.
type Label struct {
	Name          string   `yaml:"name" json:"name"`
	Classes       []string `yaml:"classes,omitempty" json:"classes,omitempty"` // classification only
	MinClassShare float64  `yaml:"min_class_share,omitempty" json:"min_class_share,omitempty"`
}

// Column is one column's expectations. Pointers are "not checked" when nil.
type Column struct {
	Name            string       `yaml:"name" json:"name"`
	Type            dataset.Type `yaml:"type" json:"type"`
	Required        *bool        `yaml:"required,omitempty" json:"required,omitempty"` // default true
	Environments    []string     `yaml:"environments,omitempty" json:"environments,omitempty"`
	MaxNullFraction *float64     `yaml:"max_null_fraction,omitempty" json:"max_null_fraction,omitempty"`
	Min             *float64     `yaml:"min,omitempty" json:"min,omitempty"`
	Max             *float64     `yaml:"max,omitempty" json:"max,omitempty"`
	RangeTolerance  *float64     `yaml:"range_tolerance,omitempty" json:"range_tolerance,omitempty"` // default DefaultRangeTolerance
	Values          []string     `yaml:"values,omitempty" json:"values,omitempty"`
	MinDomainMass   *float64     `yaml:"min_domain_mass,omitempty" json:"min_domain_mass,omitempty"` // default 0.99
	Unique          bool         `yaml:"unique,omitempty" json:"unique,omitempty"`
}

// Col finds a column.
func (s *Schema) Col(name string) (*Column, bool) {
	for i := range s.Columns {
		if s.Columns[i].Name == name {
			return &s.Columns[i], true
		}
	}
	return nil, false
}

// Types returns the declared types, for dataset.Options.Types.
func (s *Schema) Types() map[string]dataset.Type {
	out := map[string]dataset.Type{}
	for _, c := range s.Columns {
		out[c.Name] = c.Type
	}
	return out
}

// InferOptions tune inference.
type InferOptions struct {
	Label       string // label column, if any
	MaxCategory int    // categorical columns with more distinct values get no domain; default 1000
	Classes     int    // a numeric label with at most this many values is a class label; default 20
}

// Infer builds a schema from reference data.
func Infer(f *dataset.Frame, o InferOptions) *Schema {
	if o.MaxCategory == 0 {
		o.MaxCategory = 1000
	}
	if o.Classes == 0 {
		o.Classes = 20
	}
	s := &Schema{Version: 1, Source: f.Source, Rows: RowBounds{Min: 1}}
	for _, c := range f.Columns {
		col := Column{Name: c.Name, Type: c.Type}
		nf := float64(c.NullCount()) / math.Max(float64(c.Len()), 1)
		col.MaxNullFraction = ptr(roundUp(nf))
		switch c.Type {
		case dataset.TypeNumeric, dataset.TypeTimestamp:
			// ±inf (read as pandas reads "inf") is not a bound a schema
			// can carry; the finite range is what later data is held to.
			vals := slices.DeleteFunc(c.Values(), func(v float64) bool { return math.IsInf(v, 0) })
			if len(vals) > 0 && c.Type == dataset.TypeNumeric {
				lo, hi := widen(slices.Min(vals), slices.Max(vals))
				col.Min, col.Max = ptr(lo), ptr(hi)
			}
		case dataset.TypeCategorical:
			counts := map[string]int{}
			for i, v := range c.Str {
				if !c.Null[i] {
					counts[v]++
				}
			}
			nonNull := c.Len() - c.NullCount()
			if len(counts) == nonNull && nonNull > 1 {
				col.Unique = true
			} else if len(counts) <= o.MaxCategory {
				for v := range counts {
					col.Values = append(col.Values, v)
				}
				sort.Strings(col.Values)
			}
		}
		if c.Name == o.Label {
			col.Environments = []string{Training}
			s.Label = inferLabel(c, o.Classes)
		}
		s.Columns = append(s.Columns, col)
	}
	return s
}

// widen stretches an observed range by a tenth of its span on each side,
// because a sample's extremes are not the population's: TFDV does not
// infer float ranges at all for this reason. A non-negative column keeps
// a floor of zero.
func widen(lo, hi float64) (float64, float64) {
	span := hi - lo
	if span == 0 {
		span = math.Max(math.Abs(hi), 1)
	}
	wlo, whi := lo-span/10, hi+span/10
	if lo >= 0 && wlo < 0 {
		wlo = 0
	}
	return round6(wlo), round6(whi)
}

// round6 keeps six significant digits, rounding away from the data so
// that the written schema stays readable and still contains the range.
func round6(v float64) float64 {
	if v == 0 {
		return 0
	}
	e := math.Pow(10, 5-math.Floor(math.Log10(math.Abs(v))))
	if v < 0 {
		return math.Floor(v*e) / e
	}
	return math.Ceil(v*e) / e
}

// roundUp gives a little headroom over an observed null fraction so
// that a schema inferred from a sample does not fail on the next one.
func roundUp(nf float64) float64 {
	if nf == 0 {
		return 0
	}
	return math.Min(1, math.Ceil(nf*1.5*1000)/1000)
}

func inferLabel(c *dataset.Column, maxClasses int) *Label {
	l := &Label{Name: c.Name}
	counts := map[string]int{}
	for i := range c.Null {
		if !c.Null[i] {
			counts[c.Text(i)]++
			if len(counts) > maxClasses {
				return l // a regression target: no classes
			}
		}
	}
	total := 0
	for _, n := range counts {
		total += n
	}
	minShare := 1.0
	for v, n := range counts {
		l.Classes = append(l.Classes, v)
		minShare = math.Min(minShare, float64(n)/float64(total))
	}
	sort.Strings(l.Classes)
	if len(l.Classes) > 1 {
		// Half the rarest class's share: a real shift in balance fails,
		// sampling noise does not.
		l.MinClassShare = math.Floor(minShare/2*1000) / 1000
	}
	return l
}

func ptr(v float64) *float64 { return &v }

// Marshal renders the schema as commented YAML.
func (s *Schema) Marshal() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("# modelgate data schema. Inferred from reference data; edit freely.\n")
	b.WriteString("# Rules: docs/testing.md. Types: numeric, categorical, boolean, timestamp.\n")
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(s); err != nil {
		return nil, fmt.Errorf("encode schema: %w", err)
	}
	return b.Bytes(), nil
}

// Write saves the schema to path.
func (s *Schema) Write(path string) error {
	data, err := s.Marshal()
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("write schema %s: %w", path, err)
	}
	return nil
}

// Load reads a schema file.
func Load(path string) (*Schema, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read schema: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes and checks a schema; unknown keys are errors with their
// line, like the pipeline config.
func Parse(file string, data []byte) (*Schema, error) {
	var s Schema
	if _, err := strictyaml.Decode(file, data, &s); err != nil {
		return nil, err
	}
	if err := s.check(file); err != nil {
		return nil, err
	}
	return &s, nil
}

func (s *Schema) check(file string) error {
	var probs []strictyaml.Problem
	add := func(field, msg string) { probs = append(probs, strictyaml.Problem{Field: field, Message: msg}) }
	if s.Version != 1 {
		add("version", fmt.Sprintf("must be 1, got %d", s.Version))
	}
	if s.Rows.Min < 0 || s.Rows.Max < 0 || (s.Rows.Max > 0 && s.Rows.Max < s.Rows.Min) {
		add("rows", "min and max must be positive, with max >= min (max 0 = no limit)")
	}
	seen := map[string]bool{}
	for i, c := range s.Columns {
		f := fmt.Sprintf("columns[%d]", i)
		if c.Name == "" {
			add(f+".name", "is required")
		}
		if seen[c.Name] {
			add(f+".name", fmt.Sprintf("duplicate column %q", c.Name))
		}
		seen[c.Name] = true
		if !c.Type.Valid() {
			add(f+".type", fmt.Sprintf("must be one of %v, got %q", dataset.Types, c.Type))
		}
		for _, e := range c.Environments {
			if e != Training && e != Serving {
				add(f+".environments", fmt.Sprintf("unknown environment %q (training, serving)", e))
			}
		}
		for name, v := range map[string]*float64{"max_null_fraction": c.MaxNullFraction, "range_tolerance": c.RangeTolerance, "min_domain_mass": c.MinDomainMass} {
			if v != nil && (*v < 0 || *v > 1 || math.IsNaN(*v)) {
				add(f+"."+name, "must be between 0 and 1")
			}
		}
		if c.Min != nil && c.Max != nil && *c.Min > *c.Max {
			add(f+".min", "is greater than max")
		}
	}
	if s.Label != nil {
		if s.Label.Name == "" {
			add("label.name", "is required")
		} else if !seen[s.Label.Name] {
			add("label.name", fmt.Sprintf("column %q is not in columns", s.Label.Name))
		}
		if s.Label.MinClassShare < 0 || s.Label.MinClassShare > 1 {
			add("label.min_class_share", "must be between 0 and 1")
		}
	}
	if len(probs) > 0 {
		return &strictyaml.Error{File: file, Problems: probs}
	}
	return nil
}

// DefaultRangeTolerance is the share of out-of-range values that still
// only warns: a sample's extremes are noisy, a shifted column is not.
const DefaultRangeTolerance = 0.05

// DefaultMinDomainMass is the in-domain share below which new
// categories fail rather than warn (TFDV's min_domain_mass).
const DefaultMinDomainMass = 0.99
