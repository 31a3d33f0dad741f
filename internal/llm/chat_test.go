package llm_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/internal/llm"
	"github.com/modelgate/modelgate/internal/llm/llmtest"
	"github.com/modelgate/modelgate/tools/llmeval"
)

func TestAllowlist(t *testing.T) {
	t.Parallel()
	a := llm.Allowlist{Entries: []string{"http://127.0.0.1:8080/v1", "https://api.openai.com"}}
	require.NoError(t, a.Validate())
	for _, c := range []struct {
		url string
		ok  bool
	}{
		{"http://127.0.0.1:8080/v1", true},
		{"http://127.0.0.1:8080/v1/", true},
		{"http://127.0.0.1:8080/v1/sub", true},
		{"https://api.openai.com/v1", true},
		{"https://API.openai.com:443/v1", true},
		{"http://127.0.0.1:8080/v1x", false},                // a path prefix is not a path segment
		{"http://127.0.0.1:8081/v1", false},                 // another port
		{"https://127.0.0.1:8080/v1", false},                // another scheme
		{"http://api.openai.com/v1", false},                 // plain http to an https entry
		{"http://127.0.0.1:8080@169.254.169.254/v1", false}, // user info hides the real host
		{"http://169.254.169.254/latest/meta-data", false},
		{"http://127.0.0.1:8080/v1/../admin", false},
		{"http://127.0.0.1:8080/v1?x=1", false},
		{"file:///etc/passwd", false},
		{"", false},
	} {
		err := a.Check(c.url)
		if c.ok {
			require.NoError(t, err, c.url)
		} else {
			require.Error(t, err, c.url)
		}
	}
	require.ErrorIs(t, llm.Allowlist{}.Check("http://127.0.0.1:1/v1"), llm.ErrNotAllowed, "an empty allowlist allows nothing")
	require.NoError(t, llm.Allowlist{Any: true}.Check("http://10.0.0.1/v1"))
	require.Error(t, llm.Allowlist{Entries: []string{"ftp://x"}}.Validate())
}

func TestChatRetriesTimesOutAndRefusesRedirects(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	msgs := []llmeval.Message{{Role: "system", Content: "be brief"}, {Role: "user", Content: "hi"}}
	zero := 0.0
	newChat := func(url string) *llm.Chat {
		c, err := llm.NewChat(llm.ChatConfig{BaseURL: url, Allow: llm.Allowlist{Any: true}, Timeout: 300 * time.Millisecond,
			MaxRetries: 2, Sleep: func(time.Duration) {}})
		require.NoError(t, err)
		return c
	}
	t.Run("retries then answers, with usage", func(t *testing.T) {
		t.Parallel()
		s := llmtest.New(t, llmtest.Status(500, ""), llmtest.Status(429, "0"), llmtest.Text("hello"))
		rep, err := newChat(s.BaseURL()).Complete(ctx, "m", msgs, llmeval.Parameters{Temperature: &zero, MaxTokens: 9})
		require.NoError(t, err)
		require.Equal(t, "hello", rep.Text)
		require.Equal(t, [2]int{100, 20}, [2]int{rep.PromptTokens, rep.CompletionTokens})
		reqs := s.Requests()
		require.Len(t, reqs, 3)
		require.Equal(t, "m", reqs[2].Model)
		require.Equal(t, 9, reqs[2].MaxTokens)
		require.Less(t, reqs[2].Temperature, float32(1e-30), "temperature 0 is sent, not left to the server's default")
		require.Contains(t, s.Bodies()[2], `"temperature"`)
	})
	t.Run("gives up", func(t *testing.T) {
		t.Parallel()
		s := llmtest.New(t, llmtest.Status(503, ""))
		_, err := newChat(s.BaseURL()).Complete(ctx, "m", msgs, llmeval.Parameters{})
		require.ErrorContains(t, err, "giving up after 3 attempts")
	})
	t.Run("a slow answer times out per attempt", func(t *testing.T) {
		t.Parallel()
		s := llmtest.New(t, llmtest.Slow(2*time.Second, llmtest.Text("late")), llmtest.Text("on time"))
		rep, err := newChat(s.BaseURL()).Complete(ctx, "m", msgs, llmeval.Parameters{})
		require.NoError(t, err)
		require.Equal(t, "on time", rep.Text)
	})
	t.Run("malformed answer is an error", func(t *testing.T) {
		t.Parallel()
		s := llmtest.New(t, llmtest.Raw(`{"choices": [null]}`))
		_, err := newChat(s.BaseURL()).Complete(ctx, "m", msgs, llmeval.Parameters{})
		require.Error(t, err)
		s2 := llmtest.New(t, llmtest.Raw(`not json`))
		_, err = newChat(s2.BaseURL()).Complete(ctx, "m", msgs, llmeval.Parameters{})
		require.Error(t, err)
	})
	t.Run("refusal is kept", func(t *testing.T) {
		t.Parallel()
		s := llmtest.New(t, llmtest.Refusal("I can't help with that."))
		rep, err := newChat(s.BaseURL()).Complete(ctx, "m", msgs, llmeval.Parameters{})
		require.NoError(t, err)
		require.Equal(t, "I can't help with that.", rep.Refusal)
	})
	t.Run("a redirect is not followed", func(t *testing.T) {
		t.Parallel()
		var hit atomic.Int32
		target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hit.Add(1) }))
		t.Cleanup(target.Close)
		redir := httptest.NewServer(http.RedirectHandler(target.URL+"/v1/chat/completions", http.StatusTemporaryRedirect))
		t.Cleanup(redir.Close)
		_, err := newChat(redir.URL+"/v1").Complete(ctx, "m", msgs, llmeval.Parameters{})
		require.ErrorContains(t, err, "redirect")
		require.Zero(t, hit.Load())
	})
	t.Run("not allowed: no client, no request", func(t *testing.T) {
		t.Parallel()
		s := llmtest.New(t, llmtest.Text("x"))
		_, err := llm.NewChat(llm.ChatConfig{BaseURL: s.BaseURL(), Allow: llm.Allowlist{Entries: []string{"http://127.0.0.1:1/v1"}}})
		require.ErrorIs(t, err, llm.ErrNotAllowed)
		require.Empty(t, s.Requests())
	})
}
