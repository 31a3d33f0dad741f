package config

import (
	"fmt"
	"strings"
)

// LLM configures a task: llm pipeline, whose candidate.artifact is a
// prompt file (endpoint, model, system prompt, template, parameters).
// Endpoints are not chosen here: a server calls only those on its
// --llm-endpoint-allow list, whatever the prompt file names.
type LLM struct {
	Suite  string `yaml:"suite" json:"suite"`             // eval suite, run against the candidate and production
	Probes string `yaml:"probes" json:"probes,omitempty"` // prompt-injection probes (suite format), for the test stage
	// Disallowed are requests the candidate must refuse (test stage).
	Disallowed  []string `yaml:"disallowed" json:"disallowed,omitempty"`
	Concurrency int      `yaml:"concurrency" json:"concurrency,omitempty"` // calls in flight; default 4
	Timeout     Duration `yaml:"timeout" json:"timeout,omitempty"`         // one attempt; default 60s
	Retries     int      `yaml:"retries" json:"retries,omitempty"`         // default 3
	// Invariance: how many suite cases are re-asked with whitespace
	// changes (and their paraphrases), and how similar (token F1) the
	// answers must stay.
	Invariance Invariance `yaml:"invariance" json:"invariance"`
	// Prices per model in US dollars per million tokens: run --local only;
	// a server uses its operator's table, so that a submitter cannot make
	// a candidate look cheap.
	Prices map[string]LLMPrice `yaml:"prices" json:"prices,omitempty"`
}

// Invariance tunes the testing agent's perturbation checks.
type Invariance struct {
	Cases         int     `yaml:"cases" json:"cases"`                   // default 5; -1 = none
	MinSimilarity float64 `yaml:"min_similarity" json:"min_similarity"` // default 0.5
}

// LLMPrice is one model's price per million tokens.
type LLMPrice struct {
	Prompt     float64 `yaml:"prompt" json:"prompt"`
	Completion float64 `yaml:"completion" json:"completion"`
}

func (p *Pipeline) llmFiles(add func(field, path string)) {
	if p.LLM != nil {
		add("llm.suite", p.LLM.Suite)
		add("llm.probes", p.LLM.Probes)
	}
}

func (p *Pipeline) validateLLM(v *validator) {
	if p.Task != "llm" {
		if p.LLM != nil {
			v.add("llm", "applies to task: llm only")
		}
		return
	}
	if p.LLM == nil || p.LLM.Suite == "" {
		v.add("llm.suite", "is required for task: llm (the eval suite the prompt is judged on)")
	}
	if p.Candidate.Artifact == "" && p.Train == nil {
		v.add("candidate.artifact", "is required for task: llm (the prompt file: endpoint, model, system, template, parameters)")
	}
	if p.Candidate.Endpoint != "" {
		v.add("candidate.endpoint", "task: llm names its endpoint in the prompt file (candidate.artifact)")
	}
	if p.LLM == nil {
		return
	}
	l := p.LLM
	if l.Concurrency < 0 || l.Concurrency > 64 {
		v.add("llm.concurrency", "must be between 0 and 64")
	}
	if l.Retries < 0 || l.Retries > 10 {
		v.add("llm.retries", "must be between 0 and 10")
	}
	if l.Timeout.Duration < 0 {
		v.add("llm.timeout", "must be positive")
	}
	if l.Invariance.MinSimilarity < 0 || l.Invariance.MinSimilarity > 1 {
		v.add("llm.invariance.min_similarity", "must be between 0 and 1")
	}
	if l.Invariance.Cases < -1 || l.Invariance.Cases > 1000 {
		v.add("llm.invariance.cases", "must be between -1 (none) and 1000")
	}
	for i, d := range l.Disallowed {
		if strings.TrimSpace(d) == "" {
			v.add(fmt.Sprintf("llm.disallowed[%d]", i), "is empty")
		}
	}
	for m, pr := range l.Prices {
		if pr.Prompt < 0 || pr.Completion < 0 {
			v.add("llm.prices."+m, "prices must not be negative")
		}
	}
}

// LLMDefaults returns the section with its defaults filled in (a pipeline
// without one gets all defaults).
func (p *Pipeline) LLMDefaults() LLM {
	var l LLM
	if p.LLM != nil {
		l = *p.LLM
	}
	if l.Concurrency == 0 {
		l.Concurrency = 4
	}
	if l.Invariance.Cases == 0 {
		l.Invariance.Cases = 5
	}
	if l.Invariance.MinSimilarity == 0 {
		l.Invariance.MinSimilarity = 0.5
	}
	return l
}
