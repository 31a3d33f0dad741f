package gateway

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/internal/llm/scripted"
)

func chatBody(model, question string, stream bool) string {
	b, _ := json.Marshal(map[string]any{"model": model, "stream": stream,
		"messages": []map[string]string{{"role": "user", "content": question}}})
	return string(b)
}

func postChat(t *testing.T, base, body string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Post(base+"/v1/chat/completions", "application/json", strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, b
}

// streamText joins the content of a chat stream's chunks.
func streamText(t *testing.T, raw []byte) string {
	t.Helper()
	var sb strings.Builder
	for _, line := range strings.Split(string(raw), "\n") {
		d, ok := strings.CutPrefix(line, "data: ")
		if !ok || d == "[DONE]" {
			continue
		}
		var c streamChunk
		require.NoError(t, json.Unmarshal([]byte(d), &c), d)
		if len(c.Choices) > 0 {
			sb.WriteString(c.Choices[0].Delta.Content)
		}
	}
	return sb.String()
}

// TestChatStreamIsNotBuffered proves the pass-through: the upstream sends
// its first event and then waits for the test; the client must read that
// event through the gateway while the upstream is still waiting.
func TestChatStreamIsNotBuffered(t *testing.T) {
	t.Parallel()
	gate := make(chan struct{})
	const firstDelay = 60 * time.Millisecond
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		fl := w.(http.Flusher)
		time.Sleep(firstDelay)
		fmt.Fprint(w, "data: {\"choices\":[{\"delta\":{\"content\":\"first \"}}]}\n\n")
		fl.Flush()
		<-gate
		fmt.Fprint(w, "data: {\"choices\":[{\"delta\":{\"content\":\"second\"}}]}\n\n")
		fmt.Fprint(w, "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2}}\n\n")
		fmt.Fprint(w, "data: [DONE]\n\n")
		fl.Flush()
	}))
	t.Cleanup(up.Close)
	b := setup(t, Options{})
	require.NoError(t, b.gw.SetRoutes(context.Background(), "bot", RouteTable{Stable: Backend{Version: "p1", URL: up.URL}, Mode: ModeStable}))

	start := time.Now()
	resp, err := http.Post(b.srv.URL+"/v1/chat/completions", "application/json", strings.NewReader(chatBody("bot", "hi", true)))
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	require.Equal(t, "p1", resp.Header.Get("X-Modelgate-Version"))
	got := make(chan string, 1)
	br := bufio.NewReader(resp.Body)
	go func() {
		line, _ := br.ReadString('\n')
		got <- line
	}()
	select {
	case line := <-got:
		require.Contains(t, line, `"first "`)
	case <-time.After(5 * time.Second):
		close(gate)
		t.Fatal("the first event did not reach the client while the upstream held the rest: the gateway buffers streams")
	}
	held := 80 * time.Millisecond
	time.Sleep(held)
	close(gate)
	rest, err := io.ReadAll(br)
	require.NoError(t, err)
	require.Contains(t, string(rest), "data: [DONE]")
	total := time.Since(start)

	st := b.gw.Stats("bot", "p1", Mark{})
	require.Equal(t, uint64(1), st.Requests)
	require.Zero(t, st.Errors)
	require.NotNil(t, st.LLM)
	require.Equal(t, uint64(1), st.LLM.Streams)
	require.Equal(t, uint64(1), st.LLM.UsageReported)
	require.Equal(t, uint64(9), st.LLM.PromptTokens)
	require.Equal(t, uint64(2), st.LLM.CompletionTokens)
	// TTFT covers the upstream's delay before the first event and not the
	// time it then held the stream; total latency covers both. Histogram
	// quantiles are within 6.25 %.
	ttft := st.LLM.TTFTP50Ms
	require.GreaterOrEqual(t, ttft, 0.93*float64(firstDelay.Milliseconds()), "ttft")
	require.Less(t, ttft, float64((firstDelay + held).Milliseconds()), "ttft must stop at the first token")
	require.GreaterOrEqual(t, st.LatencyP50Ms, float64((firstDelay + held).Milliseconds()))
	require.LessOrEqual(t, st.LatencyP50Ms, float64(total.Milliseconds())+1)
}

// TestChatShadowAgainstScripted runs production and a candidate prompt as
// two scripted OpenAI-compatible servers, every request mirrored, streams
// and whole answers mixed; the comparison's figures are worked out by
// hand below.
func TestChatShadowAgainstScripted(t *testing.T) {
	t.Parallel()
	prod := httptest.NewServer(scripted.New(scripted.Script{Answers: []scripted.Answer{
		{Match: "refund", Text: "Open Settings, then Billing.", Tokens: [2]int{12, 5}},
		{Match: "cancel", Text: "Go to Settings and click Refund", Tokens: [2]int{12, 6}},
		{Match: "hours", Text: "We open at nine.", Tokens: [2]int{12, 4}},
	}}))
	t.Cleanup(prod.Close)
	cand := httptest.NewServer(scripted.New(scripted.Script{Answers: []scripted.Answer{
		{Match: "refund", Text: "open settings then billing", Tokens: [2]int{20, 4}},
		{Match: "cancel", Text: "Click Refund in Settings", Tokens: [2]int{20, 4}},
		{Match: "hours", Text: "We open at nine.", Tokens: [2]int{20, 4}},
	}}))
	t.Cleanup(cand.Close)
	b := setup(t, Options{})
	require.NoError(t, b.gw.SetRoutes(context.Background(), "bot", RouteTable{
		Stable: Backend{Version: "p1", URL: prod.URL}, Candidate: &Backend{Version: "p2", URL: cand.URL},
		ShadowShare: 1, Mode: ModeShadow}))
	mark := b.gw.Mark("bot")
	for _, q := range []string{"refund", "cancel", "hours"} {
		for _, stream := range []bool{false, true} {
			resp, body := postChat(t, b.srv.URL, chatBody("bot", "about "+q, stream))
			require.Equal(t, 200, resp.StatusCode, string(body))
			require.Equal(t, "p1", resp.Header.Get("X-Modelgate-Version"))
			if stream {
				require.Contains(t, string(body), "data: [DONE]")
			}
		}
	}
	require.Eventually(t, func() bool { return b.gw.ShadowStats("bot", mark).Compared == 6 }, 5*time.Second, 10*time.Millisecond)
	sh := b.gw.ShadowStats("bot", mark)
	require.Zero(t, sh.Errors)
	require.NotNil(t, sh.Chat)
	c := sh.Chat
	require.Equal(t, uint64(6), c.Pairs)
	// refund: not exact, equal once normalised (case, commas, "then"
	// kept), F1 1. cancel: production's tokens go to settings and click
	// refund (6), the candidate's click refund in settings (4), 3 shared:
	// P 3/4, R 3/6, F1 = 2·0.75·0.5/1.25 = 0.6. hours: identical, F1 1.
	// Each twice (whole and streamed, whose text is the chunks joined).
	require.InDelta(t, 2.0/6, c.ExactShare, 1e-12)
	require.InDelta(t, 4.0/6, c.NormalisedShare, 1e-12)
	require.InDelta(t, (1+0.6+1)/3, c.MeanF1, 1e-12)
	require.InDelta(t, 0.6, c.MinF1, 1e-12)
	// numpy: quantile([.6,.6,1,1,1,1], .1) = .6 + .5·(.6−.6) = .6; median 1.
	require.InDelta(t, 0.6, c.F1P10, 1e-12)
	require.InDelta(t, 1.0, c.F1P50, 1e-12)

	p1 := b.gw.Stats("bot", "p1", mark)
	require.Equal(t, uint64(6), p1.Requests)
	require.Equal(t, uint64(6), p1.LLM.Answers)
	require.Equal(t, uint64(3), p1.LLM.Streams)
	require.Equal(t, uint64(6), p1.LLM.UsageReported)
	require.InDelta(t, 12, p1.LLM.PromptTokensPerAnswer, 1e-12)
	require.InDelta(t, 5, p1.LLM.CompletionTokensPerAnswer, 1e-12) // (5+6+4)·2/6
	require.Positive(t, p1.LLM.TTFTP50Ms)
	p2 := b.gw.Stats("bot", "p2", mark)
	require.Equal(t, uint64(6), p2.LLM.Answers)
	require.Zero(t, p2.LLM.Streams, "the shadow copy asks for a whole answer")
	require.InDelta(t, 20, p2.LLM.PromptTokensPerAnswer, 1e-12)

	// The published window carries the same, and survives the wire.
	raw, err := json.Marshal(b.gw.Window("bot"))
	require.NoError(t, err)
	w, err := DecodeWindow("bot", raw)
	require.NoError(t, err)
	merged := MergeShadow(w.Shadow)
	require.Equal(t, *c, *merged.Chat)
	mv := MergeVersion("p1", w.Versions["p1"])
	require.Equal(t, p1.LLM.PromptTokens, mv.LLM.PromptTokens)
	require.Equal(t, p1.LLM.CompletionTokens, mv.LLM.CompletionTokens)
	// A window since a later position holds nothing of it.
	later := w.Since(w.Position())
	require.Zero(t, later.Shadow.Chat.Pairs)
	require.Zero(t, later.Versions["p1"].LLM.Answers)
}

// TestChatMalformedUpstreams: every way an upstream can answer badly is
// counted against the version and answered without a crash; a candidate's
// failure before its stream starts is answered by stable.
func TestChatMalformedUpstreams(t *testing.T) {
	t.Parallel()
	event := func(s string) string { return "data: " + s + "\n\n" }
	okChunk := event(`{"choices":[{"delta":{"content":"hi"}}]}`)
	tests := []struct {
		name      string
		stream    bool
		ct        string
		body      string
		status    int
		wantCode  int // what the client gets
		wantError bool
	}{
		{"whole: not JSON", false, "application/json", "<html>oops", 200, 502, true},
		{"whole: no choices", false, "application/json", `{"object":"chat.completion"}`, 200, 502, true},
		{"whole: empty choices", false, "application/json", `{"choices":[]}`, 200, 502, true},
		{"whole: choice without message", false, "application/json", `{"choices":[{}]}`, 200, 502, true},
		{"whole: negative usage", false, "application/json", `{"choices":[{"message":{"content":"x"}}],"usage":{"prompt_tokens":-1,"completion_tokens":2}}`, 200, 502, true},
		{"whole: usage without counts", false, "application/json", `{"choices":[{"message":{"content":"x"}}],"usage":{}}`, 200, 502, true},
		{"whole: 500 passes through", false, "application/json", `{"error":{}}`, 500, 500, true},
		{"whole: 400 passes through", false, "application/json", `{"error":{"message":"bad"}}`, 400, 400, false},
		{"stream: chunk not JSON", true, "text/event-stream", okChunk + event("{oops") + event("[DONE]"), 200, 200, true},
		{"stream: no [DONE]", true, "text/event-stream", okChunk, 200, 200, true},
		{"stream: unterminated event", true, "text/event-stream", okChunk + "data: {\"choi", 200, 200, true},
		{"stream: negative usage", true, "text/event-stream", okChunk + event(`{"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":-3}}`) + event("[DONE]"), 200, 200, true},
		{"stream: 503 passes through", true, "application/json", `{"error":{}}`, 503, 503, true},
		{"stream: ignored, whole answer", true, "application/json", `{"choices":[{"message":{"content":"x"}}]}`, 200, 200, false},
		{"stream: ignored, garbage", true, "application/json", `nope`, 200, 502, true},
		{"stream: fine", true, "text/event-stream", okChunk + event("[DONE]"), 200, 200, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				w.Header().Set("Content-Type", tc.ct)
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, tc.body)
			}))
			t.Cleanup(up.Close)
			b := setup(t, Options{})
			require.NoError(t, b.gw.SetRoutes(context.Background(), "bot", RouteTable{Stable: Backend{Version: "p1", URL: up.URL}, Mode: ModeStable}))
			resp, body := postChat(t, b.srv.URL, chatBody("bot", "hi", tc.stream))
			require.Equal(t, tc.wantCode, resp.StatusCode, string(body))
			st := b.gw.Stats("bot", "p1", Mark{})
			require.Equal(t, uint64(1), st.Requests)
			if tc.wantError {
				require.Equal(t, uint64(1), st.Errors)
				require.Nil(t, st.LLM, "a failed answer measures no tokens")
			} else {
				require.Zero(t, st.Errors)
			}
			if tc.wantCode == 502 {
				require.Contains(t, string(body), "upstream_unavailable")
				require.NotContains(t, string(body), up.URL, "the client must not learn where the model server listens")
			}
		})
	}
}

// TestChatStreamCandidateFallsBack: a candidate that fails before its
// stream starts is the candidate's error, and stable streams the answer.
func TestChatStreamCandidateFallsBack(t *testing.T) {
	t.Parallel()
	prod := httptest.NewServer(scripted.New(scripted.Script{Default: "stable says hello"}))
	t.Cleanup(prod.Close)
	cand := httptest.NewServer(scripted.New(scripted.Script{Answers: []scripted.Answer{{Match: "", Status: 503}}}))
	t.Cleanup(cand.Close)
	b := setup(t, Options{})
	require.NoError(t, b.gw.SetRoutes(context.Background(), "bot", RouteTable{
		Stable: Backend{Version: "p1", URL: prod.URL}, Candidate: &Backend{Version: "p2", URL: cand.URL},
		CandidateWeight: 100, Mode: ModeCanary}))
	resp, body := postChat(t, b.srv.URL, chatBody("bot", "hi", true))
	require.Equal(t, 200, resp.StatusCode)
	require.Equal(t, "p1", resp.Header.Get("X-Modelgate-Version"))
	require.Equal(t, "p2", resp.Header.Get("X-Modelgate-Fallback"))
	require.Equal(t, "stable says hello", streamText(t, body))
	c := b.gw.Stats("bot", "p2", Mark{})
	require.Equal(t, uint64(1), c.Errors)
	require.Equal(t, uint64(1), c.Fallbacks)
	s := b.gw.Stats("bot", "p1", Mark{})
	require.Equal(t, uint64(1), s.LLM.Streams)
	// scripted streams a word per chunk and reports usage in the last one.
	require.Equal(t, uint64(10), s.LLM.CompletionTokens)
}

// TestChatStreamWithoutUsageCountsChunks: with no usage in any chunk the
// completion tokens are the chunks that carried content, and prompt tokens
// are unknown (not zero per answer: the answer is left out of that mean).
func TestChatStreamWithoutUsageCountsChunks(t *testing.T) {
	t.Parallel()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
		fmt.Fprint(w, "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\"}}]}\n\n") // role only: no token
		for _, w2 := range []string{"one ", "two ", "three"} {
			fmt.Fprintf(w, "data: {\"choices\":[{\"delta\":{\"content\":%q}}]}\r\n\r\n", w2)
		}
		fmt.Fprint(w, ": a comment\n\n")
		fmt.Fprint(w, "data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n")
	}))
	t.Cleanup(up.Close)
	b := setup(t, Options{})
	require.NoError(t, b.gw.SetRoutes(context.Background(), "bot", RouteTable{Stable: Backend{Version: "p1", URL: up.URL}, Mode: ModeStable}))
	resp, body := postChat(t, b.srv.URL, chatBody("bot", "count", true))
	require.Equal(t, 200, resp.StatusCode)
	require.Contains(t, string(body), ": a comment", "events pass through unchanged")
	st := b.gw.Stats("bot", "p1", Mark{})
	require.Zero(t, st.Errors)
	require.Equal(t, uint64(3), st.LLM.CompletionTokens)
	require.Zero(t, st.LLM.UsageReported)
	require.Zero(t, st.LLM.PromptTokensPerAnswer)
}

// TestChatStreamClientLeaves: a client that hangs up mid-stream is not
// the version's error, and the upstream call ends with it.
func TestChatStreamClientLeaves(t *testing.T) {
	t.Parallel()
	ended := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "data: {\"choices\":[{\"delta\":{\"content\":\"first \"}}]}\n\n")
		w.(http.Flusher).Flush()
		<-r.Context().Done() // the gateway cancels its call when the client leaves
		close(ended)
	}))
	t.Cleanup(up.Close)
	b := setup(t, Options{})
	require.NoError(t, b.gw.SetRoutes(context.Background(), "bot", RouteTable{Stable: Backend{Version: "p1", URL: up.URL}, Mode: ModeStable}))
	resp, err := http.Post(b.srv.URL+"/v1/chat/completions", "application/json", strings.NewReader(chatBody("bot", "hi", true)))
	require.NoError(t, err)
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	require.NoError(t, err)
	require.Contains(t, line, "first")
	resp.Body.Close()
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	select {
	case <-ended:
	case <-time.After(5 * time.Second):
		t.Fatal("the upstream call outlived the client")
	}
	require.Eventually(t, func() bool { return b.gw.Stats("bot", "p1", Mark{}).Requests == 1 }, 5*time.Second, 10*time.Millisecond)
	st := b.gw.Stats("bot", "p1", Mark{})
	require.Zero(t, st.Errors, "the client left; the version did not fail")
	require.Nil(t, st.LLM, "an answer cut short measures no tokens")
}

// TestLLMWindowsMerge: several gateways' chat counters add up (tokens,
// answers, pairs, F1 sums) rather than average, and a window claiming
// more F1 values than it recorded is refused.
func TestLLMWindowsMerge(t *testing.T) {
	t.Parallel()
	a := &LLMCounters{Answers: 10, Streams: 4, UsageReported: 10, PromptTokens: 300, CompletionTokens: 100}
	b := &LLMCounters{Answers: 30, Streams: 0, UsageReported: 20, PromptTokens: 400, CompletionTokens: 900}
	for range 10 {
		a.Completion.Add(10)
	}
	for range 30 {
		b.Completion.Add(30)
	}
	a.TTFT.Add(100)
	st := MergeVersion("p1", VersionWindow{Requests: 10, LLM: a}, VersionWindow{Requests: 30, LLM: b}, VersionWindow{Requests: 5})
	require.Equal(t, uint64(40), st.LLM.Answers)
	require.Equal(t, uint64(4), st.LLM.Streams)
	require.InDelta(t, 700.0/30, st.LLM.PromptTokensPerAnswer, 1e-12, "over the 30 answers that reported usage")
	require.InDelta(t, 1000.0/40, st.LLM.CompletionTokensPerAnswer, 1e-12, "not the mean of 10 and 30")
	require.InDelta(t, 30, st.LLM.CompletionTokensP95, 30*0.0625)
	require.InDelta(t, 100, st.LLM.TTFTP95Ms, 100*0.0625)
	require.Nil(t, MergeVersion("p1", VersionWindow{Requests: 5}).LLM, "no chat traffic, no chat stats")

	x := &ChatShadowCounters{Pairs: 2, Exact: 2, Normalised: 2, SumF1: 2, F1Seq: 2, F1: Samples{1, 1}}
	y := &ChatShadowCounters{Pairs: 6, Exact: 0, Normalised: 3, SumF1: 3, F1Seq: 6, F1: Samples{0, 0.5, 0.5, 0.5, 0.5, 1}}
	sum := MergeShadow(ShadowWindow{Compared: 2, Chat: x}, ShadowWindow{Compared: 6, Chat: y}).Chat
	require.Equal(t, uint64(8), sum.Pairs)
	require.InDelta(t, 2.0/8, sum.ExactShare, 1e-12)
	require.InDelta(t, 5.0/8, sum.NormalisedShare, 1e-12)
	require.InDelta(t, 5.0/8, sum.MeanF1, 1e-12)
	require.InDelta(t, 0, sum.MinF1, 0)
	// numpy.quantile([0,.5,.5,.5,.5,1,1,1], .1) = 0 + 0.7·(0.5−0) = 0.35
	require.InDelta(t, 0.35, sum.F1P10, 1e-12)
	require.InDelta(t, 0.5, sum.F1P50, 1e-12)

	raw, _ := json.Marshal(Window{Gateway: "g", Model: "bot", Shadow: ShadowWindow{Chat: &ChatShadowCounters{F1Seq: 1, F1: Samples{1, 1}}}})
	_, err := DecodeWindow("bot", raw)
	require.ErrorContains(t, err, "F1")
}
