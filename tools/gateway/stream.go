package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// serveStream answers a chat request with "stream": true. The upstream's
// server-sent events are forwarded one by one as they arrive, each
// flushed to the client at once (nothing is buffered beyond the event
// being read), and measured on the way: time to first token (request sent
// to the first chunk with content), total latency, tokens. A candidate
// that fails before its first byte reaches the client (connection
// refused, 5xx, timeout) falls back to stable as on the buffered path;
// after that the stream is the client's and a failure is counted, not
// hidden.
func (g *Gateway) serveStream(w http.ResponseWriter, r *http.Request, rt *route, b *backend, body []byte, model string, preview bool) {
	sc := g.openStream(r.Context(), b, body, r.Header)
	var pe *promptError
	if errors.As(sc.err, &pe) {
		sc.close()
		res := result{status: http.StatusBadRequest, outcome: outcomeClientError}
		g.account(b, kindChat, false, -1, &res)
		apiError(w, http.StatusBadRequest, "malformed_request", pe.Error())
		return
	}
	if sc.failed() && b.role == "candidate" && !preview {
		g.accountOpenFailure(b, &sc)
		b.stats.mu.Lock()
		b.stats.fallbacks++
		b.stats.mu.Unlock()
		b.metrics.fallbacks.Inc()
		w.Header().Set("X-Modelgate-Fallback", b.Version)
		b = rt.stable
		sc = g.openStream(r.Context(), b, body, r.Header)
	}
	defer sc.close()
	h := w.Header()
	h["X-Modelgate-Version"] = b.versionHdr
	if sc.err != nil {
		g.accountOpenFailure(b, &sc)
		g.log.Warn("upstream failed", "model", model, "version", b.Version, "err", sc.err)
		apiError(w, http.StatusBadGateway, "upstream_unavailable",
			fmt.Sprintf("version %s of model %s: %s", b.Version, model, clientReason(sc.err)))
		return
	}
	if !isEventStream(sc.resp.Header.Get("Content-Type")) || sc.resp.StatusCode != http.StatusOK {
		// An error answer (stable's 5xx pass through as on the buffered
		// path), or a server that ignored "stream": pass it on whole,
		// judged like a buffered answer.
		g.relayWhole(w, rt, b, body, r.Header, &sc, preview)
		return
	}
	h.Set("Content-Type", sc.resp.Header.Get("Content-Type"))
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // and no proxy in front of the gateway should buffer it either
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	// A writer that cannot flush (a wrapping handler's) still gets every
	// event, only later; any other flush error means the client left.
	canFlush := !errors.Is(rc.Flush(), http.ErrNotSupported)

	rd := newSSEReader(sc.resp.Body)
	var tally streamTally
	ttft := -1.0
	var readErr error
	clientGone := false
	for {
		raw, data, err := rd.next()
		sc.idle.Reset(b.timeout) // the idle bound runs from each event
		if len(raw) > 0 {
			if tally.observe(data) {
				ttft = float64(time.Since(sc.start).Nanoseconds()) / 1e6
			}
			if _, werr := w.Write(raw); werr != nil {
				clientGone = true
				break
			}
			if canFlush {
				if ferr := rc.Flush(); ferr != nil {
					clientGone = true
					break
				}
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				readErr = err
			}
			break
		}
	}
	res := result{status: http.StatusOK, latencyMs: float64(time.Since(sc.start).Nanoseconds()) / 1e6}
	if readErr != nil && r.Context().Err() != nil {
		// The upstream read ended because the client left (its context is
		// the call's parent), not because the version failed.
		clientGone = true
	}
	switch {
	case clientGone:
		// The client left: not the version's fault, and its answer was
		// never complete, so there is nothing to measure but the request.
		res.outcome = outcomeOK
		g.accountStream(b, &res, -1, false)
		return
	case readErr != nil && !errors.Is(readErr, io.ErrUnexpectedEOF):
		res.outcome, res.err = outcomeError, fmt.Errorf("read chat stream: %w", readErr)
	default:
		a, err := tally.answer()
		if err != nil {
			res.outcome, res.err = outcomeError, err
		} else {
			res.chat = a
		}
	}
	if res.err != nil {
		g.log.Warn("upstream stream failed", "model", model, "version", b.Version, "err", res.err)
	}
	g.accountStream(b, &res, ttft, true)
	g.maybeShadow(rt, b, kindChat, body, r.Header, res, preview)
}

// accountStream records a finished stream; measured says whether its
// chat answer (tokens, TTFT) counts.
func (g *Gateway) accountStream(b *backend, res *result, ttftMs float64, measured bool) {
	if !measured {
		b.stats.record(res.latencyMs, res.outcome, nil)
		b.metrics.ok.Inc()
		b.metrics.duration.Observe(res.latencyMs / 1e3)
		return
	}
	g.account(b, kindChat, true, ttftMs, res)
}

// accountOpenFailure records a stream that failed before it started.
func (g *Gateway) accountOpenFailure(b *backend, sc *streamCall) {
	res := result{outcome: outcomeError, err: sc.err, latencyMs: float64(time.Since(sc.start).Nanoseconds()) / 1e6}
	if sc.resp != nil {
		res.status = sc.resp.StatusCode
	}
	g.account(b, kindChat, true, -1, &res)
	sc.close()
}

// relayWhole passes a non-stream answer to a stream request on in one
// piece (bounded like any answer), classified as the buffered path does.
func (g *Gateway) relayWhole(w http.ResponseWriter, rt *route, b *backend, body []byte, hdr http.Header, sc *streamCall, preview bool) {
	res := result{buf: g.getBuf(), status: sc.resp.StatusCode, contentType: sc.resp.Header.Get("Content-Type")}
	defer g.putBuf(res.buf)
	_, err := res.buf.ReadFrom(io.LimitReader(sc.resp.Body, 64<<20))
	res.latencyMs = float64(time.Since(sc.start).Nanoseconds()) / 1e6
	switch {
	case err != nil:
		res.outcome, res.err = outcomeError, fmt.Errorf("read response: %w", err)
	case res.status >= 500:
		res.outcome = outcomeError
	case res.status >= 400:
		res.outcome = outcomeClientError
	default:
		a, perr := parseChatAnswer(res.buf.Bytes())
		if perr != nil {
			res.outcome, res.err = outcomeError, perr
		} else {
			res.chat = a
		}
	}
	g.account(b, kindChat, false, -1, &res)
	if res.err != nil {
		apiError(w, http.StatusBadGateway, "upstream_unavailable",
			fmt.Sprintf("version %s of model %s: %s", b.Version, rt.table.Model, clientReason(res.err)))
		return
	}
	if res.contentType != "" {
		w.Header().Set("Content-Type", res.contentType)
	}
	w.Header().Set("Content-Length", strconv.Itoa(res.buf.Len()))
	w.WriteHeader(res.status)
	_, _ = w.Write(res.buf.Bytes())
	g.maybeShadow(rt, b, kindChat, body, hdr, res, preview)
}

func isEventStream(ct string) bool {
	mt, _, _ := strings.Cut(ct, ";")
	return strings.EqualFold(strings.TrimSpace(mt), "text/event-stream")
}

// streamCall is an upstream stream being read. Its context ends when the
// stream does, when the client leaves, or when no event has come for the
// backend's timeout (idle).
type streamCall struct {
	start  time.Time
	resp   *http.Response
	err    error
	cancel context.CancelFunc
	idle   *time.Timer
}

// failed says the upstream failed before the stream began: no answer, or
// a 5xx.
func (sc *streamCall) failed() bool {
	return sc.err != nil || sc.resp.StatusCode >= 500
}

func (sc *streamCall) close() {
	if sc.idle != nil {
		sc.idle.Stop()
	}
	if sc.resp != nil {
		_ = sc.resp.Body.Close()
	}
	sc.cancel()
}

// openStream sends the request through the net/http transport (the
// direct HTTP/1.1 client reads whole answers only) and returns once the
// answer's headers are in.
func (g *Gateway) openStream(ctx context.Context, b *backend, body []byte, hdr http.Header) streamCall {
	ctx, cancel := context.WithCancel(ctx)
	sc := streamCall{start: time.Now(), cancel: cancel, idle: time.AfterFunc(b.timeout, cancel)}
	if b.prompt != nil {
		applied, err := b.prompt.Apply(body)
		if err != nil {
			sc.err = &promptError{err}
			return sc
		}
		body, hdr = applied, g.promptHeader(hdr)
	}
	if b.chatU == nil {
		_, sc.err = url.Parse(b.chatURL)
		return sc
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.chatURL, bytes.NewReader(body))
	if err != nil {
		sc.err = err
		return sc
	}
	for k, v := range hdr {
		if !hopHeaders[k] {
			req.Header[k] = v
		}
	}
	if req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := g.opts.Transport.RoundTrip(req)
	if err != nil {
		if ctx.Err() != nil && !sc.idle.Stop() {
			err = fmt.Errorf("%w (no answer in %s)", context.DeadlineExceeded, b.timeout)
		}
		sc.err = &url.Error{Op: "Post", URL: b.chatU.Redacted(), Err: err}
		return sc
	}
	sc.resp = resp
	return sc
}

// unstreamed is a chat request asking for the whole answer at once: the
// shadow copy of a streamed request (its comparison wants the text).
func unstreamed(body []byte) ([]byte, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, fmt.Errorf("chat request: %w", err)
	}
	if _, ok := m["stream"]; !ok {
		return body, nil
	}
	delete(m, "stream")
	delete(m, "stream_options")
	return json.Marshal(m)
}
