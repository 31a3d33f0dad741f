package main

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/modelgate/modelgate/agents/prompt"
	"github.com/modelgate/modelgate/internal/config"
	"github.com/modelgate/modelgate/internal/llm"
	"github.com/modelgate/modelgate/tools/llmeval"
)

// addPromptFlags adds the server's settings for task: llm runs: which
// endpoints submitted prompts may be evaluated on, and what models cost.
func addPromptFlags(f *pflag.FlagSet, o *prompt.Options) {
	f.Var(&allowFlag{a: &o.Allow}, "llm-endpoint-allow", "OpenAI-compatible base URL that task: llm prompts and judges may be evaluated on (repeatable; default none: no prompt is evaluated)")
	f.Var(&priceFlag{m: &o.Prices}, "llm-price", "MODEL=PROMPT:COMPLETION, US dollars per million tokens, for prompt candidates' cost (repeatable)")
	o.APIKey = os.Getenv(llm.EnvAPIKey)
}

// localPrompt is run --local's settings: the pipeline's author is the
// operator, so any endpoint may be called and its llm.prices count.
func localPrompt(data []byte) prompt.Options {
	o := prompt.Options{Allow: llm.Allowlist{Any: true}, APIKey: os.Getenv(llm.EnvAPIKey)}
	if p, err := config.Parse("modelgate.yaml", data); err == nil && p.LLM != nil {
		o.Prices = map[string]llmeval.Price{}
		for m, pr := range p.LLM.Prices {
			o.Prices[m] = llmeval.Price{Prompt: pr.Prompt, Completion: pr.Completion}
		}
	}
	return o
}

type allowFlag struct{ a *llm.Allowlist }

func (f *allowFlag) String() string {
	if f.a == nil {
		return ""
	}
	return strings.Join(f.a.Entries, ",")
}
func (f *allowFlag) Type() string { return "url" }
func (f *allowFlag) Set(v string) error {
	next := llm.Allowlist{Entries: []string{v}}
	if err := next.Validate(); err != nil {
		return err
	}
	f.a.Entries = append(f.a.Entries, v)
	return nil
}

type priceFlag struct{ m *map[string]llmeval.Price }

func (f *priceFlag) String() string {
	if f.m == nil {
		return ""
	}
	var out []string
	for k, v := range *f.m {
		out = append(out, fmt.Sprintf("%s=%g:%g", k, v.Prompt, v.Completion))
	}
	slices.Sort(out)
	return strings.Join(out, ",")
}
func (f *priceFlag) Type() string { return "price" }
func (f *priceFlag) Set(v string) error {
	model, prices, ok := strings.Cut(v, "=")
	ps, cs, ok2 := strings.Cut(prices, ":")
	p, err1 := strconv.ParseFloat(ps, 64)
	c, err2 := strconv.ParseFloat(cs, 64)
	if !ok || !ok2 || model == "" || err1 != nil || err2 != nil || p < 0 || c < 0 {
		return fmt.Errorf("want MODEL=PROMPT:COMPLETION (US dollars per million tokens, e.g. gpt-4o-mini=0.15:0.60), got %q", v)
	}
	if *f.m == nil {
		*f.m = map[string]llmeval.Price{}
	}
	(*f.m)[model] = llmeval.Price{Prompt: p, Completion: c}
	return nil
}
