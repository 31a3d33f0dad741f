package config

// Evaluation configures the comparison with production (evaluation agent).
type Evaluation struct {
	Thresholds map[string]Threshold `yaml:"thresholds" json:"thresholds,omitempty"`
	Cost       *Cost                `yaml:"cost" json:"cost,omitempty"`
	Slices     []Slice              `yaml:"slices" json:"slices,omitempty"`
	Threshold  float64              `yaml:"threshold" json:"threshold"` // decision threshold for binary scores; default 0.5
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
	MinSize int       `yaml:"min_size" json:"min_size,omitempty"`
}

func (c *Evaluation) setDefaults() {
	if c.Threshold == 0 {
		c.Threshold = 0.5
	}
}

func (c *Evaluation) validate(v *validator, task string) {
	if c.Threshold <= 0 || c.Threshold >= 1 {
		v.add("evaluation.threshold", "must be strictly between 0 and 1")
	}
}
