package config

// Deploy configures the rollout (deployment agent).
type Deploy struct {
	Target   Target `yaml:"target" json:"target"`
	Strategy string `yaml:"strategy" json:"strategy"` // canary | bluegreen
}

// Target is where the candidate is served from.
type Target struct {
	Upstream string       `yaml:"upstream" json:"upstream,omitempty"`
	Local    *LocalTarget `yaml:"local" json:"local,omitempty"`
}

// LocalTarget is a model server the coordinator starts and supervises.
type LocalTarget struct {
	Model string `yaml:"model" json:"model"`
}

func (c *Deploy) setDefaults() {
	if c.Strategy == "" {
		c.Strategy = "canary"
	}
}

func (c *Deploy) validate(v *validator) {
	if c.Strategy != "canary" && c.Strategy != "bluegreen" {
		v.add("deploy.strategy", "must be canary or bluegreen")
	}
}
