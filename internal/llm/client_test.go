package llm_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	openai "github.com/sashabaranov/go-openai"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/internal/llm"
	"github.com/modelgate/modelgate/internal/llm/llmtest"
)

type bundle struct {
	srv    *llmtest.Server
	client *llm.Client
	sleeps *sleeps
}

type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(d time.Duration) {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
}

func setup(t *testing.T, mod func(*llm.Config), script ...llmtest.Responder) bundle {
	t.Helper()
	srv := llmtest.New(t, script...)
	sl := &sleeps{}
	cfg := llm.Config{BaseURL: srv.BaseURL(), Model: "test-model", APIKey: "sk-testkeytestkeytestkey1234", Timeout: 2 * time.Second,
		MaxRetries: 2, Backoff: time.Millisecond, Sleep: sl.sleep, PromptPricePerMTok: 1, CompletionPricePerMTok: 2}
	if mod != nil {
		mod(&cfg)
	}
	c, err := llm.New(cfg)
	require.NoError(t, err)
	return bundle{srv: srv, client: c, sleeps: sl}
}

func ask(text string) llm.Request {
	return llm.Request{Purpose: "brief", Messages: []llm.Message{{Role: llm.System, Content: "be brief"}, {Role: llm.User, Content: text}}}
}

func TestComplete(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		script   []llmtest.Responder
		mod      func(*llm.Config)
		wantText string
		wantTool string
		wantErr  error
		errHas   string
		requests int
		sleeps   []time.Duration
	}{
		{name: "text", script: []llmtest.Responder{llmtest.Text("hello")}, wantText: "hello", requests: 1},
		{name: "429 with Retry-After, then text", script: []llmtest.Responder{llmtest.Status(429, "3"), llmtest.Text("later")},
			wantText: "later", requests: 2, sleeps: []time.Duration{3 * time.Second}},
		{name: "Retry-After capped at 30s", script: []llmtest.Responder{llmtest.Status(503, "86400"), llmtest.Text("x")},
			wantText: "x", requests: 2, sleeps: []time.Duration{30 * time.Second}},
		{name: "5xx until the retries run out", script: []llmtest.Responder{llmtest.Status(500, "")}, errHas: "giving up after 3 attempts", requests: 3},
		{name: "401 is not retried", script: []llmtest.Responder{llmtest.Status(401, "")}, errHas: "401", requests: 1},
		{name: "malformed JSON", script: []llmtest.Responder{llmtest.Raw(`{"choices":[{"message":`)}, errHas: "llm brief", requests: 1},
		{name: "no choices", script: []llmtest.Responder{llmtest.Raw(`{"choices":[]}`)}, errHas: "empty", requests: 1},
		{name: "refusal", script: []llmtest.Responder{llmtest.Refusal("I can't help with that")}, wantErr: llm.ErrEmpty, requests: 1},
		{name: "tool call", script: []llmtest.Responder{llmtest.Call("drift_of_column", `{"column":"amount"}`)}, wantTool: "drift_of_column", requests: 1},
		{name: "timeout per attempt, then text", script: []llmtest.Responder{llmtest.Slow(time.Second, llmtest.Text("late")), llmtest.Text("on time")},
			mod: func(c *llm.Config) { c.Timeout = 100 * time.Millisecond }, wantText: "on time", requests: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, tc.mod, tc.script...)
			led := b.client.NewLedger(llm.Usage{})
			req := ask("how did it go")
			req.Ledger = led
			resp, err := b.client.Complete(context.Background(), req)
			require.Len(t, b.srv.Bodies(), tc.requests)
			if tc.sleeps != nil {
				require.Equal(t, tc.sleeps, b.sleeps.d)
			}
			switch {
			case tc.wantErr != nil:
				require.ErrorIs(t, err, tc.wantErr)
				return
			case tc.errHas != "":
				require.ErrorContains(t, err, tc.errHas)
				require.NotContains(t, err.Error(), "sk-testkey", "errors never carry the key")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.wantText, resp.Text)
			if tc.wantTool != "" {
				require.Len(t, resp.ToolCalls, 1)
				require.Equal(t, tc.wantTool, resp.ToolCalls[0].Name)
				require.JSONEq(t, `{"column":"amount"}`, resp.ToolCalls[0].Arguments)
			}
			u := led.Usage()
			require.Equal(t, 1, u.Calls)
			require.Equal(t, 100, u.PromptTokens)
			require.Equal(t, 20, u.CompletionTokens)
			require.InDelta(t, (100*1+20*2)/1e6, u.CostUSD, 1e-12)
		})
	}
}

func TestBudgetStopsCallsBeforeTheySend(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *llm.Config) { c.RunTokenBudget = 1000; c.MaxTokens = 400 }, llmtest.Text("fine"))
	led := b.client.NewLedger(llm.Usage{PromptTokens: 300, CompletionTokens: 100}) // spent before a restart
	req := ask("first")
	req.Ledger = led
	_, err := b.client.Complete(context.Background(), req) // 400 used + ~400 fits in 1000
	require.NoError(t, err)
	_, err = b.client.Complete(context.Background(), req) // 520 used + ~400 fits
	require.NoError(t, err)
	_, err = b.client.Complete(context.Background(), req) // 640 + ~400 does not
	require.ErrorIs(t, err, llm.ErrBudget)
	require.Len(t, b.srv.Bodies(), 2, "the refused call never reached the endpoint")
	u := led.Usage()
	require.Equal(t, 1, u.Refused)
	require.Equal(t, 640, u.Total())
}

func TestSecretsAreMaskedBeforeTheyLeave(t *testing.T) {
	t.Parallel()
	b := setup(t, nil, llmtest.Text("ok"))
	secret := "AKIAABCDEFGHIJKLMNOP"
	_, err := b.client.Complete(context.Background(), llm.Request{Purpose: "triage", Messages: []llm.Message{
		{Role: llm.User, Content: "the train log said aws_key=" + secret + " and Authorization: Bearer mg_0123456789abcdef0123"},
		{Role: llm.Assistant, ToolCalls: []llm.ToolCall{{ID: "c1", Name: "scan_file", Arguments: `{"path":"model.pkl","token":"ghp_abcdefghijklmnopqrstuvwxyz"}`}}},
		{Role: llm.Tool, ToolCallID: "c1", Name: "scan_file", Content: "password=hunter2"},
	}})
	require.NoError(t, err)
	body := b.srv.Bodies()[0]
	for _, leak := range []string{secret, "mg_0123456789abcdef0123", "ghp_abcdefghijklmnopqrstuvwxyz", "hunter2", "sk-testkey"} {
		require.NotContains(t, body, leak)
	}
	require.Contains(t, body, "***")
}

func TestDisabledClient(t *testing.T) {
	t.Parallel()
	c, err := llm.New(llm.Config{})
	require.NoError(t, err)
	require.Nil(t, c)
	_, err = c.Complete(context.Background(), ask("x"))
	require.ErrorIs(t, err, llm.ErrDisabled)
	require.Equal(t, "", c.Model())
	c.Metrics().Rejected("brief", "x") // nil-safe
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cfg  llm.Config
		want string
	}{
		{llm.Config{BaseURL: "http://localhost:11434/v1"}, "--llm-model is required"},
		{llm.Config{BaseURL: "localhost:11434", Model: "m"}, "want http(s)://"},
		{llm.Config{BaseURL: "ftp://x/v1", Model: "m"}, "want http(s)://"},
	} {
		_, err := llm.New(tc.cfg)
		require.ErrorContains(t, err, tc.want)
	}
}

func TestCancelledContextIsNotRetried(t *testing.T) {
	t.Parallel()
	b := setup(t, nil, llmtest.Slow(time.Second, llmtest.Text("late")))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := b.client.Complete(ctx, ask("x"))
	require.Error(t, err)
	require.Len(t, b.srv.Bodies(), 1)
}

// FuzzResponse sends arbitrary bodies from the endpoint through the real
// client: whatever a server answers, Complete returns an answer or an
// error, never a panic.
func FuzzResponse(f *testing.F) {
	for _, s := range []string{
		`{"choices":[{"message":{"role":"assistant","content":"hi"}}],"usage":{"prompt_tokens":1,"completion_tokens":1}}`,
		`{"choices":[{"message":{"role":"assistant","tool_calls":[{"id":"a","type":"function","function":{"name":"x","arguments":"{"}}]}}]}`,
		`{"choices":[null]}`, `{"choices":[{}]}`, `[]`, `null`, ``, `{"usage":{"prompt_tokens":-5}}`, `{"choices":[{"message":{"content":7}}]}`,
	} {
		f.Add(s)
	}
	var body string
	var mu sync.Mutex
	srv := llmtest.New(f, func(_ openai.ChatCompletionRequest) llmtest.Reply {
		mu.Lock()
		defer mu.Unlock()
		return llmtest.Reply{Raw: body + " "}
	})
	c, err := llm.New(llm.Config{BaseURL: srv.BaseURL(), Model: "m", MaxRetries: -1, Timeout: time.Second})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		mu.Lock()
		body = s
		mu.Unlock()
		resp, err := c.Complete(context.Background(), llm.Request{Purpose: "fuzz", Ledger: c.NewLedger(llm.Usage{}), Messages: []llm.Message{{Role: llm.User, Content: "x"}}})
		if err == nil && strings.TrimSpace(resp.Text) == "" && len(resp.ToolCalls) == 0 {
			t.Fatalf("no error and nothing in the answer for %q", s)
		}
	})
}

func TestRetryAfterDate(t *testing.T) {
	t.Parallel()
	at := time.Now().Add(2 * time.Second).UTC().Format(http.TimeFormat)
	b := setup(t, nil, llmtest.Status(429, at), llmtest.Text("ok"))
	_, err := b.client.Complete(context.Background(), ask("x"))
	require.NoError(t, err)
	require.Len(t, b.sleeps.d, 1)
	require.LessOrEqual(t, b.sleeps.d[0], 2*time.Second)
}
