// Package llmtest is an OpenAI-compatible chat-completions server for tests:
// it decodes each request with go-openai's types, keeps every raw body (so a
// test can prove what left the process), and answers from a script of
// completions, tool calls, errors and delays. It is a real HTTP server, so
// the real client code runs: encoding, retries, timeouts, decoding.
package llmtest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	openai "github.com/sashabaranov/go-openai"
)

// Reply is one scripted answer.
type Reply struct {
	Status     int               // default 200
	Header     map[string]string // e.g. Retry-After
	Raw        string            // sent verbatim when set (malformed JSON)
	Completion *openai.ChatCompletionResponse
	Delay      time.Duration // sleep before answering (timeouts)
}

// Responder builds the reply to one decoded request.
type Responder func(req openai.ChatCompletionRequest) Reply

// Server is the fake endpoint.
type Server struct {
	*httptest.Server
	mu       sync.Mutex
	script   []Responder
	fallback Responder
	bodies   []string
	requests []openai.ChatCompletionRequest
}

// New starts a server answering with script in order, then with the last
// responder for every further request. It is closed with the test.
func New(t testing.TB, script ...Responder) *Server {
	s := &Server{script: script}
	if len(script) > 0 {
		s.fallback = script[len(script)-1]
	} else {
		s.fallback = Text("ok")
	}
	s.Server = httptest.NewServer(http.HandlerFunc(s.handle))
	t.Cleanup(s.Close)
	return s
}

// BaseURL is what the client's --llm-base-url would be.
func (s *Server) BaseURL() string { return s.URL + "/v1" }

func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v1/chat/completions" {
		http.Error(w, `{"error":{"message":"not found"}}`, http.StatusNotFound)
		return
	}
	b, _ := io.ReadAll(r.Body)
	var req openai.ChatCompletionRequest
	if err := json.Unmarshal(b, &req); err != nil {
		http.Error(w, `{"error":{"message":"bad request"}}`, http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.bodies = append(s.bodies, string(b))
	s.requests = append(s.requests, req)
	next := s.fallback
	if len(s.script) > 0 {
		next, s.script = s.script[0], s.script[1:]
	}
	s.mu.Unlock()
	rep := next(req)
	if rep.Delay > 0 {
		select {
		case <-time.After(rep.Delay):
		case <-r.Context().Done():
			return
		}
	}
	for k, v := range rep.Header {
		w.Header().Set(k, v)
	}
	w.Header().Set("Content-Type", "application/json")
	status := rep.Status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	switch {
	case rep.Raw != "":
		_, _ = io.WriteString(w, rep.Raw)
	case rep.Completion != nil:
		_ = json.NewEncoder(w).Encode(rep.Completion)
	default:
		fmt.Fprintf(w, `{"error":{"message":"scripted status %d"}}`, status)
	}
}

// Bodies returns every request body received, in order.
func (s *Server) Bodies() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.bodies...)
}

// Requests returns every decoded request, in order.
func (s *Server) Requests() []openai.ChatCompletionRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]openai.ChatCompletionRequest(nil), s.requests...)
}

func completion(msg openai.ChatCompletionMessage, finish openai.FinishReason) *openai.ChatCompletionResponse {
	return &openai.ChatCompletionResponse{
		ID: "chatcmpl-test", Object: "chat.completion", Created: 1, Model: "test-model",
		Choices: []openai.ChatCompletionChoice{{Index: 0, Message: msg, FinishReason: finish}},
		Usage:   openai.Usage{PromptTokens: 100, CompletionTokens: 20, TotalTokens: 120},
	}
}

// Text answers with a plain completion.
func Text(s string) Responder {
	return func(openai.ChatCompletionRequest) Reply {
		return Reply{Completion: completion(openai.ChatCompletionMessage{Role: openai.ChatMessageRoleAssistant, Content: s}, openai.FinishReasonStop)}
	}
}

// Refusal answers with an empty content and a refusal, as OpenAI does.
func Refusal(s string) Responder {
	return func(openai.ChatCompletionRequest) Reply {
		return Reply{Completion: completion(openai.ChatCompletionMessage{Role: openai.ChatMessageRoleAssistant, Refusal: s}, openai.FinishReasonStop)}
	}
}

// Call answers with one tool call.
func Call(name, args string) Responder {
	return func(req openai.ChatCompletionRequest) Reply {
		id := "call_" + strconv.Itoa(len(req.Messages))
		return Reply{Completion: completion(openai.ChatCompletionMessage{Role: openai.ChatMessageRoleAssistant,
			ToolCalls: []openai.ToolCall{{ID: id, Type: openai.ToolTypeFunction, Function: openai.FunctionCall{Name: name, Arguments: args}}}},
			openai.FinishReasonToolCalls)}
	}
}

// Status answers with an error status and optional Retry-After seconds.
func Status(code int, retryAfter string) Responder {
	return func(openai.ChatCompletionRequest) Reply {
		r := Reply{Status: code}
		if retryAfter != "" {
			r.Header = map[string]string{"Retry-After": retryAfter}
		}
		return r
	}
}

// Raw answers 200 with a body as given (malformed JSON, odd shapes).
func Raw(body string) Responder {
	return func(openai.ChatCompletionRequest) Reply { return Reply{Raw: body} }
}

// Slow answers after d, then as r.
func Slow(d time.Duration, r Responder) Responder {
	return func(req openai.ChatCompletionRequest) Reply {
		rep := r(req)
		rep.Delay = d
		return rep
	}
}
