package llm

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/tmc/langchaingo/llms"
	"github.com/tmc/langchaingo/llms/openai"

	"github.com/modelgate/modelgate/tools/redact"
)

// Role is who says a message.
type Role string

const (
	System    Role = "system"
	User      Role = "user"
	Assistant Role = "assistant"
	Tool      Role = "tool"
)

// Message is one turn of a conversation.
type Message struct {
	Role    Role   `json:"role"`
	Content string `json:"content,omitempty"`
	// ToolCalls are the calls an assistant turn asked for.
	ToolCalls []ToolCall `json:"tool_calls,omitempty"`
	// ToolCallID and Name tie a tool turn to the call it answers.
	ToolCallID string `json:"tool_call_id,omitempty"`
	Name       string `json:"name,omitempty"`
}

// ToolCall is a function the model asked to have called. Arguments is the
// model's JSON text, unparsed: it is outside input.
type ToolCall struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
}

// ToolDef declares a function the model may ask for, with a JSON Schema
// for its arguments.
type ToolDef struct {
	Name        string         `json:"name"`
	Description string         `json:"description"`
	Parameters  map[string]any `json:"parameters"`
}

// Request is one chat completion.
type Request struct {
	Purpose  string  // brief | triage | ask: the label on the counters
	Ledger   *Ledger // the run's account; nil = unmetered (ask outside a run)
	Messages []Message
	Tools    []ToolDef
}

// Response is the model's answer.
type Response struct {
	Text       string     `json:"text,omitempty"`
	ToolCalls  []ToolCall `json:"tool_calls,omitempty"`
	StopReason string     `json:"stop_reason,omitempty"`
	Usage      Usage      `json:"usage"`
}

// Client talks to one OpenAI-compatible endpoint. A nil *Client is "no
// LLM": Complete returns ErrDisabled.
type Client struct {
	cfg     Config
	model   *openai.LLM
	metrics *Metrics
}

// New builds a client, or returns nil, nil when cfg names no endpoint.
func New(cfg Config) (*Client, error) {
	if !cfg.Enabled() {
		return nil, nil
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	m := NewMetrics(cfg.Registerer)
	tr := &transport{client: cfg.HTTPClient, timeout: cfg.Timeout, retries: cfg.MaxRetries, backoff: cfg.Backoff, sleep: cfg.Sleep, metrics: m}
	model, err := openai.New(
		openai.WithBaseURL(strings.TrimRight(cfg.BaseURL, "/")),
		openai.WithModel(cfg.Model),
		openai.WithToken(cfg.APIKey),
		openai.WithHTTPClient(tr),
	)
	if err != nil {
		return nil, fmt.Errorf("llm client for %s: %w", cfg.BaseURL, err)
	}
	return &Client{cfg: cfg, model: model, metrics: m}, nil
}

// Model names the model, for the record kept with every output.
func (c *Client) Model() string {
	if c == nil {
		return ""
	}
	return c.cfg.Model
}

// Metrics returns the client's counters (nil for a nil client; their
// methods accept a nil receiver).
func (c *Client) Metrics() *Metrics {
	if c == nil {
		return nil
	}
	return c.metrics
}

// NewLedger starts a run's account at the configured budget.
func (c *Client) NewLedger(spent Usage) *Ledger {
	if c == nil {
		return NewLedger(0, spent)
	}
	return NewLedger(c.cfg.RunTokenBudget, spent)
}

// Complete sends one request. Every message's text is masked (tools/redact)
// before it is encoded; the transport refuses a body in which a credential
// pattern survives.
func (c *Client) Complete(ctx context.Context, req Request) (Response, error) {
	if c == nil {
		return Response{}, ErrDisabled
	}
	msgs := make([]llms.MessageContent, 0, len(req.Messages))
	size := 0
	for _, m := range req.Messages {
		mc, n := toContent(m)
		msgs = append(msgs, mc)
		size += n
	}
	for _, t := range req.Tools {
		size += len(t.Name) + len(t.Description) + 200
	}
	// About four characters a token for English and JSON: the estimate
	// only has to stop a call that clearly cannot fit.
	if req.Ledger != nil {
		if err := req.Ledger.reserve(size/4 + c.cfg.MaxTokens); err != nil {
			c.metrics.call(req.Purpose, "budget", Usage{})
			return Response{}, err
		}
	}
	opts := []llms.CallOption{llms.WithTemperature(0), llms.WithMaxTokens(c.cfg.MaxTokens)}
	if len(req.Tools) > 0 {
		tools := make([]llms.Tool, 0, len(req.Tools))
		for _, t := range req.Tools {
			tools = append(tools, llms.Tool{Type: "function", Function: &llms.FunctionDefinition{Name: t.Name, Description: t.Description, Parameters: t.Parameters}})
		}
		opts = append(opts, llms.WithTools(tools))
	}
	out, err := c.generate(ctx, msgs, opts)
	if err != nil {
		outcome := "error"
		if errors.Is(err, ErrEgress) {
			outcome = "egress_refused"
		}
		c.metrics.call(req.Purpose, outcome, Usage{})
		// langchaingo's message can quote the endpoint's body; mask it.
		return Response{}, fmt.Errorf("llm %s via %s: %w", req.Purpose, c.cfg.Model, masked{err})
	}
	resp, err := c.response(out, size)
	if req.Ledger != nil {
		req.Ledger.add(resp.Usage)
	}
	outcome := "ok"
	if err != nil {
		outcome = "empty"
	}
	c.metrics.call(req.Purpose, outcome, resp.Usage)
	return resp, err
}

// generate calls langchaingo, turning a panic inside it into an error: the
// answer it decodes is outside input, and one malformed answer must not
// take the server down with it.
func (c *Client) generate(ctx context.Context, msgs []llms.MessageContent, opts []llms.CallOption) (out *llms.ContentResponse, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("llm client failed on the answer: %v", r)
		}
	}()
	return c.model.GenerateContent(ctx, msgs, opts...)
}

// masked shows an error with credentials masked and still unwraps to it,
// so that errors.Is(err, ErrEgress) holds for callers.
type masked struct{ err error }

func (m masked) Error() string { return redact.String(m.err.Error()) }
func (m masked) Unwrap() error { return m.err }

func (c *Client) response(out *llms.ContentResponse, promptChars int) (Response, error) {
	if out == nil || len(out.Choices) == 0 || out.Choices[0] == nil {
		return Response{Usage: Usage{Calls: 1}}, ErrEmpty
	}
	ch := out.Choices[0]
	r := Response{Text: ch.Content, StopReason: ch.StopReason}
	for _, tc := range ch.ToolCalls {
		if tc.FunctionCall == nil {
			continue
		}
		r.ToolCalls = append(r.ToolCalls, ToolCall{ID: tc.ID, Name: tc.FunctionCall.Name, Arguments: tc.FunctionCall.Arguments})
	}
	pt, ct := intOf(ch.GenerationInfo["PromptTokens"]), intOf(ch.GenerationInfo["CompletionTokens"])
	if pt == 0 && ct == 0 {
		// A server that reports no usage still spends; count an estimate
		// so the budget holds.
		pt, ct = promptChars/4, (len(r.Text)+len(fmt.Sprint(r.ToolCalls)))/4
	}
	r.Usage = Usage{Calls: 1, PromptTokens: pt, CompletionTokens: ct,
		CostUSD: (float64(pt)*c.cfg.PromptPricePerMTok + float64(ct)*c.cfg.CompletionPricePerMTok) / 1e6}
	if strings.TrimSpace(r.Text) == "" && len(r.ToolCalls) == 0 {
		return r, fmt.Errorf("%w (finish reason %q)", ErrEmpty, r.StopReason)
	}
	return r, nil
}

func intOf(v any) int {
	switch x := v.(type) {
	case int:
		return x
	case int64:
		return int(x)
	case float64:
		return int(x)
	}
	return 0
}

// toContent converts a message, masking every text in it, and returns its
// size in characters for the budget estimate.
func toContent(m Message) (llms.MessageContent, int) {
	n := len(m.Content)
	switch m.Role {
	case Tool:
		return llms.MessageContent{Role: llms.ChatMessageTypeTool, Parts: []llms.ContentPart{
			llms.ToolCallResponse{ToolCallID: m.ToolCallID, Name: m.Name, Content: redact.String(m.Content)}}}, n
	case Assistant:
		mc := llms.MessageContent{Role: llms.ChatMessageTypeAI}
		if m.Content != "" {
			mc.Parts = append(mc.Parts, llms.TextContent{Text: redact.String(m.Content)})
		}
		for _, tc := range m.ToolCalls {
			n += len(tc.Arguments)
			mc.Parts = append(mc.Parts, llms.ToolCall{ID: tc.ID, Type: "function",
				FunctionCall: &llms.FunctionCall{Name: tc.Name, Arguments: redact.String(tc.Arguments)}})
		}
		return mc, n
	case System:
		return llms.TextParts(llms.ChatMessageTypeSystem, redact.String(m.Content)), n
	default:
		return llms.TextParts(llms.ChatMessageTypeHuman, redact.String(m.Content)), n
	}
}
