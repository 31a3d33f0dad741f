package gateway

import (
	"slices"

	"github.com/modelgate/modelgate/tools/llmeval"
)

// LLMCounters are one version's chat-completion measurements, cumulative
// since the gateway started, like the rest of a VersionWindow: two of one
// gateway subtract (Since) to a window, several gateways' add (Merge).
// Only versions that answered chat requests have them, so a V2 model's
// windows, marks and request path carry nothing more.
type LLMCounters struct {
	Answers       uint64 `json:"answers"`        // chat answers measured (200s that parsed)
	Streams       uint64 `json:"streams"`        // of which streamed (stream: true)
	UsageReported uint64 `json:"usage_reported"` // of which reported usage
	// PromptTokens sums usage.prompt_tokens over the answers that reported
	// usage; CompletionTokens sums usage.completion_tokens, or, for a
	// stream without usage, its chunks that carried content.
	PromptTokens     uint64    `json:"prompt_tokens"`
	CompletionTokens uint64    `json:"completion_tokens"`
	TTFT             Histogram `json:"ttft_ms"`                // streams: request sent to first content chunk
	Completion       Histogram `json:"completion_tokens_hist"` // completion tokens per answer
}

// Since is c's traffic beyond from (nil from: all of it).
func (c *LLMCounters) Since(from *LLMCounters) *LLMCounters {
	if c == nil {
		return nil
	}
	if from == nil || from.Answers > c.Answers {
		out := *c
		return &out
	}
	return &LLMCounters{Answers: c.Answers - from.Answers, Streams: sub(c.Streams, from.Streams),
		UsageReported: sub(c.UsageReported, from.UsageReported), PromptTokens: sub(c.PromptTokens, from.PromptTokens),
		CompletionTokens: sub(c.CompletionTokens, from.CompletionTokens),
		TTFT:             c.TTFT.Since(&from.TTFT), Completion: c.Completion.Since(&from.Completion)}
}

// merge adds o to c.
func (c *LLMCounters) merge(o *LLMCounters) {
	c.Answers += o.Answers
	c.Streams += o.Streams
	c.UsageReported += o.UsageReported
	c.PromptTokens += o.PromptTokens
	c.CompletionTokens += o.CompletionTokens
	c.TTFT.Merge(&o.TTFT)
	c.Completion.Merge(&o.Completion)
}

// LLMStats are one version's chat measurements over a window. Quantiles
// come from the log-linear histograms (within 6.25 %).
type LLMStats struct {
	Answers                   uint64  `json:"answers"`
	Streams                   uint64  `json:"streams"`
	UsageReported             uint64  `json:"usage_reported"`
	PromptTokens              uint64  `json:"prompt_tokens"`
	CompletionTokens          uint64  `json:"completion_tokens"`
	PromptTokensPerAnswer     float64 `json:"prompt_tokens_per_answer"` // over the answers that reported usage
	CompletionTokensPerAnswer float64 `json:"completion_tokens_per_answer"`
	CompletionTokensP95       float64 `json:"completion_tokens_p95"`
	TTFTP50Ms                 float64 `json:"ttft_p50_ms"` // streams only; 0 without any
	TTFTP95Ms                 float64 `json:"ttft_p95_ms"`
}

// Stats summarises the counters (nil stays nil: no chat traffic).
func (c *LLMCounters) Stats() *LLMStats {
	if c == nil {
		return nil
	}
	s := &LLMStats{Answers: c.Answers, Streams: c.Streams, UsageReported: c.UsageReported,
		PromptTokens: c.PromptTokens, CompletionTokens: c.CompletionTokens,
		CompletionTokensP95: c.Completion.Quantile(0.95),
		TTFTP50Ms:           c.TTFT.Quantile(0.50), TTFTP95Ms: c.TTFT.Quantile(0.95)}
	if c.UsageReported > 0 {
		s.PromptTokensPerAnswer = float64(c.PromptTokens) / float64(c.UsageReported)
	}
	if c.Answers > 0 {
		s.CompletionTokensPerAnswer = float64(c.CompletionTokens) / float64(c.Answers)
	}
	return s
}

// recordChat adds one measured chat answer; ttftMs < 0 means none (not a
// stream, or no content came).
func (s *series) recordChat(a chatAnswer, stream bool, ttftMs float64) {
	s.mu.Lock()
	if s.llm == nil {
		s.llm = &LLMCounters{}
	}
	c := s.llm
	c.Answers++
	if stream {
		c.Streams++
	}
	if a.Usage {
		c.UsageReported++
		c.PromptTokens += uint64(a.Prompt)
	}
	c.CompletionTokens += uint64(a.Completion)
	c.Completion.Add(float64(a.Completion))
	if ttftMs >= 0 {
		c.TTFT.Add(ttftMs)
	}
	s.mu.Unlock()
}

// llmCopy is a copy of the chat counters; the caller holds s.mu.
func (s *series) llmCopy() *LLMCounters {
	if s.llm == nil {
		return nil
	}
	c := *s.llm
	return &c
}

// ChatShadowCounters are the shadow comparison of chat answers,
// cumulative: pairs where both production and the candidate answered,
// how many were identical, identical once normalised (llmeval.Normalise:
// case, punctuation and articles aside), the sum of their token F1
// (llmeval.TokenF1, candidate against production), and the most recent
// F1 values (F1Seq ever recorded).
type ChatShadowCounters struct {
	Pairs      uint64  `json:"pairs"`
	Exact      uint64  `json:"exact"`
	Normalised uint64  `json:"normalised"`
	SumF1      float64 `json:"sum_f1"`
	F1Seq      uint64  `json:"f1_seq"`
	F1         Samples `json:"f1,omitempty"`
}

// Since is the comparison beyond from (nil from: all of it).
func (c *ChatShadowCounters) Since(from *ChatShadowCounters) *ChatShadowCounters {
	if c == nil {
		return nil
	}
	if from == nil || from.Pairs > c.Pairs || from.F1Seq > c.F1Seq {
		out := *c
		return &out
	}
	return &ChatShadowCounters{Pairs: c.Pairs - from.Pairs, Exact: sub(c.Exact, from.Exact),
		Normalised: sub(c.Normalised, from.Normalised), SumF1: c.SumF1 - from.SumF1,
		F1Seq: c.F1Seq - from.F1Seq, F1: tail(c.F1, c.F1Seq, from.F1Seq)}
}

// ChatShadowSummary is the chat comparison over a window.
type ChatShadowSummary struct {
	Pairs           uint64  `json:"pairs"`
	ExactShare      float64 `json:"exact_share"`
	NormalisedShare float64 `json:"normalised_share"`
	MeanF1          float64 `json:"mean_f1"`
	// Quantiles of the window's most recent 32,768 F1 values (numpy's
	// linear interpolation).
	MinF1 float64 `json:"min_f1"`
	F1P10 float64 `json:"f1_p10"`
	F1P50 float64 `json:"f1_p50"`
}

// summarise merges comparisons (of one gateway's window or several
// gateways') into the summary; nil when none has chat pairs.
func summariseChat(cs ...*ChatShadowCounters) *ChatShadowSummary {
	var s ChatShadowSummary
	var sum float64
	var f1 []float64
	seen := false
	for _, c := range cs {
		if c == nil {
			continue
		}
		seen = true
		s.Pairs += c.Pairs
		s.ExactShare += float64(c.Exact)
		s.NormalisedShare += float64(c.Normalised)
		sum += c.SumF1
		f1 = append(f1, c.F1...)
	}
	if !seen {
		return nil
	}
	if s.Pairs > 0 {
		n := float64(s.Pairs)
		s.ExactShare, s.NormalisedShare, s.MeanF1 = s.ExactShare/n, s.NormalisedShare/n, sum/n
	} else {
		s.ExactShare, s.NormalisedShare = 0, 0
	}
	if len(f1) > 0 {
		slices.Sort(f1)
		s.MinF1, s.F1P10, s.F1P50 = f1[0], Quantile(f1, 0.10), Quantile(f1, 0.50)
	}
	return &s
}

// chatShadow is the live form of ChatShadowCounters, under the shadow
// series' lock.
type chatShadow struct {
	pairs, exact, normalised uint64
	sumF1                    float64
	f1                       ring
}

// compareChat records one pair of chat answers.
func (s *shadowSeries) compareChat(primary, shadow string) {
	f1 := llmeval.TokenF1(shadow, primary)
	exact := primary == shadow
	norm := exact || llmeval.Normalise(primary) == llmeval.Normalise(shadow)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.chat == nil {
		s.chat = &chatShadow{}
	}
	c := s.chat
	c.pairs++
	if exact {
		c.exact++
	}
	if norm {
		c.normalised++
	}
	c.sumF1 += f1
	c.f1.add(f1)
}

// chatCounters copies the comparison; the caller holds s.mu. withSamples
// adds the F1 values recorded after seq (a window carries them, a mark
// does not).
func (s *shadowSeries) chatCounters(withSamples bool, seq uint64) *ChatShadowCounters {
	if s.chat == nil {
		return nil
	}
	c := s.chat
	out := &ChatShadowCounters{Pairs: c.pairs, Exact: c.exact, Normalised: c.normalised, SumF1: c.sumF1, F1Seq: c.f1.seq}
	if withSamples {
		out.F1 = c.f1.since(seq)
	}
	return out
}
