package chatops_test

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/modelgate/modelgate/internal/chatops"
)

// FuzzParseCommand: any text parses or fails with ErrUsage, and what
// parses has a known name and arguments without spaces.
func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{"", "help", "deploy fraud v3", "approve 123 looks good", "reject 1", "reject 1 bad recall",
		"status", "rollback m staging", "RUNS m", "deploy ../x y", "approve \u00a0id", "\xff", strings.Repeat("a ", 3000)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		c, err := chatops.ParseCommand(text)
		if err != nil {
			if !errors.Is(err, chatops.ErrUsage) {
				t.Fatalf("error is not ErrUsage: %v", err)
			}
			return
		}
		if c.Name == "" {
			t.Fatal("parsed without a name")
		}
		for _, a := range c.Args {
			if a == "" || strings.ContainsAny(a, " \t\n") {
				t.Fatalf("argument %q", a)
			}
		}
	})
}

// FuzzParseInteraction: any body parses or errors, never panics.
func FuzzParseInteraction(f *testing.F) {
	f.Add("payload=" + url.QueryEscape(`{"type":"block_actions","user":{"id":"U1"},"actions":[{"action_id":"modelgate.approve","value":"a1"}]}`))
	f.Add("payload=" + url.QueryEscape(`{"type":"block_actions","actions":[null]}`))
	f.Add("payload=" + url.QueryEscape(`{"type":"view_submission","view":{"state":{"values":{}}}}`))
	f.Add("payload=%7B")
	f.Add("a=%zz")
	f.Fuzz(func(t *testing.T, body string) {
		c, err := chatops.ParseInteraction([]byte(body))
		if err == nil && c.Type == "block_actions" && c.ActionID == "" && c.Value != "" {
			t.Fatal("a value without an action")
		}
	})
}
