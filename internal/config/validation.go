package config

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// Validation configures data validation and drift detection (testing agent).
type Validation struct {
	Schema string      `yaml:"schema" json:"schema,omitempty"` // schema YAML; inferred from the reference when empty
	Drift  DriftConfig `yaml:"drift" json:"drift"`
}

// DriftConfig configures drift detection.
type DriftConfig struct {
	Share      float64                `yaml:"share" json:"share"`                           // dataset drift when this share of columns drifted; default 0.5
	Correction string                 `yaml:"correction" json:"correction,omitempty"`       // "" or "bh" (Benjamini-Hochberg)
	Columns    []string               `yaml:"columns" json:"columns,omitempty"`             // compare only these; default every feature
	Exclude    []string               `yaml:"exclude" json:"exclude,omitempty"`             // leave these out; the label is always left out
	Tests      map[string]ColumnDrift `yaml:"tests" json:"tests,omitempty"`                 // per-column test and threshold
	Disabled   bool                   `yaml:"disabled" json:"disabled,omitempty"`           // skip drift, keep validation
	Stream     bool                   `yaml:"stream" json:"stream,omitempty"`               // bounded-memory sketches for large files
	Memory     ByteSize               `yaml:"memory_budget" json:"memory_budget,omitempty"` // for stream; default 256MiB
}

// ColumnDrift overrides one column's drift test.
type ColumnDrift struct {
	Test      string  `yaml:"test" json:"test"`                     // ks | wasserstein | psi | chisquare | z | jensenshannon
	Threshold float64 `yaml:"threshold" json:"threshold,omitempty"` // 0 = the test's default
}

// DriftTests are the names ColumnDrift.Test accepts.
var DriftTests = []string{"ks", "wasserstein", "psi", "chisquare", "z", "jensenshannon"}

func (c *Validation) setDefaults() {
	if c.Drift.Share == 0 {
		c.Drift.Share = 0.5
	}
	if c.Drift.Memory == 0 {
		c.Drift.Memory = 256 << 20
	}
}

func (c *Validation) validate(v *validator) {
	if c.Drift.Share < 0 || c.Drift.Share > 1 {
		v.add("validation.drift.share", "must be between 0 and 1")
	}
	if c.Drift.Correction != "" && c.Drift.Correction != "bh" {
		v.add("validation.drift.correction", fmt.Sprintf(`must be "bh" or empty, got %q`, c.Drift.Correction))
	}
	if c.Drift.Stream && c.Drift.Memory < 48<<20 {
		v.add("validation.drift.memory_budget", "must be at least 48MiB")
	}
	for col, t := range c.Drift.Tests {
		f := "validation.drift.tests." + col
		if !slices.Contains(DriftTests, t.Test) {
			v.add(f+".test", fmt.Sprintf("must be one of %v, got %q", DriftTests, t.Test))
		}
		if t.Threshold < 0 || math.IsNaN(t.Threshold) {
			v.add(f+".threshold", "must be positive")
		}
	}
}

// Tests declares behavioural tests of the candidate (testing agent). The
// sanity checks always run; the others run when declared.
type Tests struct {
	Cases       []TestCase        `yaml:"cases" json:"cases,omitempty"`             // minimum functionality
	Invariance  []InvarianceTest  `yaml:"invariance" json:"invariance,omitempty"`   // perturbation must not move the score
	Directional []DirectionalTest `yaml:"directional" json:"directional,omitempty"` // raising a feature moves the score one way
	Sanity      SanityTest        `yaml:"sanity" json:"sanity"`
	Rows        int               `yaml:"rows" json:"rows"` // holdout rows the perturbation and sanity tests use; default 500
	Seed        uint64            `yaml:"seed" json:"seed"` // perturbation randomness; default 1
}

// TestCase is one input with its expected output.
type TestCase struct {
	Name  string             `yaml:"name" json:"name"`
	Input map[string]float64 `yaml:"input" json:"input"`
	Fill  string             `yaml:"fill" json:"fill,omitempty"`   // features not in input: "median" of the holdout (default) or "missing"
	Class *int               `yaml:"class" json:"class,omitempty"` // expected class (binary: score >= threshold is 1)
	Min   *float64           `yaml:"min" json:"min,omitempty"`     // expected score range
	Max   *float64           `yaml:"max" json:"max,omitempty"`
}

// InvarianceTest perturbs Feature by a uniform amount in [-Delta, Delta];
// the score may move by at most Epsilon.
type InvarianceTest struct {
	Name    string  `yaml:"name" json:"name"`
	Feature string  `yaml:"feature" json:"feature"`
	Delta   float64 `yaml:"delta" json:"delta"`
	Epsilon float64 `yaml:"epsilon" json:"epsilon"`       // default 0.05
	Class   int     `yaml:"class" json:"class,omitempty"` // multiclass: the class whose probability is watched
}

// DirectionalTest adds Delta to Feature; the score must not move against
// Direction by more than Tolerance.
type DirectionalTest struct {
	Name      string  `yaml:"name" json:"name"`
	Feature   string  `yaml:"feature" json:"feature"`
	Delta     float64 `yaml:"delta" json:"delta"`
	Direction string  `yaml:"direction" json:"direction"` // increase (default) | decrease
	Tolerance float64 `yaml:"tolerance" json:"tolerance,omitempty"`
	Class     int     `yaml:"class" json:"class,omitempty"`
}

// SanityTest bounds what every prediction must satisfy.
type SanityTest struct {
	MaxLatencyPerRow Duration `yaml:"max_latency_per_row" json:"max_latency_per_row"` // default 10ms
	Threshold        float64  `yaml:"threshold" json:"threshold"`                     // binary decision threshold for cases; default 0.5
}

func (c *Tests) setDefaults() {
	if c.Rows == 0 {
		c.Rows = 500
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	if c.Sanity.MaxLatencyPerRow.Duration == 0 {
		c.Sanity.MaxLatencyPerRow.Duration = 10 * time.Millisecond
	}
	if c.Sanity.Threshold == 0 {
		c.Sanity.Threshold = 0.5
	}
	for i := range c.Invariance {
		if c.Invariance[i].Epsilon == 0 {
			c.Invariance[i].Epsilon = 0.05
		}
	}
	for i := range c.Directional {
		if c.Directional[i].Direction == "" {
			c.Directional[i].Direction = "increase"
		}
	}
	for i := range c.Cases {
		if c.Cases[i].Fill == "" {
			c.Cases[i].Fill = "median"
		}
	}
}

func (c *Tests) validate(v *validator) {
	if c.Rows < 1 {
		v.add("tests.rows", "must be at least 1")
	}
	if c.Sanity.Threshold <= 0 || c.Sanity.Threshold >= 1 {
		v.add("tests.sanity.threshold", "must be between 0 and 1")
	}
	names := map[string]bool{}
	name := func(f, n string) {
		if n == "" {
			v.add(f+".name", "is required")
			return
		}
		if names[n] {
			v.add(f+".name", fmt.Sprintf("duplicate test name %q", n))
		}
		names[n] = true
	}
	for i, t := range c.Cases {
		f := fmt.Sprintf("tests.cases[%d]", i)
		name(f, t.Name)
		if len(t.Input) == 0 {
			v.add(f+".input", "give at least one feature value")
		}
		if t.Class == nil && t.Min == nil && t.Max == nil {
			v.add(f, "give an expected class, or min and/or max")
		}
		if t.Min != nil && t.Max != nil && *t.Min > *t.Max {
			v.add(f+".min", "is greater than max")
		}
		if t.Fill != "median" && t.Fill != "missing" {
			v.add(f+".fill", fmt.Sprintf(`must be "median" or "missing", got %q`, t.Fill))
		}
	}
	for i, t := range c.Invariance {
		f := fmt.Sprintf("tests.invariance[%d]", i)
		name(f, t.Name)
		if t.Feature == "" {
			v.add(f+".feature", "is required")
		}
		if t.Delta <= 0 {
			v.add(f+".delta", "must be positive (the perturbation's half-width)")
		}
		if t.Epsilon < 0 {
			v.add(f+".epsilon", "must be positive")
		}
	}
	for i, t := range c.Directional {
		f := fmt.Sprintf("tests.directional[%d]", i)
		name(f, t.Name)
		if t.Feature == "" {
			v.add(f+".feature", "is required")
		}
		if t.Delta == 0 {
			v.add(f+".delta", "must be non-zero (the amount added to the feature)")
		}
		if t.Direction != "increase" && t.Direction != "decrease" {
			v.add(f+".direction", fmt.Sprintf(`must be "increase" or "decrease", got %q`, t.Direction))
		}
		if t.Tolerance < 0 {
			v.add(f+".tolerance", "must be positive")
		}
	}
}
