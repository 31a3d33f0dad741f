package gateway

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// FuzzSSEStream feeds any upstream body to the stream reader and tally:
// nothing panics, the events' bytes put together are the body unchanged
// (the gateway forwards exactly what it read), and a tally that accepts
// the stream reports no negative counts.
func FuzzSSEStream(f *testing.F) {
	f.Add([]byte("data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\ndata: [DONE]\n\n"))
	f.Add([]byte("data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":1}}\r\n\r\ndata: [DONE]\r\n\r\n"))
	f.Add([]byte(": comment\n\nevent: x\ndata: a\ndata: b\n\n"))
	f.Add([]byte("data: {\"choi"))
	f.Add([]byte("\n\n\n"))
	f.Add([]byte("data: {\"choices\":[{\"delta\":{\"refusal\":\"no\"}}],\"usage\":{\"prompt_tokens\":-1,\"completion_tokens\":0}}\n\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		rd := newSSEReader(bytes.NewReader(body))
		var out bytes.Buffer
		var tally streamTally
		for i := 0; ; i++ {
			raw, data, err := rd.next()
			out.Write(raw)
			tally.observe(data)
			if err != nil {
				if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && len(body) <= maxEventBytes {
					t.Fatalf("unexpected error %v", err)
				}
				break
			}
			if i > len(body)+1 {
				t.Fatal("the reader does not advance")
			}
		}
		if len(body) <= maxEventBytes && !bytes.Equal(out.Bytes(), body) {
			t.Fatalf("forwarded %q, read %q", out.Bytes(), body)
		}
		if a, err := tally.answer(); err == nil && (a.Prompt < 0 || a.Completion < 0 || len(a.Text) > maxChatText) {
			t.Fatalf("accepted answer with %+v", a)
		}
	})
}

// FuzzChatAnswer: any 200 body either parses into non-negative counts or
// is an error naming a malformed chat response.
func FuzzChatAnswer(f *testing.F) {
	f.Add([]byte(`{"choices":[{"message":{"role":"assistant","content":"x"}}],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}`))
	f.Add([]byte(`{"choices":[{"message":{"content":null,"refusal":"no"}}]}`))
	f.Add([]byte(`{"choices":[]}`))
	f.Add([]byte(`{"choices":[{"message":{"content":"x"}}],"usage":{"prompt_tokens":-5,"completion_tokens":2}}`))
	f.Add([]byte(`<html>`))
	f.Fuzz(func(t *testing.T, body []byte) {
		a, err := parseChatAnswer(body)
		if err != nil {
			if !bytes.HasPrefix([]byte(err.Error()), []byte("malformed chat response")) {
				t.Fatalf("error %q does not say what failed", err)
			}
			return
		}
		if a.Prompt < 0 || a.Completion < 0 || len(a.Text) > maxChatText {
			t.Fatalf("accepted %+v", a)
		}
	})
}
