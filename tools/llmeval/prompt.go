package llmeval

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/modelgate/modelgate/tools/strictyaml"
)

// Prompt is a prompt candidate: where the model is, which model, what it
// is told and how. The file is the candidate's artifact: its digest is
// what is approved, promoted and audited.
type Prompt struct {
	Name     string `yaml:"name" json:"name,omitempty"`
	Endpoint string `yaml:"endpoint" json:"endpoint"` // OpenAI-compatible base URL, ending in /v1
	Model    string `yaml:"model" json:"model"`
	System   string `yaml:"system" json:"system,omitempty"`
	// Template is the user message; {{ name }} is replaced by the case's
	// variable name. There is no other syntax: no function calls, no
	// conditionals, so a template cannot do anything but substitute.
	Template   string     `yaml:"template" json:"template"`
	Parameters Parameters `yaml:"parameters" json:"parameters"`
}

// Parameters are the sampling parameters sent with every call.
type Parameters struct {
	Temperature *float64 `yaml:"temperature" json:"temperature,omitempty"`
	TopP        *float64 `yaml:"top_p" json:"top_p,omitempty"`
	MaxTokens   int      `yaml:"max_tokens" json:"max_tokens,omitempty"`
	Seed        *int     `yaml:"seed" json:"seed,omitempty"`
	Stop        []string `yaml:"stop" json:"stop,omitempty"`
}

// Message is one chat turn sent to a model.
type Message struct {
	Role    string `json:"role"` // system | user
	Content string `json:"content"`
}

var varRef = regexp.MustCompile(`\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}`)

// ParsePrompt strictly decodes a prompt file; file names it in errors.
func ParsePrompt(file string, data []byte) (*Prompt, error) {
	var p Prompt
	pos, err := strictyaml.Decode(file, data, &p)
	if err != nil {
		return nil, err
	}
	var probs []strictyaml.Problem
	add := func(field, msg string) {
		probs = append(probs, strictyaml.Problem{Field: field, Pos: pos[field], Message: msg})
	}
	if p.Model == "" {
		add("model", "is required (the model name at the endpoint)")
	}
	if strings.TrimSpace(p.Template) == "" {
		add("template", "is required (the user message, with {{ var }} placeholders)")
	}
	if u, err := url.Parse(p.Endpoint); p.Endpoint == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		add("endpoint", fmt.Sprintf("want an http(s) base URL such as http://localhost:11434/v1, got %q", p.Endpoint))
	}
	if t := p.Parameters.Temperature; t != nil && (*t < 0 || *t > 2) {
		add("parameters.temperature", "must be between 0 and 2")
	}
	if t := p.Parameters.TopP; t != nil && (*t <= 0 || *t > 1) {
		add("parameters.top_p", "must be in (0, 1]")
	}
	if p.Parameters.MaxTokens < 0 || p.Parameters.MaxTokens > 1<<20 {
		add("parameters.max_tokens", "must be between 0 and 1048576")
	}
	if len(probs) > 0 {
		return nil, &strictyaml.Error{File: file, Problems: probs}
	}
	return &p, nil
}

// Vars lists the variables the template refers to, sorted.
func (p *Prompt) Vars() []string {
	var out []string
	for _, m := range varRef.FindAllStringSubmatch(p.Template+"\n"+p.System, -1) {
		if !slices.Contains(out, m[1]) {
			out = append(out, m[1])
		}
	}
	slices.Sort(out)
	return out
}

// Render fills the template (and the system prompt, which may use the
// same placeholders) with vars. A placeholder without a variable is an
// error naming it: a half-filled prompt would be evaluated as if it were
// the one meant.
func (p *Prompt) Render(vars map[string]string) ([]Message, error) {
	fill := func(s string) (string, error) {
		var missing []string
		out := varRef.ReplaceAllStringFunc(s, func(m string) string {
			name := varRef.FindStringSubmatch(m)[1]
			v, ok := vars[name]
			if !ok {
				missing = append(missing, name)
			}
			return v
		})
		if len(missing) > 0 {
			return "", fmt.Errorf("the template uses {{ %s }} but the case gives no such variable", strings.Join(missing, " }}, {{ "))
		}
		return out, nil
	}
	var msgs []Message
	if p.System != "" {
		s, err := fill(p.System)
		if err != nil {
			return nil, fmt.Errorf("system: %w", err)
		}
		msgs = append(msgs, Message{Role: "system", Content: s})
	}
	u, err := fill(p.Template)
	if err != nil {
		return nil, fmt.Errorf("template: %w", err)
	}
	return append(msgs, Message{Role: "user", Content: u}), nil
}
