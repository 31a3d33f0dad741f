// Package scripted is an OpenAI-compatible chat-completions server that
// answers from rules: the LLM demo's model (modelgate demo --llm) and the
// end-to-end tests' one. It decodes requests with go-openai's types, can
// be slow, fail, answer malformed JSON, stream server-sent events, and
// play a judge whose scores vary from call to call.
package scripted

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	openai "github.com/sashabaranov/go-openai"
)

// Answer is one rule: a request to Model whose last user message contains
// Match gets Text (Refusal for an API refusal). The first rule that
// matches wins.
type Answer struct {
	Model   string
	Match   string
	Text    string
	Refusal string
	Delay   time.Duration // before answering
	// FailFirst answers the first N matching requests with 503, to
	// exercise retries; Status answers every one with that status.
	FailFirst int
	Status    int
	Raw       string // sent as the body, verbatim (malformed answers)
	Tokens    [2]int // prompt, completion; default 40, 10
}

// Judge scores answers: a judge request (to JudgeModel) whose answer
// contains Match gets the next of Scores, cycling, as {"score": s}.
type Judge struct {
	Match  string
	Scores []float64
	Raw    string // answered instead of a score (a judge that talks)
}

// Script is the server's rules.
type Script struct {
	Answers    []Answer
	JudgeModel string
	Judges     []Judge
	// Default answers requests no rule matches.
	Default string
}

// Server serves a Script. Its zero value is not usable; use New.
type Server struct {
	s     Script
	mu    sync.Mutex
	seen  map[int]int // answer rule -> requests matched
	judge map[int]int // judge rule -> calls
	calls int
}

// New returns a handler for the script.
func New(s Script) *Server {
	return &Server{s: s, seen: map[int]int{}, judge: map[int]int{}}
}

// Calls is the number of chat requests served.
func (s *Server) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/chat/completions") {
		http.Error(w, `{"error":{"message":"not found"}}`, http.StatusNotFound)
		return
	}
	var req openai.ChatCompletionRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 4<<20)).Decode(&req); err != nil {
		http.Error(w, `{"error":{"message":"bad request"}}`, http.StatusBadRequest)
		return
	}
	last, all := "", ""
	for _, m := range req.Messages {
		all += m.Content + "\n"
		if m.Role == openai.ChatMessageRoleUser {
			last = m.Content
		}
	}
	s.mu.Lock()
	s.calls++
	a, ok := s.pick(req.Model, last)
	s.mu.Unlock()
	if !ok {
		a = Answer{Text: s.s.Default}
	}
	if a.Delay > 0 {
		select {
		case <-time.After(a.Delay):
		case <-r.Context().Done():
			return
		}
	}
	if a.Status != 0 {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(a.Status)
		fmt.Fprintf(w, `{"error":{"message":"scripted status %d"}}`, a.Status)
		return
	}
	if a.Raw != "" {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, a.Raw)
		return
	}
	pt, ct := a.Tokens[0], a.Tokens[1]
	if pt == 0 && ct == 0 {
		pt, ct = 40, 10
	}
	if req.Stream {
		stream(w, req.Model, a.Text, pt, ct)
		return
	}
	resp := openai.ChatCompletionResponse{ID: "chatcmpl-scripted", Object: "chat.completion", Created: 1, Model: req.Model,
		Choices: []openai.ChatCompletionChoice{{Message: openai.ChatCompletionMessage{Role: openai.ChatMessageRoleAssistant, Content: a.Text, Refusal: a.Refusal},
			FinishReason: openai.FinishReasonStop}},
		Usage: openai.Usage{PromptTokens: pt, CompletionTokens: ct, TotalTokens: pt + ct}}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(resp)
}

// pick finds the rule for a request; the caller holds s.mu.
func (s *Server) pick(model, last string) (Answer, bool) {
	if model == s.s.JudgeModel && s.s.JudgeModel != "" {
		for i, j := range s.s.Judges {
			if strings.Contains(last, j.Match) {
				n := s.judge[i]
				s.judge[i]++
				if j.Raw != "" {
					return Answer{Text: j.Raw, Tokens: [2]int{60, 8}}, true
				}
				if len(j.Scores) == 0 {
					break
				}
				return Answer{Text: fmt.Sprintf(`{"score": %g, "reason": "scripted"}`, j.Scores[n%len(j.Scores)]), Tokens: [2]int{60, 8}}, true
			}
		}
		return Answer{Text: `{"score": 1, "reason": "scripted default"}`, Tokens: [2]int{60, 8}}, true
	}
	for i, a := range s.s.Answers {
		if (a.Model == "" || a.Model == model) && strings.Contains(last, a.Match) {
			n := s.seen[i]
			s.seen[i]++
			if n < a.FailFirst {
				return Answer{Status: http.StatusServiceUnavailable}, true
			}
			return a, true
		}
	}
	return Answer{}, false
}

// stream writes the answer as server-sent events, a word per chunk,
// flushing each so that a client sees the first token before the last.
func stream(w http.ResponseWriter, model, text string, pt, ct int) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	fl, _ := w.(http.Flusher)
	words := strings.SplitAfter(text, " ")
	for i, word := range words {
		ch := openai.ChatCompletionStreamResponse{ID: "chatcmpl-scripted", Object: "chat.completion.chunk", Created: 1, Model: model,
			Choices: []openai.ChatCompletionStreamChoice{{Delta: openai.ChatCompletionStreamChoiceDelta{Content: word}}}}
		if i == len(words)-1 {
			ch.Choices[0].FinishReason = openai.FinishReasonStop
			ch.Usage = &openai.Usage{PromptTokens: pt, CompletionTokens: ct, TotalTokens: pt + ct}
		}
		b, _ := json.Marshal(ch)
		fmt.Fprintf(w, "data: %s\n\n", b)
		if fl != nil {
			fl.Flush()
		}
	}
	_, _ = io.WriteString(w, "data: [DONE]\n\n")
	if fl != nil {
		fl.Flush()
	}
}
