package assistant

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/modelgate/modelgate/internal/llm"
	"github.com/modelgate/modelgate/prompts"
)

// Cause is one likely cause of a failure.
type Cause struct {
	Rank      int      `json:"rank"`
	Cause     string   `json:"cause"`
	Citations []string `json:"citations"`
	Check     string   `json:"check,omitempty"` // what to look at next
}

// Turn is one step of the triage conversation, kept with the run.
type Turn struct {
	Role      string `json:"role"` // assistant | tool
	Text      string `json:"text,omitempty"`
	Tool      string `json:"tool,omitempty"`
	Arguments string `json:"arguments,omitempty"`
	Result    string `json:"result,omitempty"`
	Error     string `json:"error,omitempty"`
}

// Triage ranks the likely causes of a failed stage, a denial or a rollback.
type Triage struct {
	Source         string  `json:"source"` // llm | template
	Causes         []Cause `json:"causes"`
	Transcript     []Turn  `json:"transcript,omitempty"`
	ToolCalls      int     `json:"tool_calls"`
	RejectedReason string  `json:"rejected_reason,omitempty"`
	Unavailable    string  `json:"unavailable,omitempty"`
	Prompt         string  `json:"prompt"`
	Model          string  `json:"model,omitempty"`
	Evidence       []Cited `json:"evidence"`
}

// Bounds of the triage loop: a model that keeps calling tools stops here.
const (
	MaxToolCalls      = 6
	maxRounds         = 8
	maxCauses         = 5
	maxResultChars    = 2000
	RuleTriageVersion = "rule-triage@v1"
)

// RuleTriage ranks causes from the evidence alone: failed stages and
// rollbacks first, then denials, changes whose interval excludes zero,
// drift and serious findings, by the weights Gather gave them.
func RuleTriage(b *Bundle) Triage {
	t := Triage{Source: SourceTemplate, Prompt: RuleTriageVersion, Causes: []Cause{}}
	var ids []string
	for _, e := range b.Items {
		if e.Kind == "change" || e.ID == "policy:decision" || strings.HasPrefix(e.ID, "policy:reason:") || e.weight < 30 {
			continue
		}
		c := Cause{Rank: len(t.Causes) + 1, Cause: e.Text, Citations: []string{e.ID}, Check: nextCheck(e)}
		t.Causes = append(t.Causes, c)
		ids = append(ids, e.ID)
		if len(t.Causes) == maxCauses {
			break
		}
	}
	if len(t.Causes) == 0 && b.Reason != "" {
		t.Causes = append(t.Causes, Cause{Rank: 1, Cause: "the run ended: " + b.Reason, Citations: []string{}})
	}
	t.Evidence = citedOf(b, ids)
	return t
}

func nextCheck(e Evidence) string {
	switch e.Kind {
	case "stage":
		return "read the stage's log (modelgate runs show --logs)"
	case "drift":
		return "compare the column's distribution with the training data"
	case "metric", "slice":
		return "look at the slices where the metric moved most"
	case "rollout":
		return "read the rollout's analysis windows and the candidate's error logs"
	case "finding":
		return "open the finding in the stage report"
	case "policy":
		return "read the policy rule that denied it"
	}
	return ""
}

// LLMTriage runs the agent loop: the model calls the read-only tools (at
// most MaxToolCalls calls, within the run's token budget) and ends with
// report_causes; the causes are verified like a brief. Anything else (a
// failure, an unknown tool, bad arguments past the limit, an ungrounded
// cause) gives the rule-based triage with the reason and the transcript.
func LLMTriage(ctx context.Context, c *llm.Client, led *llm.Ledger, env *Env) Triage {
	rule := RuleTriage(env.Bundle)
	if c == nil {
		return rule
	}
	b := env.Bundle
	p, err := prompts.Render("triage", prompts.TriageData{RunID: b.RunID, Model: b.Model, Environment: b.Environment, State: b.State,
		Reason: b.Reason, MaxCalls: MaxToolCalls, Evidence: promptLines(b)})
	if err != nil {
		rule.Unavailable = err.Error()
		return rule
	}
	defs := make([]llm.ToolDef, 0, len(triageTools))
	for _, t := range triageTools {
		defs = append(defs, t.def)
	}
	msgs := []llm.Message{{Role: llm.System, Content: p.System}, {Role: llm.User, Content: p.User}}
	var transcript []Turn
	calls := 0
	fail := func(reason string, rejected bool) Triage {
		rule.Transcript, rule.ToolCalls, rule.Model = transcript, calls, c.Model()
		if rejected {
			rule.RejectedReason = reason
		} else {
			rule.Unavailable = reason
			c.Metrics().Fallback("triage")
		}
		return rule
	}
	for round := 0; round < maxRounds; round++ {
		resp, err := c.Complete(ctx, llm.Request{Purpose: "triage", Ledger: led, Messages: msgs, Tools: defs})
		if err != nil {
			return fail(mask(err.Error()), false)
		}
		transcript = append(transcript, Turn{Role: "assistant", Text: clip(cleanText(resp.Text))})
		if len(resp.ToolCalls) == 0 {
			c.Metrics().Rejected("triage", "no_report")
			return fail("the model answered without calling report_causes", true)
		}
		msgs = append(msgs, llm.Message{Role: llm.Assistant, Content: resp.Text, ToolCalls: resp.ToolCalls})
		for _, call := range resp.ToolCalls {
			calls++
			turn := Turn{Role: "tool", Tool: Label(call.Name), Arguments: clip(call.Arguments)}
			if call.Name == reportCauses {
				tr, err := acceptCauses(call.Arguments, b)
				transcript = append(transcript, turn)
				if err != nil {
					code := "invalid"
					var re *RejectError
					if errors.As(err, &re) {
						code = re.Code
					}
					c.Metrics().Rejected("triage", code)
					return fail("the triage was rejected: "+mask(err.Error()), true)
				}
				tr.Transcript, tr.ToolCalls, tr.Prompt, tr.Model = transcript, calls, p.ID, c.Model()
				return tr
			}
			if calls > MaxToolCalls {
				transcript = append(transcript, turn)
				return fail(fmt.Sprintf("the model made more than %d tool calls", MaxToolCalls), false)
			}
			result := runTool(ctx, env, call)
			turn.Result, turn.Error = clip(result.text), result.err
			transcript = append(transcript, turn)
			msgs = append(msgs, llm.Message{Role: llm.Tool, ToolCallID: call.ID, Name: call.Name, Content: result.forModel()})
		}
	}
	return fail(fmt.Sprintf("no report after %d rounds", maxRounds), false)
}

type toolResult struct {
	text string
	err  string
}

func (r toolResult) forModel() string {
	if r.err != "" {
		return `{"error":` + quoteJSON(r.err) + `}`
	}
	return r.text
}

func quoteJSON(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// runTool runs a read-only tool; what it finds joins the bundle, so causes
// may cite it. An unknown tool is an error the model is told about: it can
// never reach anything but these functions.
func runTool(ctx context.Context, env *Env, call llm.ToolCall) toolResult {
	for _, t := range triageTools {
		if t.def.Name != call.Name || t.run == nil {
			continue
		}
		items, err := t.run(ctx, env, call.Arguments)
		if err != nil {
			return toolResult{err: mask(err.Error())}
		}
		lines := make([]Cited, 0, len(items))
		for _, e := range items {
			e = env.Bundle.add(e)
			lines = append(lines, Cited{ID: e.ID, Text: e.Text})
		}
		b, _ := json.Marshal(map[string]any{"evidence": lines})
		return toolResult{text: string(b)}
	}
	return toolResult{err: fmt.Sprintf("unknown tool %q; the tools are slice_metrics, column_drift, scan_file, compare_run, analysis_windows, report_causes", Label(call.Name))}
}

// ParseCauses decodes report_causes' arguments.
func ParseCauses(raw string) ([]Cause, error) {
	var a struct {
		Causes []struct {
			Cause     string   `json:"cause"`
			Citations []string `json:"citations"`
			Check     string   `json:"check"`
		} `json:"causes"`
	}
	if err := ParseArgs(raw, &a); err != nil {
		return nil, err
	}
	if len(a.Causes) == 0 {
		return nil, errors.New("report_causes: no causes")
	}
	if len(a.Causes) > maxCauses {
		a.Causes = a.Causes[:maxCauses]
	}
	out := make([]Cause, 0, len(a.Causes))
	for i, c := range a.Causes {
		text := cleanText(strings.ReplaceAll(c.Cause, "\n", " "))
		if text == "" {
			return nil, fmt.Errorf("report_causes: cause %d is empty", i+1)
		}
		out = append(out, Cause{Rank: i + 1, Cause: clip(text), Citations: nonNil(c.Citations), Check: clip(cleanText(strings.ReplaceAll(c.Check, "\n", " ")))})
	}
	return out, nil
}

// acceptCauses verifies each cause like a line of a brief: its citations
// exist and its numbers are theirs.
func acceptCauses(raw string, b *Bundle) (Triage, error) {
	causes, err := ParseCauses(raw)
	if err != nil {
		return Triage{}, &RejectError{Code: "bad_arguments", Detail: err.Error()}
	}
	var ids []string
	for _, c := range causes {
		if len(c.Citations) == 0 {
			return Triage{}, &RejectError{Code: "no_citation", Detail: fmt.Sprintf("cause %d cites no evidence", c.Rank)}
		}
		for _, id := range c.Citations {
			if !idRe.MatchString(id) {
				return Triage{}, &RejectError{Code: "unknown_citation", Detail: fmt.Sprintf("cause %d cites %q, which is not an evidence id", c.Rank, Label(id))}
			}
		}
		line := strings.NewReplacer("[", "(", "]", ")").Replace(c.Cause+" "+c.Check) + " [" + strings.Join(c.Citations, ", ") + "]"
		if _, err := Verify(line, b); err != nil {
			return Triage{}, err
		}
		ids = append(ids, c.Citations...)
	}
	return Triage{Source: SourceLLM, Causes: causes, Evidence: citedOf(b, ids)}, nil
}

func clip(s string) string {
	if r := []rune(s); len(r) > maxResultChars {
		return string(r[:maxResultChars]) + "…"
	}
	return s
}
