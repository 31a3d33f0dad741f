package assistant

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/modelgate/modelgate/internal/llm"
	"github.com/modelgate/modelgate/prompts"
)

// Command is a structured operator command. It is only ever proposed here:
// the CLI shows it, asks for confirmation, and sends it to the ordinary
// API endpoint, where policies/authz.rego decides like for any request.
type Command struct {
	Action      string `json:"action"` // rollback | promote | abort | pause | resume | cancel | approve | reject | show_run | none
	Model       string `json:"model,omitempty"`
	Environment string `json:"environment,omitempty"`
	RunID       string `json:"run_id,omitempty"`
	ApprovalID  string `json:"approval_id,omitempty"`
	// Version is the version the sentence asked for, if any. The rollback
	// endpoint goes back to the version before the current one; the CLI
	// shows which that is so the operator can compare before confirming.
	Version string `json:"version,omitempty"`
	Reason  string `json:"reason,omitempty"`
}

// Proposal is what `modelgate ask` shows back.
type Proposal struct {
	Source  string    `json:"source"` // llm | template
	Command Command   `json:"command"`
	Summary string    `json:"summary"`         // the command in words
	Note    string    `json:"note,omitempty"`  // what the operator should know (LLM refused, fell back)
	Prompt  string    `json:"prompt"`          // ask@v1 or the rule parser's version
	Model   string    `json:"model,omitempty"` // the LLM, when it proposed
	Usage   llm.Usage `json:"usage"`
}

// Known is what a sentence may refer to.
type Known struct {
	Models       []string
	Environments []string
}

// RuleAskVersion names the rule parser, recorded like a prompt version.
const RuleAskVersion = "rule-ask@v1"

// Actions the parser and the model may propose.
var Actions = []string{"rollback", "promote", "abort", "pause", "resume", "cancel", "approve", "reject", "show_run", "none"}

var proposeTool = llm.ToolDef{Name: "propose_command", Description: "Propose one modelgate command; the operator confirms it before it runs.",
	Parameters: object(map[string]any{
		"action":      map[string]any{"type": "string", "enum": Actions},
		"model":       str,
		"environment": str,
		"run_id":      str,
		"approval_id": str,
		"version":     str,
		"reason":      str,
	}, "action")}

var envAliases = map[string]string{"prod": "production", "production": "production", "stage": "staging", "staging": "staging",
	"dev": "development", "development": "development"}

// ParseCommand decodes and checks propose_command's arguments against the
// sentence and what is known: the model must be one the registry has,
// and ids must appear in the operator's own words, so that a model cannot
// steer a command at something the operator did not name.
func ParseCommand(raw, sentence string, k Known) (Command, error) {
	var c Command
	if err := ParseArgs(raw, &c); err != nil {
		return Command{}, err
	}
	return checkCommand(c, sentence, k)
}

func checkCommand(c Command, sentence string, k Known) (Command, error) {
	c.Action = strings.TrimSpace(strings.ToLower(c.Action))
	if !slices.Contains(Actions, c.Action) {
		return Command{}, fmt.Errorf("action %q is not one of %s", Label(c.Action), strings.Join(Actions, ", "))
	}
	c.Reason = clipTo(cleanText(strings.ReplaceAll(c.Reason, "\n", " ")), 300)
	if c.Environment != "" {
		if e, ok := envAliases[strings.ToLower(c.Environment)]; ok {
			c.Environment = e
		}
		if !validID(c.Environment) {
			return Command{}, fmt.Errorf("environment %q is not a name", Label(c.Environment))
		}
	}
	if c.Version != "" && !validID(c.Version) {
		c.Version = "" // a relative phrase ("last week's"): the rollback target is resolved by the server
	}
	switch c.Action {
	case "rollback":
		if !slices.Contains(k.Models, c.Model) {
			return Command{}, fmt.Errorf("model %q is not in the registry (models: %s)", Label(c.Model), strings.Join(labels(k.Models), ", "))
		}
		if c.Environment == "" {
			c.Environment = "production"
		}
		c.RunID, c.ApprovalID = "", ""
	case "promote", "abort", "pause", "resume", "cancel", "show_run":
		if !validID(c.RunID) || !strings.Contains(sentence, c.RunID) {
			return Command{}, fmt.Errorf("run id %q is not in the sentence", Label(c.RunID))
		}
		c.ApprovalID = ""
	case "approve", "reject":
		if !validID(c.ApprovalID) || !strings.Contains(sentence, c.ApprovalID) {
			return Command{}, fmt.Errorf("approval id %q is not in the sentence", Label(c.ApprovalID))
		}
		c.RunID = ""
	case "none":
		c = Command{Action: "none", Reason: c.Reason}
	}
	return c, nil
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$`)

func validID(s string) bool { return idPattern.MatchString(s) }

func clipTo(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

// Summary says a command in words, for the confirmation prompt.
func Summary(c Command) string {
	switch c.Action {
	case "rollback":
		s := fmt.Sprintf("roll %s in %s back to the version that was in production before the current one", c.Model, c.Environment)
		if c.Version != "" {
			s += fmt.Sprintf(" (you asked for %s)", c.Version)
		}
		return s
	case "promote", "abort", "pause", "resume":
		return fmt.Sprintf("%s the rollout of run %s", c.Action, c.RunID)
	case "cancel":
		return "cancel run " + c.RunID
	case "approve", "reject":
		return fmt.Sprintf("%s approval %s", c.Action, c.ApprovalID)
	case "show_run":
		return "show run " + c.RunID
	}
	if c.Reason != "" {
		return "no command: " + c.Reason
	}
	return "no command"
}

var (
	wordRe = regexp.MustCompile(`[A-Za-z0-9][A-Za-z0-9_.:-]*`)
	verbs  = []struct {
		action string
		re     *regexp.Regexp
	}{
		{"rollback", regexp.MustCompile(`(?i)\broll(ing|ed)?\b.*\bback\b|\brollback\b|\brevert\b|\bgo back\b`)},
		{"approve", regexp.MustCompile(`(?i)\bapprove\b`)},
		{"reject", regexp.MustCompile(`(?i)\breject\b|\bdeny\b`)},
		{"abort", regexp.MustCompile(`(?i)\babort\b|\bstop the rollout\b`)},
		{"pause", regexp.MustCompile(`(?i)\bpause\b|\bhold\b`)},
		{"resume", regexp.MustCompile(`(?i)\bresume\b|\bcontinue\b`)},
		{"promote", regexp.MustCompile(`(?i)\bpromote\b|\bship it\b`)},
		{"cancel", regexp.MustCompile(`(?i)\bcancel\b`)},
		{"show_run", regexp.MustCompile(`(?i)\bshow\b|\bstatus\b`)},
	}
)

// RuleAsk reads a sentence with a small grammar: a verb, and the model,
// environment or id it names. It is what `ask` does without an LLM, and
// what it falls back to when the LLM's proposal fails its checks.
func RuleAsk(sentence string, k Known) (Command, error) {
	c := Command{Action: "none"}
	for _, v := range verbs {
		if v.re.MatchString(sentence) {
			c.Action = v.action
			break
		}
	}
	for _, w := range wordRe.FindAllString(sentence, -1) {
		w = strings.TrimRight(w, ".:")
		lw := strings.ToLower(w)
		switch {
		case slices.Contains(k.Models, w) && c.Model == "":
			c.Model = w
		case envAliases[lw] != "" && c.Environment == "":
			c.Environment = envAliases[lw]
		case slices.Contains(k.Environments, w) && c.Environment == "":
			c.Environment = w
		case len(w) >= 8 && strings.ContainsAny(w, "0123456789") && strings.Contains(w, "-") && !strings.Contains(w, "--"):
			if c.RunID == "" {
				c.RunID = w
			}
			if c.ApprovalID == "" {
				c.ApprovalID = w
			}
		}
	}
	if c.Action == "none" {
		return checkCommand(Command{Action: "none", Reason: "no command verb (roll back, promote, abort, pause, resume, cancel, approve, reject, show) in the sentence"}, sentence, k)
	}
	return checkCommand(c, sentence, k)
}

// Ask proposes the command a sentence means. With an LLM, the model may
// call only propose_command; a call of anything else (an attempt to run
// "rollback" itself) or a proposal that fails its checks falls back to the
// rule parser, with a note. Nothing here executes anything.
func Ask(ctx context.Context, c *llm.Client, sentence string, k Known, now time.Time) (Proposal, error) {
	sentence = strings.TrimSpace(sentence)
	if sentence == "" {
		return Proposal{}, fmt.Errorf("ask: the sentence is empty")
	}
	if len(sentence) > 2000 {
		return Proposal{}, fmt.Errorf("ask: %d characters, more than 2000", len(sentence))
	}
	rule := func(note string) (Proposal, error) {
		cmd, err := RuleAsk(sentence, k)
		if err != nil {
			return Proposal{}, fmt.Errorf("ask: %s%w", notePrefix(note), err)
		}
		return Proposal{Source: SourceTemplate, Command: cmd, Summary: Summary(cmd), Note: note, Prompt: RuleAskVersion}, nil
	}
	if c == nil {
		return rule("")
	}
	p, err := prompts.Render("ask", prompts.AskData{Text: sentence, Today: now.UTC().Format("2006-01-02"), Models: labels(k.Models), Environments: labels(k.Environments)})
	if err != nil {
		return rule(err.Error())
	}
	led := c.NewLedger(llm.Usage{})
	resp, err := c.Complete(ctx, llm.Request{Purpose: "ask", Ledger: led, Messages: []llm.Message{{Role: llm.System, Content: p.System}, {Role: llm.User, Content: p.User}},
		Tools: []llm.ToolDef{proposeTool}})
	if err != nil {
		c.Metrics().Fallback("ask")
		return rule("the LLM was not available (" + mask(err.Error()) + "); read by the rule parser")
	}
	var note string
	for _, call := range resp.ToolCalls {
		if call.Name != proposeTool.Name {
			c.Metrics().Rejected("ask", "unknown_tool")
			note = fmt.Sprintf("the LLM tried to call %q, which it cannot: it only proposes; read by the rule parser", Label(call.Name))
			continue
		}
		cmd, err := ParseCommand(call.Arguments, sentence, k)
		if err != nil {
			c.Metrics().Rejected("ask", "bad_arguments")
			note = "the LLM's proposal was refused (" + mask(err.Error()) + "); read by the rule parser"
			break
		}
		return Proposal{Source: SourceLLM, Command: cmd, Summary: Summary(cmd), Prompt: p.ID, Model: c.Model(), Usage: led.Usage()}, nil
	}
	if note == "" {
		note = "the LLM proposed no command; read by the rule parser"
	}
	pr, err := rule(note)
	pr.Usage = led.Usage()
	return pr, err
}

func notePrefix(note string) string {
	if note == "" {
		return ""
	}
	return note + ": "
}
