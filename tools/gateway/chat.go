package gateway

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// chatRequest is what the gateway reads of a chat-completions request to
// route it: the model names the route, stream chooses the pass-through.
type chatRequest struct {
	Model  string `json:"model"`
	Stream bool   `json:"stream"`
}

// maxChatText bounds the answer text kept for the shadow comparison: a
// runaway generation must not grow the gateway's memory without end. Text
// past it is cut (both sides alike, so an identical pair stays identical).
const maxChatText = 64 << 10

// chatAnswer is what the gateway measures of one chat answer.
type chatAnswer struct {
	Text       string // the first choice's content (or its refusal), at most maxChatText bytes
	Prompt     int    // usage.prompt_tokens
	Completion int    // usage.completion_tokens, or completion chunks counted (streams without usage)
	Usage      bool   // the answer reported usage; false = Completion counts chunks, Prompt unknown
}

type chatUsage struct {
	PromptTokens     *int `json:"prompt_tokens"`
	CompletionTokens *int `json:"completion_tokens"`
}

func (u *chatUsage) check() error {
	if u.PromptTokens == nil || u.CompletionTokens == nil {
		return errors.New("usage without prompt_tokens and completion_tokens")
	}
	if *u.PromptTokens < 0 || *u.CompletionTokens < 0 {
		return fmt.Errorf("negative token counts in usage (%d, %d)", *u.PromptTokens, *u.CompletionTokens)
	}
	return nil
}

type chatMessage struct {
	Content *string `json:"content"`
	Refusal string  `json:"refusal"`
}

func (m chatMessage) text() string {
	if m.Content != nil && *m.Content != "" {
		return *m.Content
	}
	return m.Refusal
}

// parseChatAnswer reads a non-streamed chat completion. A 200 whose body
// is not one (not JSON, no choices, a choice without a message, usage
// with negative counts) is the version's fault, like a malformed V2
// answer.
func parseChatAnswer(body []byte) (chatAnswer, error) {
	var r struct {
		Choices *[]struct {
			Message *chatMessage `json:"message"`
		} `json:"choices"`
		Usage *chatUsage `json:"usage"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return chatAnswer{}, fmt.Errorf("malformed chat response: %w", err)
	}
	if r.Choices == nil || len(*r.Choices) == 0 {
		return chatAnswer{}, errors.New("malformed chat response: no choices")
	}
	first := (*r.Choices)[0]
	if first.Message == nil {
		return chatAnswer{}, errors.New("malformed chat response: choices[0] has no message")
	}
	a := chatAnswer{Text: cut(first.Message.text())}
	if r.Usage != nil {
		if err := r.Usage.check(); err != nil {
			return chatAnswer{}, fmt.Errorf("malformed chat response: %w", err)
		}
		a.Usage, a.Prompt, a.Completion = true, *r.Usage.PromptTokens, *r.Usage.CompletionTokens
	}
	return a, nil
}

func cut(s string) string {
	if len(s) > maxChatText {
		return s[:maxChatText]
	}
	return s
}

// maxEventBytes bounds one server-sent event: a stream whose event grows
// past it is cut off as malformed rather than buffered without end.
const maxEventBytes = 1 << 20

// sseReader splits a text/event-stream body into events (the lines up to
// and including a blank line), keeping each event's bytes exactly as they
// came so that the gateway forwards the stream unchanged.
type sseReader struct {
	br  *bufio.Reader
	raw []byte // the current event's bytes, reused
}

func newSSEReader(r io.Reader) *sseReader { return &sseReader{br: bufio.NewReaderSize(r, 4096)} }

// next returns the next event's bytes and its data (the data fields'
// values joined by "\n", per the HTML standard's event-stream
// interpretation). At the end of the body it returns io.EOF with no
// bytes, or the bytes of an unterminated last event with
// io.ErrUnexpectedEOF. Both slices are valid until the next call.
func (s *sseReader) next() (raw, data []byte, err error) {
	s.raw = s.raw[:0]
	var dataBuf []byte
	hasData := false
	for {
		line, err := s.br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A long line: keep reading it in pieces.
			s.raw = append(s.raw, line...)
			if len(s.raw) > maxEventBytes {
				return s.raw, nil, fmt.Errorf("server-sent event over %d bytes", maxEventBytes)
			}
			continue
		}
		start := len(s.raw)
		s.raw = append(s.raw, line...)
		if len(s.raw) > maxEventBytes {
			return s.raw, nil, fmt.Errorf("server-sent event over %d bytes", maxEventBytes)
		}
		if err != nil {
			if err == io.EOF {
				if len(s.raw) == 0 {
					return nil, nil, io.EOF
				}
				return s.raw, dataBuf, io.ErrUnexpectedEOF
			}
			return s.raw, dataBuf, err
		}
		// The whole line, from where it started in raw (a long line began
		// before start).
		full := s.raw[lineStart(s.raw, start):]
		full = bytes.TrimSuffix(bytes.TrimSuffix(full, []byte("\n")), []byte("\r"))
		if len(full) == 0 {
			return s.raw, dataBuf, nil // a blank line ends the event
		}
		if v, ok := bytes.CutPrefix(full, []byte("data:")); ok {
			v = bytes.TrimPrefix(v, []byte(" "))
			if hasData {
				dataBuf = append(dataBuf, '\n')
			}
			dataBuf = append(dataBuf, v...)
			hasData = true
		}
	}
}

// lineStart is where the line that includes raw[start:] begins: after
// the previous '\n' (a line read in pieces spans several appends).
func lineStart(raw []byte, start int) int {
	if i := bytes.LastIndexByte(raw[:start], '\n'); i >= 0 {
		return i + 1
	}
	return 0
}

// streamTally measures a streamed chat answer from its chunks.
type streamTally struct {
	text       strings.Builder
	chunks     int // chunks that carried content: the completion count when no usage comes
	usage      *chatUsage
	done       bool  // data: [DONE] seen
	malformed  error // the first chunk that was not a chat chunk
	firstToken bool  // a chunk with content has been seen
}

type streamChunk struct {
	Choices []struct {
		Delta struct {
			Content string `json:"content"`
			Refusal string `json:"refusal"`
		} `json:"delta"`
	} `json:"choices"`
	Usage *chatUsage `json:"usage"`
}

// observe reads one event's data and reports whether it carried the
// answer's first content (the time-to-first-token moment).
func (t *streamTally) observe(data []byte) (first bool) {
	if t.malformed != nil || t.done {
		return false
	}
	if len(data) == 0 {
		return false // an event without data (a comment, a retry hint)
	}
	if string(data) == "[DONE]" {
		t.done = true
		return false
	}
	var c streamChunk
	if err := json.Unmarshal(data, &c); err != nil {
		t.malformed = fmt.Errorf("malformed chat stream: chunk is not JSON: %w", err)
		return false
	}
	if c.Usage != nil {
		if err := c.Usage.check(); err != nil {
			t.malformed = fmt.Errorf("malformed chat stream: %w", err)
			return false
		}
		t.usage = c.Usage
	}
	if len(c.Choices) == 0 {
		return false // the usage-only chunk of stream_options.include_usage
	}
	d := c.Choices[0].Delta
	piece := d.Content
	if piece == "" {
		piece = d.Refusal
	}
	if piece == "" {
		return false // the role-only first chunk, or the finish chunk
	}
	t.chunks++
	if room := maxChatText - t.text.Len(); room > 0 {
		t.text.WriteString(piece[:min(len(piece), room)])
	}
	if !t.firstToken {
		t.firstToken = true
		return true
	}
	return false
}

// answer is the stream's measurements, or why it is the version's fault:
// a malformed chunk, or a stream that ended without [DONE].
func (t *streamTally) answer() (chatAnswer, error) {
	if t.malformed != nil {
		return chatAnswer{}, t.malformed
	}
	if !t.done {
		return chatAnswer{}, errors.New("malformed chat stream: it ended without data: [DONE]")
	}
	a := chatAnswer{Text: t.text.String(), Completion: t.chunks}
	if t.usage != nil {
		a.Usage, a.Prompt, a.Completion = true, *t.usage.PromptTokens, *t.usage.CompletionTokens
	}
	return a, nil
}
