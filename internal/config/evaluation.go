package config

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Evaluation configures the comparison with production (evaluation agent).
type Evaluation struct {
	Thresholds map[string]Threshold `yaml:"thresholds" json:"thresholds,omitempty"`
	Cost       *Cost                `yaml:"cost" json:"cost,omitempty"`
	Slices     []Slice              `yaml:"slices" json:"slices,omitempty"`
	Threshold  float64              `yaml:"threshold" json:"threshold"`   // decision threshold for binary scores; default 0.5
	Resamples  int                  `yaml:"resamples" json:"resamples"`   // paired bootstrap resamples; default 1000
	Seed       int64                `yaml:"seed" json:"seed"`             // bootstrap seed; default 1, so that reruns agree
	Confidence float64              `yaml:"confidence" json:"confidence"` // of the delta intervals; default 0.95
}

// Threshold bounds a metric: absolute floors and ceilings, and the allowed
// change against production.
type Threshold struct {
	Min      *float64 `yaml:"min" json:"min,omitempty"`
	Max      *float64 `yaml:"max" json:"max,omitempty"`
	MinDelta *float64 `yaml:"min_delta" json:"min_delta,omitempty"`
	MaxDelta *float64 `yaml:"max_delta" json:"max_delta,omitempty"`
}

// Cost is the business cost of each outcome of a binary decision.
type Cost struct {
	FN float64 `yaml:"fn" json:"fn"`
	FP float64 `yaml:"fp" json:"fp"`
	TP float64 `yaml:"tp" json:"tp"`
	TN float64 `yaml:"tn" json:"tn"`
}

// Slice asks for metrics per value of a column (or per numeric bin).
type Slice struct {
	Column  string    `yaml:"column" json:"column"`
	Bins    []float64 `yaml:"bins" json:"bins,omitempty"`
	MinSize int       `yaml:"min_size" json:"min_size,omitempty"` // smaller slices are left out; default 30
}

// EvaluationMetrics are the metric names thresholds may bound, per task.
var EvaluationMetrics = map[string][]string{
	"binary":     {"roc_auc", "pr_auc", "accuracy", "precision", "recall", "f1", "log_loss", "brier", "ece", "cost_per_1000"},
	"multiclass": {"accuracy", "macro_f1", "log_loss"},
	"regression": {"rmse", "mae", "r2", "mape"},
}

func (c *Evaluation) setDefaults() {
	if c.Threshold == 0 {
		c.Threshold = 0.5
	}
	if c.Resamples == 0 {
		c.Resamples = 1000
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	if c.Confidence == 0 {
		c.Confidence = 0.95
	}
	for i := range c.Slices {
		if c.Slices[i].MinSize == 0 {
			c.Slices[i].MinSize = 30
		}
	}
}

func (c *Evaluation) validate(v *validator, task string) {
	if c.Threshold <= 0 || c.Threshold >= 1 {
		v.add("evaluation.threshold", "must be strictly between 0 and 1")
	}
	if c.Resamples < 1 || c.Resamples > 100000 {
		v.add("evaluation.resamples", "must be between 1 and 100000")
	}
	if c.Confidence <= 0 || c.Confidence >= 1 {
		v.add("evaluation.confidence", "must be strictly between 0 and 1 (e.g. 0.95)")
	}
	known, taskKnown := EvaluationMetrics[task]
	for _, k := range slices.Sorted(maps.Keys(c.Thresholds)) {
		t := c.Thresholds[k]
		f := "evaluation.thresholds." + k
		if taskKnown && !slices.Contains(known, k) {
			v.add(f, fmt.Sprintf("unknown metric for task %s (known: %s)", task, strings.Join(known, ", ")))
			continue
		}
		if k == "cost_per_1000" && c.Cost == nil {
			v.add(f, "needs evaluation.cost")
		}
		if t.Min == nil && t.Max == nil && t.MinDelta == nil && t.MaxDelta == nil {
			v.add(f, "give at least one of min, max, min_delta, max_delta")
		}
		if t.Min != nil && t.Max != nil && *t.Min > *t.Max {
			v.add(f, fmt.Sprintf("min %g is above max %g", *t.Min, *t.Max))
		}
		if t.MinDelta != nil && t.MaxDelta != nil && *t.MinDelta > *t.MaxDelta {
			v.add(f, fmt.Sprintf("min_delta %g is above max_delta %g", *t.MinDelta, *t.MaxDelta))
		}
	}
	if c.Cost != nil && taskKnown && task != "binary" { // a mistyped task is its own problem, not this one
		v.add("evaluation.cost", "a cost matrix applies to binary tasks only")
	}
	for i, s := range c.Slices {
		f := fmt.Sprintf("evaluation.slices[%d]", i)
		if s.Column == "" {
			v.add(f+".column", "is required")
		}
		for j := 1; j < len(s.Bins); j++ {
			if !(s.Bins[j] > s.Bins[j-1]) {
				v.add(f+".bins", "must be strictly ascending")
				break
			}
		}
		if s.MinSize < 1 {
			v.add(f+".min_size", "must be at least 1")
		}
	}
}
