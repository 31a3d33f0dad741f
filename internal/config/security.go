package config

// Security configures artifact scanning (security agent).
type Security struct {
	Allow []string `yaml:"allow" json:"allow,omitempty"` // extra pickle globals allowed, "module.name" or "module.*"
}

func (c *Security) setDefaults()          {}
func (c *Security) validate(v *validator) {}
