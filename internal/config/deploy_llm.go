package config

// LLMRules are the checks of a task: llm rollout, whose versions are
// prompt versions answering chat completions: no scores to compare, but
// answers (token F1 against production's in shadow), tokens and time to
// first token. Defaults are filled by LLMChecks, so that a tabular
// pipeline's config is unchanged.
type LLMRules struct {
	Shadow LLMShadowChecks `yaml:"shadow" json:"shadow"`
	Canary LLMCanaryChecks `yaml:"canary" json:"canary"` // also the blue-green watch (absolute bounds only)
	// SlackMs: a latency ratio check (latency_p95_ms, ttft_p95_ms) passes
	// while the candidate is within this many milliseconds of stable,
	// whatever the ratio: 2 ms against 1 ms is noise, not a regression.
	// Default 50.
	SlackMs *float64 `yaml:"slack_ms" json:"slack_ms,omitempty"`
}

// LLMShadowChecks judge mirrored chat answers against production's.
type LLMShadowChecks struct {
	MeanF1    Bound `yaml:"mean_f1" json:"mean_f1"`       // mean token F1, candidate against production; default min 0.5
	ErrorRate Bound `yaml:"error_rate" json:"error_rate"` // shadow errors / shadow requests; default max 0.01
}

// LLMCanaryChecks judge the candidate against stable over a canary step.
type LLMCanaryChecks struct {
	ErrorRate        Bound `yaml:"error_rate" json:"error_rate"`               // default max 0.01
	LatencyP95Ms     Bound `yaml:"latency_p95_ms" json:"latency_p95_ms"`       // default max_ratio 2
	TTFTP95Ms        Bound `yaml:"ttft_p95_ms" json:"ttft_p95_ms"`             // streamed answers; default max_ratio 2
	CompletionTokens Bound `yaml:"completion_tokens" json:"completion_tokens"` // per answer; default max_ratio 1.5
}

// LLMChecks returns the section with its defaults filled in.
func (c Deploy) LLMChecks() LLMRules {
	l := c.LLM
	if l.Shadow.MeanF1.unset() {
		l.Shadow.MeanF1.Min = ptr(0.5)
	}
	if l.Shadow.ErrorRate.unset() {
		l.Shadow.ErrorRate.Max = ptr(0.01)
	}
	if l.Canary.ErrorRate.unset() {
		l.Canary.ErrorRate.Max = ptr(0.01)
	}
	if l.Canary.LatencyP95Ms.unset() {
		l.Canary.LatencyP95Ms.MaxRatio = ptr(2)
	}
	if l.Canary.TTFTP95Ms.unset() {
		l.Canary.TTFTP95Ms.MaxRatio = ptr(2)
	}
	if l.Canary.CompletionTokens.unset() {
		l.Canary.CompletionTokens.MaxRatio = ptr(1.5)
	}
	if l.SlackMs == nil {
		l.SlackMs = ptr(50)
	}
	return l
}

func (c *Deploy) validateLLM(v *validator) {
	if s := c.LLM.SlackMs; s != nil && (*s < 0 || *s != *s) {
		v.add("deploy.llm.slack_ms", "must be 0 or more")
	}
}
