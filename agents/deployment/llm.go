package deployment

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/modelgate/modelgate/agents"
	"github.com/modelgate/modelgate/internal/blob"
	"github.com/modelgate/modelgate/internal/config"
	"github.com/modelgate/modelgate/tools/gateway"
	"github.com/modelgate/modelgate/tools/llmeval"
)

// A task: llm rollout deploys prompt versions. Each version's backend is
// built from its prompt file (endpoint, model, system prompt, parameters)
// read from the path the coordinator recorded (the candidate's snapshot,
// the registry's artifact for production) and used only when its bytes
// hash to the digest that was approved: the route serves what was judged,
// whatever happened to the file since. The gateway then applies the
// prompt to every chat request for the route, calls only endpoints on its
// allowlist, and measures what the checks below judge.

// llmCandidateTimeoutMs bounds a call to a candidate prompt when
// deploy.candidate_timeout is not set: a generation takes seconds, where
// the gateway's 2 s default for model servers would fail a healthy one.
// For a stream it bounds the wait for each event.
const llmCandidateTimeoutMs = 30_000

func isLLM(task agents.Task) bool { return task.Config != nil && task.Config.Task == "llm" }

// candidateFor is where the candidate will be served.
func (a *Agent) candidateFor(ctx context.Context, task agents.Task) (Backend, error) {
	if !isLLM(task) {
		return candidateBackend(task)
	}
	c := task.Candidate
	b, err := a.promptBackend(ctx, c.Version, c.ArtifactPath, c.Digest)
	if err != nil {
		return Backend{}, fmt.Errorf("candidate prompt: %w", err)
	}
	return b, nil
}

// stableFor is where production is served.
func (a *Agent) stableFor(ctx context.Context, task agents.Task) (Backend, error) {
	if !isLLM(task) {
		return a.stableBackend(task)
	}
	p := task.Production
	b, err := a.promptBackend(ctx, p.Version, p.ArtifactPath, p.Digest)
	if err != nil {
		return Backend{}, fmt.Errorf("production prompt %s of %s: %w", p.Version, task.Model, err)
	}
	return b, nil
}

// BlobOpener reads content-addressed blobs; internal/blob's FS satisfies it.
type BlobOpener interface {
	Open(ctx context.Context, digest string) (io.ReadCloser, blob.Info, error)
}

// maxPromptBytes bounds a prompt file read for a rollout.
const maxPromptBytes = 1 << 20

// readApproved reads the bytes of an approved prompt by its digest: from
// the blob store when there is one and it holds the digest, else from the
// path the coordinator recorded (run --local has no blob store). Either
// way the caller checks the bytes against the digest.
func (a *Agent) readApproved(ctx context.Context, path, digest string) ([]byte, error) {
	if a.opts.Blobs != nil {
		rc, _, err := a.opts.Blobs.Open(ctx, digest)
		if err == nil {
			defer rc.Close()
			return io.ReadAll(io.LimitReader(rc, maxPromptBytes+1))
		}
		if !errors.Is(err, blob.ErrNotFound) {
			return nil, err
		}
	}
	if path == "" {
		return nil, errors.New("no recorded prompt file to deploy")
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxPromptBytes+1))
}

// promptBackend reads an approved prompt and makes its backend.
func (a *Agent) promptBackend(ctx context.Context, version, path, digest string) (Backend, error) {
	if digest == "" {
		return Backend{}, errors.New("no recorded prompt digest to deploy")
	}
	data, err := a.readApproved(ctx, path, digest)
	if err != nil {
		return Backend{}, fmt.Errorf("read the approved prompt: %w", err)
	}
	if len(data) > maxPromptBytes {
		return Backend{}, fmt.Errorf("the prompt file is over %d bytes", maxPromptBytes)
	}
	sum := sha256.Sum256(data)
	if got := "sha256:" + hex.EncodeToString(sum[:]); got != digest {
		return Backend{}, fmt.Errorf("the prompt file is not the one approved (%s now, %s approved): nothing else is served", shortDigest(got), shortDigest(digest))
	}
	name := filepath.Base(path)
	if path == "" {
		name = "prompt"
	}
	p, err := llmeval.ParsePrompt(name, data)
	if err != nil {
		return Backend{}, err
	}
	if p.Endpoint == "" {
		return Backend{}, errors.New("the prompt file names no endpoint to serve it from")
	}
	if strings.Contains(p.System, "{{") {
		return Backend{}, errors.New("the system prompt has {{ variables }}: live chat requests carry no variables to fill them")
	}
	if version == "" && len(digest) >= 19 {
		version = digest[7:19]
	}
	return Backend{Version: version, URL: p.Endpoint, Artifact: path, Digest: digest,
		Prompt: &gateway.PromptSpec{Digest: digest, Model: p.Model, System: p.System, Parameters: p.Parameters}}, nil
}

// checkPromptEndpoints refuses a rollout whose versions' endpoints the
// gateway may not call, before any route names them.
func (r *rollout) checkPromptEndpoints(ctx context.Context) (bool, error) {
	st := r.st()
	for _, b := range []*Backend{&st.Candidate, st.Stable} {
		if b == nil || b.Prompt == nil {
			continue
		}
		if err := r.a.opts.Gateway.AllowsPromptUpstream(b.URL); err != nil {
			r.log.Warn("prompt endpoint refused", "version", b.Version, "err", err)
			return r.startRollback(ctx, fmt.Sprintf("the endpoint of prompt version %s is not allowed: %v", b.Version, err),
				map[string]any{"version": b.Version, "digest": b.Digest})
		}
	}
	return false, nil
}

// smokeFor runs the smoke test that fits the candidate.
func (a *Agent) smokeFor(ctx context.Context, p smokeParams) SmokeResult {
	if p.state.Candidate.Prompt == nil {
		return a.smoke(ctx, p)
	}
	return a.smokeChat(ctx, p)
}

// smokeChatMax caps the smoke test's chat calls: each one costs tokens.
const smokeChatMax = 5

// smokeChat sends a few chat requests to the candidate prompt: through
// the gateway's preview route when a route exists, else straight to its
// endpoint (allowed, checked before) with the prompt applied. Every answer
// must be a 200 chat completion with content.
func (a *Agent) smokeChat(ctx context.Context, p smokeParams) SmokeResult {
	st := p.state
	n := min(max(p.rows, 1), smokeChatMax)
	res := SmokeResult{}
	var lat []float64
	for i := range n {
		body, _ := json.Marshal(map[string]any{"model": st.Model, "messages": []map[string]string{
			{"role": "user", "content": fmt.Sprintf("modelgate smoke test %d of %d: reply briefly.", i+1, n)}}})
		t0 := time.Now()
		code, out, err := a.sendChat(ctx, st, body)
		lat = append(lat, float64(time.Since(t0).Microseconds())/1e3)
		res.Requests++
		if err != nil || code != http.StatusOK {
			res.Message = fmt.Sprintf("chat request %d: status %d %s %s", i+1, code, errText(err), snippet(out))
			return res
		}
		var ans struct {
			Choices []struct {
				Message *struct {
					Content *string `json:"content"`
					Refusal string  `json:"refusal"`
				} `json:"message"`
			} `json:"choices"`
		}
		if err := json.Unmarshal(out, &ans); err != nil || len(ans.Choices) == 0 || ans.Choices[0].Message == nil {
			res.Message = fmt.Sprintf("chat request %d: not a chat completion: %s", i+1, snippet(out))
			return res
		}
		if m := ans.Choices[0].Message; (m.Content == nil || *m.Content == "") && m.Refusal == "" {
			res.Message = fmt.Sprintf("chat request %d: the answer has no content", i+1)
			return res
		}
		res.Rows++
	}
	slices.Sort(lat)
	res.P99Ms = gateway.Quantile(lat, 0.99)
	res.Passed = true
	res.Message = fmt.Sprintf("%d chat requests answered by prompt %s", res.Rows, st.Candidate.Version)
	return res
}

func (a *Agent) sendChat(ctx context.Context, st *State, body []byte) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if st.Stable != nil {
		req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/preview/v1/chat/completions", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		a.opts.Gateway.ServeHTTP(rec, req)
		return rec.Code, rec.Body.Bytes(), nil
	}
	// A first version has no route yet. Its endpoint passed the gateway's
	// allowlist in reconcileStart; it is checked again here, right before
	// the call.
	c := st.Candidate
	if err := a.opts.Gateway.AllowsPromptUpstream(c.URL); err != nil {
		return 0, nil, err
	}
	applied, err := c.Prompt.Apply(body)
	if err != nil {
		return 0, nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(c.URL, "/")+"/chat/completions", bytes.NewReader(applied))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := noRedirects.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	return resp.StatusCode, b, err
}

// analyzeShadow judges a shadow window with the checks that fit.
func (r *rollout) analyzeShadow(sum gateway.ShadowSummary) Analysis {
	if r.st().Candidate.Prompt == nil {
		return AnalyzeShadow(ShadowParams{Checks: r.cfg.Shadow.Checks, MinRequests: r.cfg.MinReqs, Summary: sum})
	}
	return AnalyzeLLMShadow(LLMShadowParams{Checks: r.cfg.LLMChecks().Shadow, MinRequests: r.cfg.MinReqs, Summary: sum})
}

// LLMShadowParams is what AnalyzeLLMShadow judges.
type LLMShadowParams struct {
	Checks      config.LLMShadowChecks
	MinRequests int
	Summary     gateway.ShadowSummary
}

// AnalyzeLLMShadow judges mirrored chat answers: the shadow's error rate
// and the mean token F1 of the candidate's answers against production's.
// The exact and normalised match shares are reported beside them.
func AnalyzeLLMShadow(p LLMShadowParams) Analysis {
	s := p.Summary
	a := Analysis{Candidate: WindowCounts{Requests: s.Compared + s.Errors, Errors: s.Errors}}
	if n := s.Compared + s.Errors; n < uint64(p.MinRequests) {
		a.add(Measurement{Check: "requests", Value: float64(n), Limit: fmt.Sprintf(">= %d", p.MinRequests), Phase: Inconclusive,
			NeedMore: n > 0, Message: fmt.Sprintf("no data: %d shadow requests completed (%d dropped), %d needed", n, s.Dropped, p.MinRequests)})
		return a
	}
	ck := p.Checks
	if ck.ErrorRate.Set() {
		a.add(bound("error_rate", s.ErrorRate, nil, ck.ErrorRate))
	}
	c := s.Chat
	if c == nil || c.Pairs == 0 {
		a.add(Measurement{Check: "mean_f1", Phase: Inconclusive, Message: "no chat answers compared: every shadow call failed"})
		return a
	}
	if ck.MeanF1.Set() {
		m := bound("mean_f1", c.MeanF1, nil, ck.MeanF1)
		m.Message += fmt.Sprintf(" (%d pairs; lowest %.3g, p10 %.3g, median %.3g)", c.Pairs, c.MinF1, c.F1P10, c.F1P50)
		a.add(m)
	}
	a.add(Measurement{Check: "exact_share", Value: c.ExactShare, Phase: Successful,
		Message: fmt.Sprintf("%.1f%% of answers identical to production's", 100*c.ExactShare)})
	a.add(Measurement{Check: "normalised_share", Value: c.NormalisedShare, Phase: Successful,
		Message: fmt.Sprintf("%.1f%% identical once normalised", 100*c.NormalisedShare)})
	return a
}

// LLMCanaryParams is what AnalyzeLLMCanary judges.
type LLMCanaryParams struct {
	Checks      config.LLMCanaryChecks
	SlackMs     float64
	MinRequests int
	Candidate   gateway.VersionStats
	Stable      gateway.VersionStats
	HasStable   bool
}

// AnalyzeLLMCanary judges a prompt version against stable over the same
// window: error rate, p95 latency, p95 time to first token (streamed
// answers) and completion tokens per answer. Ratio checks on latency pass
// while the candidate is within SlackMs of stable.
func AnalyzeLLMCanary(p LLMCanaryParams) Analysis {
	c, s := p.Candidate, p.Stable
	a := Analysis{Candidate: WindowCounts{c.Requests, c.Errors, c.Fallbacks, 0}, Stable: WindowCounts{s.Requests, s.Errors, s.Fallbacks, 0}}
	if c.Requests < uint64(p.MinRequests) {
		a.add(Measurement{Check: "requests", Value: float64(c.Requests), Limit: fmt.Sprintf(">= %d", p.MinRequests), Phase: Inconclusive,
			NeedMore: c.Requests > 0,
			Message:  fmt.Sprintf("no data: the candidate answered %d requests in the window, %d needed", c.Requests, p.MinRequests)})
		return a
	}
	baseline := p.HasStable && s.Requests >= uint64(p.MinRequests)
	ck := p.Checks
	of := func(v float64) *float64 {
		if !baseline {
			return nil
		}
		return &v
	}
	if ck.ErrorRate.Set() {
		a.add(bound("error_rate", c.ErrorRate, of(s.ErrorRate), ck.ErrorRate))
	}
	if ck.LatencyP95Ms.Set() {
		a.add(boundSlack("latency_p95_ms", c.LatencyP95Ms, of(s.LatencyP95Ms), ck.LatencyP95Ms, p.SlackMs))
	}
	cl, sl := c.LLM, s.LLM
	if cl == nil {
		return a // no answer to measure: the error rate has said why
	}
	if sl == nil {
		sl = &gateway.LLMStats{}
	}
	if ck.TTFTP95Ms.Set() {
		if cl.Streams == 0 {
			a.add(Measurement{Check: "ttft_p95_ms", Phase: Successful, Message: "no streamed answers in the window: time to first token not measured"})
		} else {
			var st *float64
			if sl.Streams > 0 {
				st = of(sl.TTFTP95Ms)
			}
			a.add(boundSlack("ttft_p95_ms", cl.TTFTP95Ms, st, ck.TTFTP95Ms, p.SlackMs))
		}
	}
	if ck.CompletionTokens.Set() {
		var st *float64
		if sl.Answers > 0 {
			st = of(sl.CompletionTokensPerAnswer)
		}
		a.add(bound("completion_tokens", cl.CompletionTokensPerAnswer, st, ck.CompletionTokens))
	}
	return a
}

// boundSlack is bound, except that a ratio over stable is not held
// against a candidate within slack milliseconds of it.
func boundSlack(check string, v float64, stable *float64, b config.Bound, slack float64) Measurement {
	if stable == nil || b.MaxRatio == nil || v-*stable > slack {
		return bound(check, v, stable, b)
	}
	nb := b
	nb.MaxRatio = nil
	m := bound(check, v, stable, nb)
	if m.Phase != Failed {
		m.Limit = strings.TrimPrefix(m.Limit+fmt.Sprintf(", <= %g × stable unless within %g ms", *b.MaxRatio, slack), ", ")
		m.Message = fmt.Sprintf("%s %.4g within %g ms of stable's %.4g", check, v, slack, *stable)
	}
	return m
}

// llmMetrics adds a prompt rollout's measurements to the report's.
func llmMetrics(st *State, m map[string]float64) {
	if st.Candidate.Prompt == nil {
		return
	}
	// Row agreement and score deltas are the V2 comparison's: chat answers
	// have none, and a 0 there would read as total disagreement.
	delete(m, "shadow.agreement")
	delete(m, "shadow.mean_abs_delta")
	for _, h := range st.History {
		if h.Phase == PhaseShadow && h.Shadow != nil && h.Shadow.Chat != nil {
			c := h.Shadow.Chat
			m["shadow.mean_f1"], m["shadow.exact_share"], m["shadow.normalised_share"] = c.MeanF1, c.ExactShare, c.NormalisedShare
			m["shadow.pairs"] = float64(c.Pairs)
		}
		if h.Phase != PhaseCanary && h.Phase != PhaseSwitch {
			continue
		}
		prefix := "canary."
		if h.Phase == PhaseSwitch {
			prefix = "bluegreen."
		}
		for _, x := range h.Analysis.Measurements {
			switch x.Check {
			case "latency_p95_ms", "ttft_p95_ms", "completion_tokens":
				m[prefix+x.Check] = x.Value
				if x.Stable != nil {
					m["stable."+x.Check] = *x.Stable
				}
			}
		}
	}
}
