package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"

	"github.com/modelgate/modelgate/tools/llmeval"
)

// PromptSpec makes a backend a prompt version: every chat request routed
// to it is sent to the backend's URL (the prompt's OpenAI-compatible base
// URL, ending in /v1) with the prompt's model name, its system message in
// place of any the client sent, and its sampling parameters in place of
// the client's. It is copied from an approved prompt file, whose digest
// it carries; the rest of the client's request (its user and assistant
// turns, stream, tools) passes unchanged. The prompt's template is for
// the eval suite's variables: live traffic sends whole messages.
type PromptSpec struct {
	Digest     string             `json:"digest"` // sha256: of the approved prompt file
	Model      string             `json:"model"`
	System     string             `json:"system,omitempty"`
	Parameters llmeval.Parameters `json:"parameters"`
}

var digestRe = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

func (p *PromptSpec) validate() error {
	if !digestRe.MatchString(p.Digest) {
		return fmt.Errorf("prompt.digest %q is not sha256:<64 hex>", p.Digest)
	}
	if p.Model == "" {
		return errors.New("prompt.model is required")
	}
	return nil
}

// ErrPromptUpstream is returned for a prompt backend whose URL the
// gateway may not call (Options.PromptUpstreams).
var ErrPromptUpstream = errors.New("prompt upstream not allowed")

// AllowsPromptUpstream reports whether a prompt backend may point at u:
// Options.PromptUpstreams decides; a gateway without it calls no prompt
// upstream at all.
func (g *Gateway) AllowsPromptUpstream(u string) error {
	if g.opts.PromptUpstreams == nil {
		return fmt.Errorf("%w: %s (this gateway has no allowlist for prompt endpoints)", ErrPromptUpstream, u)
	}
	if err := g.opts.PromptUpstreams(u); err != nil {
		return fmt.Errorf("%w: %w", ErrPromptUpstream, err)
	}
	return nil
}

// checkPrompts refuses a table with a prompt backend outside the
// allowlist: whoever writes a route table (the store included), the
// gateway calls only the endpoints its operator allowed.
func (g *Gateway) checkPrompts(t RouteTable) error {
	for _, b := range []*Backend{&t.Stable, t.Candidate} {
		if b == nil || b.Prompt == nil {
			continue
		}
		if err := g.AllowsPromptUpstream(b.URL); err != nil {
			return &promptRouteError{RouteError: &RouteError{Model: t.Model, Field: "backend " + b.Version, Msg: err.Error()}, err: err}
		}
	}
	return nil
}

// Apply rewrites a chat request for the prompt version: model, system
// message and parameters are the prompt's. A body whose messages are not
// a list of objects is the client's error.
func (p *PromptSpec) Apply(body []byte) ([]byte, error) {
	var req map[string]json.RawMessage
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, fmt.Errorf("chat request: %w", err)
	}
	var msgs []json.RawMessage
	if raw, ok := req["messages"]; ok {
		if err := json.Unmarshal(raw, &msgs); err != nil {
			return nil, fmt.Errorf("chat request: messages: %w", err)
		}
	}
	out := make([]json.RawMessage, 0, len(msgs)+1)
	if p.System != "" {
		sys, _ := json.Marshal(llmeval.Message{Role: "system", Content: p.System})
		out = append(out, sys)
	}
	for i, m := range msgs {
		// Decoded and written again, so that what is sent has one "role"
		// key: a message with two (user, then system) must not read as a
		// user turn here and as a system one upstream.
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(m, &fields); err != nil || fields == nil {
			return nil, fmt.Errorf("chat request: messages[%d] is not an object", i)
		}
		var role string
		if err := json.Unmarshal(fields["role"], &role); err != nil {
			return nil, fmt.Errorf("chat request: messages[%d].role is not a string", i)
		}
		if role == "system" || role == "developer" {
			continue // the approved prompt's instructions, not the client's
		}
		clean, err := json.Marshal(fields)
		if err != nil {
			return nil, fmt.Errorf("chat request: messages[%d]: %w", i, err)
		}
		out = append(out, clean)
	}
	set := func(k string, v any) {
		b, _ := json.Marshal(v)
		req[k] = b
	}
	set("messages", out)
	set("model", p.Model)
	pr := p.Parameters
	if pr.Temperature != nil {
		set("temperature", *pr.Temperature)
	}
	if pr.TopP != nil {
		set("top_p", *pr.TopP)
	}
	if pr.MaxTokens > 0 {
		set("max_tokens", pr.MaxTokens)
		delete(req, "max_completion_tokens")
	}
	if pr.Seed != nil {
		set("seed", *pr.Seed)
	}
	if len(pr.Stop) > 0 {
		set("stop", pr.Stop)
	}
	return json.Marshal(req)
}

// promptHeader is what a prompt upstream is sent of the client's
// headers: its content type, and the operator's key rather than any
// credential of the client's (which the provider must not see, nor
// use in place of the operator's account).
func (g *Gateway) promptHeader(hdr http.Header) http.Header {
	out := http.Header{"Content-Type": {"application/json"}}
	if a := hdr.Get("Accept"); a != "" {
		out["Accept"] = []string{a}
	}
	if g.opts.PromptAPIKey != "" {
		out["Authorization"] = []string{"Bearer " + g.opts.PromptAPIKey}
	}
	return out
}

// promptRouteError is a RouteError that also matches ErrPromptUpstream.
type promptRouteError struct {
	*RouteError
	err error
}

func (e *promptRouteError) Unwrap() []error { return []error{e.RouteError, e.err} }

// promptError is a chat request the prompt could not be applied to: the
// client's fault.
type promptError struct{ error }

// refusePrompted answers a chat request that cannot be rewritten for a
// prompt version: the client's 400, never sent upstream.
func (g *Gateway) refusePrompted(b *backend, res result, err error) result {
	res.status, res.contentType, res.outcome = http.StatusBadRequest, "application/json", outcomeClientError
	msg, _ := json.Marshal(map[string]any{"error": map[string]string{"code": "malformed_request", "message": err.Error()}})
	res.buf.Write(msg)
	g.account(b, kindChat, false, -1, &res)
	return res
}
