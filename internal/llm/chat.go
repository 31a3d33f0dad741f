package llm

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	openai "github.com/sashabaranov/go-openai"

	"github.com/modelgate/modelgate/tools/llmeval"
)

// ChatConfig configures a Chat: one OpenAI-compatible endpoint that a
// prompt candidate (or a judge) is evaluated on.
type ChatConfig struct {
	BaseURL    string
	APIKey     string
	Allow      Allowlist     // checked before the client exists
	Timeout    time.Duration // one attempt; default 60s
	MaxRetries int           // on 429, 5xx and network errors; default 3, negative = none
	Backoff    time.Duration // first wait, doubled per attempt with jitter; default 500ms
	HTTPClient *http.Client  // its redirect policy is replaced: no redirects
	Metrics    *Metrics      // may be nil
	Sleep      func(time.Duration)
}

// Chat calls one endpoint through go-openai, with the retrying,
// time-bounded transport of the assistant's client under it.
type Chat struct {
	c *openai.Client
}

// NewChat checks the endpoint against the allowlist and builds a client.
func NewChat(cfg ChatConfig) (*Chat, error) {
	if err := cfg.Allow.Check(cfg.BaseURL); err != nil {
		return nil, err
	}
	lc, err := Config{BaseURL: cfg.BaseURL, Model: "-", APIKey: cfg.APIKey, Timeout: cfg.Timeout,
		MaxRetries: cfg.MaxRetries, Backoff: cfg.Backoff, HTTPClient: cfg.HTTPClient, Sleep: cfg.Sleep}.withDefaults()
	if err != nil {
		return nil, err
	}
	// An allowed endpoint must not pass the request on to one that is not:
	// a redirect is refused, not followed.
	hc := *lc.HTTPClient
	hc.CheckRedirect = func(*http.Request, []*http.Request) error {
		return errors.New("llm endpoint redirected: redirects are not followed")
	}
	oc := openai.DefaultConfig(lc.APIKey)
	oc.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	oc.HTTPClient = &transport{client: &hc, timeout: lc.Timeout, retries: lc.MaxRetries, backoff: lc.Backoff, sleep: lc.Sleep, metrics: cfg.Metrics}
	return &Chat{c: openai.NewClientWithConfig(oc)}, nil
}

// Complete is an llmeval.Completer: one chat completion, its text, token
// counts and wall time (retries included).
func (c *Chat) Complete(ctx context.Context, model string, msgs []llmeval.Message, p llmeval.Parameters) (llmeval.Reply, error) {
	req := openai.ChatCompletionRequest{Model: model, MaxTokens: p.MaxTokens, Seed: p.Seed, Stop: p.Stop}
	for _, m := range msgs {
		req.Messages = append(req.Messages, openai.ChatCompletionMessage{Role: m.Role, Content: m.Content})
	}
	if p.Temperature != nil {
		req.Temperature = float32(*p.Temperature)
		if req.Temperature == 0 {
			// go-openai omits a zero temperature (omitempty), and servers
			// then sample at their default; the smallest float32 is sent
			// as 0 for every practical purpose.
			req.Temperature = math.SmallestNonzeroFloat32
		}
	}
	if p.TopP != nil {
		req.TopP = float32(*p.TopP)
	}
	start := time.Now()
	resp, err := c.c.CreateChatCompletion(ctx, req)
	lat := time.Since(start)
	if err != nil {
		return llmeval.Reply{Latency: lat}, fmt.Errorf("chat completion (%s): %w", model, masked{err})
	}
	if len(resp.Choices) == 0 {
		return llmeval.Reply{Latency: lat}, fmt.Errorf("chat completion (%s): %w", model, ErrEmpty)
	}
	ch := resp.Choices[0].Message
	return llmeval.Reply{Text: ch.Content, Refusal: ch.Refusal, PromptTokens: resp.Usage.PromptTokens,
		CompletionTokens: resp.Usage.CompletionTokens, Latency: lat}, nil
}
