package chatops

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Command is a parsed `/modelgate` text.
type Command struct {
	Name string   // deploy | status | runs | approve | reject | promote | rollback | ask | help
	Args []string // the words after the name
	Rest string   // approve's comment, reject's reason: the text after the fixed arguments
}

// spec says how many fixed words a command takes and whether free text
// may follow them.
type spec struct {
	min, max int
	rest     string // name of the free text, "" = none allowed
	usage    string
	action   string // the authz action it asks for
}

var commands = map[string]spec{
	"deploy":   {min: 2, max: 2, usage: "deploy <model> <version>", action: "trigger"},
	"status":   {min: 0, max: 1, usage: "status [run-id|model]", action: "read"},
	"runs":     {min: 0, max: 1, usage: "runs [model]", action: "read"},
	"approve":  {min: 1, max: 1, rest: "comment", usage: "approve <approval-id> [comment]", action: "approve"},
	"reject":   {min: 1, max: 1, rest: "reason", usage: "reject <approval-id> <reason>", action: "reject"},
	"promote":  {min: 1, max: 1, usage: "promote <run-id>", action: "promote"},
	"rollback": {min: 1, max: 2, usage: "rollback <model> [environment]", action: "rollback"},
	"ask":      {min: 0, max: 0, rest: "sentence", usage: "ask <sentence>", action: "read"},
	"help":     {min: 0, max: 0, usage: "help"},
}

// order is the help text's order.
var order = []string{"deploy", "status", "runs", "approve", "reject", "promote", "rollback", "ask", "help"}

// maxText bounds a command's text; Slack's own limit is 4,000 characters.
const maxText = 4000

// ErrUsage marks a command that could not be parsed; its message says why
// and how to write it.
var ErrUsage = errors.New("usage")

// ParseCommand parses the text after /modelgate. It is a pure function of
// outside input (fuzzed): every failure is an ErrUsage naming the problem.
func ParseCommand(text string) (Command, error) {
	if len(text) > maxText {
		return Command{}, fmt.Errorf("%w: the command is %d bytes, more than %d", ErrUsage, len(text), maxText)
	}
	if !utf8.ValidString(text) {
		return Command{}, fmt.Errorf("%w: the command is not valid UTF-8", ErrUsage)
	}
	text = strings.TrimSpace(text)
	if text == "" {
		return Command{Name: "help"}, nil
	}
	name, rest := cut(text)
	name = strings.ToLower(name)
	sp, ok := commands[name]
	if !ok {
		return Command{}, fmt.Errorf("%w: unknown command %q; try `/modelgate help`", ErrUsage, clip(name, 40))
	}
	c := Command{Name: name}
	for len(c.Args) < sp.max && rest != "" {
		var w string
		w, rest = cut(rest)
		if err := checkWord(w); err != nil {
			return Command{}, fmt.Errorf("%w: %s: %v (`/modelgate %s`)", ErrUsage, name, err, sp.usage)
		}
		c.Args = append(c.Args, w)
	}
	if len(c.Args) < sp.min {
		return Command{}, fmt.Errorf("%w: %s needs %d argument(s): `/modelgate %s`", ErrUsage, name, sp.min, sp.usage)
	}
	if rest != "" {
		if sp.rest == "" {
			return Command{}, fmt.Errorf("%w: %s takes at most %d argument(s): `/modelgate %s`", ErrUsage, name, sp.max, sp.usage)
		}
		c.Rest = rest
	}
	if name == "ask" && strings.TrimSpace(c.Rest) == "" {
		return Command{}, fmt.Errorf("%w: ask needs a sentence: `/modelgate %s`", ErrUsage, sp.usage)
	}
	if name == "reject" && strings.TrimSpace(c.Rest) == "" {
		return Command{}, fmt.Errorf("%w: reject needs a reason: `/modelgate %s`", ErrUsage, sp.usage)
	}
	return c, nil
}

// cut splits off the first word (any Unicode space separates words).
func cut(s string) (string, string) {
	s = strings.TrimLeftFunc(s, unicode.IsSpace)
	i := strings.IndexFunc(s, unicode.IsSpace)
	if i < 0 {
		return s, ""
	}
	return s[:i], strings.TrimSpace(s[i:])
}

// checkWord refuses identifiers that no model, version, run or approval
// has: they would only end up in messages and log lines.
func checkWord(w string) error {
	if len(w) > 200 {
		return fmt.Errorf("%q is longer than 200 bytes", clip(w, 40))
	}
	for _, r := range w {
		if !(unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("._-:/@+", r)) {
			return fmt.Errorf("%q contains %q", clip(w, 40), r)
		}
	}
	return nil
}

// helpText is the reply to `/modelgate help`.
func helpText() string {
	var b strings.Builder
	b.WriteString("*modelgate* — run, review and roll back models from Slack. Commands:\n")
	for _, n := range order {
		fmt.Fprintf(&b, "• `/modelgate %s`\n", commands[n].usage)
	}
	b.WriteString("Your Slack account acts as the modelgate identity it is linked to (`slack:` in the tokens file), with that identity's rights.")
	return b.String()
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
