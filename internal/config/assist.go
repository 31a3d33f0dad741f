package config

import (
	"net/url"
)

// Assist points `modelgate run --local` at an OpenAI-compatible endpoint
// for the reviewer brief and the failure triage. A server ignores it and
// uses its own --llm-base-url: a submitted pipeline must not choose where
// a server sends its evidence. The key is never in the file; it comes from
// MODELGATE_LLM_API_KEY.
type Assist struct {
	BaseURL     string   `yaml:"base_url" json:"base_url"`                   // e.g. http://localhost:11434/v1
	Model       string   `yaml:"model" json:"model"`                         // e.g. llama3.1:8b
	TokenBudget int      `yaml:"token_budget" json:"token_budget,omitempty"` // per run; default 20000
	Timeout     Duration `yaml:"timeout" json:"timeout,omitempty"`           // per request; default 60s
	MaxRetries  int      `yaml:"max_retries" json:"max_retries,omitempty"`   // default 3
	PromptPrice float64  `yaml:"prompt_price" json:"prompt_price,omitempty"` // USD per million prompt tokens, for the cost shown
	OutputPrice float64  `yaml:"output_price" json:"output_price,omitempty"` // USD per million completion tokens
}

func (a *Assist) validate(v *validator) {
	if a == nil {
		return
	}
	u, err := url.Parse(a.BaseURL)
	if a.BaseURL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.add("assist.base_url", "want an http(s) URL of an OpenAI-compatible API, e.g. http://localhost:11434/v1")
	}
	if a.Model == "" {
		v.add("assist.model", "is required (the model name the endpoint serves)")
	}
	if a.TokenBudget < 0 {
		v.add("assist.token_budget", "must not be negative")
	}
	if a.MaxRetries < 0 {
		v.add("assist.max_retries", "must not be negative")
	}
	if a.PromptPrice < 0 || a.OutputPrice < 0 {
		v.add("assist", "prices must not be negative")
	}
}
