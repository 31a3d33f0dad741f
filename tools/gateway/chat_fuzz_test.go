package gateway

import (
	"bytes"
	"encoding/json"
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

// FuzzDecodeChatWindow: a published window's chat parts (from another
// gateway, through the store) decode into counters every reader can use
// without a panic, never with more F1 values than recorded.
func FuzzDecodeChatWindow(f *testing.F) {
	var s series
	s.recordChat(chatAnswer{Text: "x", Prompt: 3, Completion: 2, Usage: true}, true, 12)
	var sh shadowSeries
	sh.compareChat("a b c", "a b")
	w := Window{Gateway: "g", Model: "m", Versions: map[string]VersionWindow{"v1": {Requests: 1, LLM: s.llmCopy()}},
		Shadow: ShadowWindow{Compared: 1, Chat: sh.chatCounters(true, 0)}}
	good, err := json.Marshal(w)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{"gateway":"g","model":"m","shadow":{"chat":{"pairs":1,"f1_seq":0,"f1":"AAAAAAAA8D8="}}}`))
	f.Add([]byte(`{"gateway":"g","model":"m","versions":{"v1":{"llm":{"answers":1,"ttft_ms":{"sum":1,"buckets":[[3,1]]}}}}}`))
	f.Add([]byte(`{"gateway":"g","model":"m","versions":{"v1":{"llm":{"answers":0,"usage_reported":5,"prompt_tokens":9}}}}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		w, err := DecodeWindow("m", raw)
		if err != nil {
			return
		}
		if c := w.Shadow.Chat; c != nil && uint64(len(c.F1)) > c.F1Seq {
			t.Fatalf("accepted %d F1 values with f1_seq %d", len(c.F1), c.F1Seq)
		}
		_ = MergeShadow(w.Shadow, w.Shadow.Since(w.Position().Shadow))
		for v, vw := range w.Versions {
			_ = MergeVersion(v, vw, vw.Since(w.Position().Versions[v]))
			_ = vw.LLM.Stats()
		}
	})
}
