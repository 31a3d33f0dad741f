package assistant

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/modelgate/modelgate/internal/llm"
	"github.com/modelgate/modelgate/prompts"
)

// Sources of an output.
const (
	SourceLLM      = "llm"
	SourceTemplate = "template"
)

// Cited is one evidence item as shown next to a brief, so a reader (and
// the page) can resolve each citation.
type Cited struct {
	ID   string `json:"id"`
	Text string `json:"text"`
}

// Brief is the reviewer brief: API field `brief`.
type Brief struct {
	Source    string   `json:"source"` // llm | template
	Text      string   `json:"text"`
	Citations []string `json:"citations"`
	// RejectedReason says why an LLM brief was refused by the grounding
	// check and the template shown instead; empty otherwise.
	RejectedReason string `json:"rejected_reason,omitempty"`
	// Unavailable says why no LLM brief was tried or obtained (endpoint
	// down, budget spent); empty when none is configured.
	Unavailable string  `json:"unavailable,omitempty"`
	Prompt      string  `json:"prompt"` // prompt version (brief@v1) or template version
	Model       string  `json:"model,omitempty"`
	Evidence    []Cited `json:"evidence"`
}

// TemplateVersion names the deterministic brief's wording, recorded like a
// prompt version.
const TemplateVersion = "template-brief@v1"

// perKind is how many items of each kind a brief lists after what changed
// and the policy: reviewers read the few that matter, the page has the rest.
var perKind = []struct {
	kind, heading string
	n             int
}{
	{"stage", "Stage", 2}, {"rollout", "Rollout", 2}, {"metric", "Metric", 2}, {"slice", "Slice", 1}, {"drift", "Drift", 2}, {"finding", "Finding", 3},
}

// TemplateBrief writes the brief from the evidence alone. It passes Verify
// by construction: every line cites the item whose text it copies.
func TemplateBrief(b *Bundle) Brief {
	var lines, cites []string
	line := func(e Evidence, prefix string) {
		lines = append(lines, prefix+": "+e.Text+" ["+e.ID+"]")
		cites = append(cites, e.ID)
	}
	for _, e := range b.Items {
		switch e.Kind {
		case "change":
			line(e, "What changed")
		case "policy":
			line(e, "Policy")
		}
	}
	for _, k := range perKind {
		n := 0
		for _, e := range b.Items { // already in order of importance
			if e.Kind == k.kind && n < k.n {
				line(e, k.heading)
				n++
			}
		}
	}
	if len(lines) == 0 {
		lines = append(lines, "No evidence recorded for this run yet.")
	}
	return Brief{Source: SourceTemplate, Text: strings.Join(lines, "\n"), Citations: nonNil(cites), Prompt: TemplateVersion, Evidence: citedOf(b, cites)}
}

func citedOf(b *Bundle, ids []string) []Cited {
	out := []Cited{}
	for _, id := range ids {
		if e, ok := b.Get(id); ok {
			out = append(out, Cited{ID: id, Text: e.Text})
		}
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func promptLines(b *Bundle) []prompts.Line {
	out := make([]prompts.Line, 0, len(b.Items))
	for _, e := range b.Items {
		out = append(out, prompts.Line{ID: e.ID, Text: e.Text})
	}
	return out
}

// LLMBrief asks the model for a brief and verifies it; on any failure it
// returns the template brief with the reason.
func LLMBrief(ctx context.Context, c *llm.Client, led *llm.Ledger, b *Bundle) Brief {
	tmpl := TemplateBrief(b)
	if c == nil {
		return tmpl
	}
	p, err := prompts.Render("brief", prompts.BriefData{RunID: b.RunID, Model: b.Model, Environment: b.Environment, State: b.State, Evidence: promptLines(b)})
	if err != nil {
		tmpl.Unavailable = err.Error()
		return tmpl
	}
	resp, err := c.Complete(ctx, llm.Request{Purpose: "brief", Ledger: led, Messages: []llm.Message{
		{Role: llm.System, Content: p.System}, {Role: llm.User, Content: p.User}}})
	if err == nil && strings.TrimSpace(resp.Text) == "" {
		err = errors.New("the model answered with tool calls, not a brief")
	}
	if err != nil {
		c.Metrics().Fallback("brief")
		tmpl.Unavailable = mask(err.Error())
		return tmpl
	}
	text := cleanText(resp.Text)
	cites, err := Verify(text, b)
	if err != nil {
		var re *RejectError
		code := "invalid"
		if errors.As(err, &re) {
			code = re.Code
		}
		c.Metrics().Rejected("brief", code)
		tmpl.RejectedReason = fmt.Sprintf("the %s brief was rejected: %s", c.Model(), mask(err.Error()))
		tmpl.Model = c.Model()
		return tmpl
	}
	return Brief{Source: SourceLLM, Text: text, Citations: cites, Prompt: p.ID, Model: c.Model(), Evidence: citedOf(b, cites)}
}

// cleanText drops control characters other than newlines and trims: the
// text is shown on a page and in a terminal.
func cleanText(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' {
			return r
		}
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return -1
		}
		return r
	}, s)
	return strings.TrimSpace(s)
}
