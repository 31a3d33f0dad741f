package config

// Validation configures data validation and drift detection (testing agent).
type Validation struct {
	Schema string      `yaml:"schema" json:"schema,omitempty"` // schema YAML; inferred from the reference when empty
	Drift  DriftConfig `yaml:"drift" json:"drift"`
}

// DriftConfig configures drift detection.
type DriftConfig struct {
	Share float64 `yaml:"share" json:"share"` // dataset drift when this share of columns drifted; default 0.5
}

func (c *Validation) setDefaults() {
	if c.Drift.Share == 0 {
		c.Drift.Share = 0.5
	}
}

func (c *Validation) validate(v *validator) {
	if c.Drift.Share < 0 || c.Drift.Share > 1 {
		v.add("validation.drift.share", "must be between 0 and 1")
	}
}

// Tests declares behavioural tests of the candidate (testing agent).
type Tests struct{}

func (c *Tests) setDefaults()          {}
func (c *Tests) validate(v *validator) {}
