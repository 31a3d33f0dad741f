package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/modelgate/modelgate/agents/assistant"
	"github.com/modelgate/modelgate/internal/api"
	"github.com/modelgate/modelgate/internal/app"
	"github.com/modelgate/modelgate/internal/config"
	"github.com/modelgate/modelgate/internal/llm"
)

// addLLMFlags adds the assistant's endpoint flags. The key is read from
// MODELGATE_LLM_API_KEY only, so that it is never in a process listing.
func addLLMFlags(f *pflag.FlagSet, c *llm.Config) {
	f.StringVar(&c.BaseURL, "llm-base-url", "", "OpenAI-compatible API for reviewer briefs and triage, e.g. http://localhost:11434/v1 (default: none, templates only; key from $"+llm.EnvAPIKey+")")
	f.StringVar(&c.Model, "llm-model", "", "model name at --llm-base-url, e.g. llama3.1:8b")
	f.IntVar(&c.RunTokenBudget, "llm-token-budget", llm.DefaultRunBudget, "LLM tokens one run may use (brief, triage)")
	f.DurationVar(&c.Timeout, "llm-timeout", llm.DefaultTimeout, "timeout of one LLM request")
	f.Float64Var(&c.PromptPricePerMTok, "llm-prompt-price", 0, "US dollars per million prompt tokens, for the cost shown per run")
	f.Float64Var(&c.CompletionPricePerMTok, "llm-completion-price", 0, "US dollars per million completion tokens")
	c.APIKey = os.Getenv(llm.EnvAPIKey)
}

// localLLM is run --local's endpoint: the pipeline's assist: section. A
// config that does not parse has no section; the run reports the error.
func localLLM(data []byte) llm.Config {
	p, err := config.Parse("modelgate.yaml", data)
	if err != nil || p.Assist == nil {
		return llm.Config{}
	}
	return llm.FromAssist(p.Assist, os.Getenv(llm.EnvAPIKey))
}

// assistLocal writes the run's brief and triage before it is printed.
func assistLocal(ctx context.Context, s *app.Server, v api.RunView) (api.RunView, error) {
	if !assistant.Wants(v.State) {
		return v, nil
	}
	if _, err := s.Assistant.Assist(ctx, v.ID); err != nil {
		return v, err
	}
	run, err := s.Store.RunGet(ctx, v.ID)
	if err != nil {
		return v, err
	}
	return api.ViewOf(ctx, s.Store, run)
}

// printAssist shows the reviewer brief and the triage under a run.
func printAssist(w io.Writer, v api.RunView) {
	if b := v.Brief; b != nil {
		fmt.Fprintf(w, "\nbrief (%s, %s):\n", b.Source, b.Prompt)
		for _, l := range strings.Split(b.Text, "\n") {
			fmt.Fprintf(w, "  %s\n", l)
		}
		if b.RejectedReason != "" {
			fmt.Fprintf(w, "  (LLM brief rejected: %s)\n", b.RejectedReason)
		}
	}
	if t := v.Triage; t != nil {
		fmt.Fprintf(w, "\nlikely causes (%s, %s, %d tool call(s)):\n", t.Source, t.Prompt, t.ToolCalls)
		for _, c := range t.Causes {
			fmt.Fprintf(w, "  %d. %s [%s]\n", c.Rank, c.Cause, strings.Join(c.Citations, ", "))
		}
		if t.RejectedReason != "" {
			fmt.Fprintf(w, "  (LLM triage rejected: %s)\n", t.RejectedReason)
		}
	}
	if u := v.AssistUsage; u != nil && u.Calls > 0 {
		fmt.Fprintf(w, "\nLLM: %d call(s), %d prompt + %d completion tokens of %d, $%.4f\n", u.Calls, u.PromptTokens, u.CompletionTokens, u.Budget, u.CostUSD)
	}
}
