package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/charmbracelet/log"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
)

// RouteStore persists route tables; store.Store satisfies it.
type RouteStore interface {
	RouteSet(ctx context.Context, model string, table json.RawMessage) error
	RouteGet(ctx context.Context, model string) (json.RawMessage, error)
	RouteList(ctx context.Context) (map[string]json.RawMessage, error)
}

// Options configures a Gateway. Zero values take the defaults noted.
type Options struct {
	Routes       RouteStore    // required: where tables persist
	MaxBodyBytes int64         // request body limit; default 8 MiB
	Timeout      time.Duration // per upstream call; default 10s
	// CandidateTimeout bounds a call to a route's candidate when its table
	// sets none; default 2s, well under Timeout: a hanging candidate must
	// not hold each client it is given for the stable's whole budget
	// before the fallback to stable answers.
	CandidateTimeout time.Duration
	ShadowQueue      int                   // pending shadow calls before drops; default 1024
	ShadowWorkers    int                   // concurrent shadow calls; default 32
	Registry         prometheus.Registerer // default: a private registry
	StickyHeader     string                // request header pinning a client to a version; default none (random split)
	SampleSize       int                   // rows kept in the input reservoir per model; default 1000
	Logger           *log.Logger
	Transport        http.RoundTripper // default: a pooled transport tuned for many small calls to few hosts
	// PromptUpstreams says whether a prompt backend may point at a URL
	// (the server's --llm-endpoint-allow); nil refuses every prompt backend.
	PromptUpstreams func(url string) error
	// PromptAPIKey is sent as the bearer token to prompt upstreams in place
	// of whatever Authorization the client sent (MODELGATE_LLM_API_KEY).
	PromptAPIKey string
}

// Gateway is the data plane: it routes inference requests to model
// versions by the current route table, mirrors a share to the candidate,
// and measures every version.
type Gateway struct {
	opts    Options
	log     *log.Logger
	client  *http.Client
	h1      *h1Client // direct HTTP/1.1 client for http:// upstreams; nil when the caller set a Transport
	metrics *metrics
	epoch   string

	routes atomic.Pointer[map[string]*route] // copy-on-write; read on every request
	setMu  sync.Mutex                        // serialises writers

	statesMu sync.Mutex
	states   map[string]*modelState

	shadowQ  chan shadowJob
	wg       sync.WaitGroup
	closed   chan struct{}
	closeOne sync.Once

	bufs sync.Pool
}

// New builds a gateway with no routes; call Load to restore the stored ones.
func New(o Options) (*Gateway, error) {
	if o.Routes == nil {
		return nil, errors.New("gateway: Options.Routes is required")
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 8 << 20
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.CandidateTimeout <= 0 {
		o.CandidateTimeout = min(2*time.Second, o.Timeout)
	}
	if o.ShadowQueue <= 0 {
		o.ShadowQueue = 1024
	}
	if o.ShadowWorkers <= 0 {
		o.ShadowWorkers = 32
	}
	if o.SampleSize <= 0 {
		o.SampleSize = 1000
	}
	if o.Registry == nil {
		o.Registry = prometheus.NewRegistry()
	}
	if o.Logger == nil {
		o.Logger = log.Default()
	}
	var h1 *h1Client
	if o.Transport == nil {
		h1 = newH1Client()
		o.Transport = &http.Transport{
			Proxy:               nil, // loopback model servers; never through an HTTP proxy
			DialContext:         (&net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        4096,
			MaxIdleConnsPerHost: 1024,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
			// No ResponseHeaderTimeout: every call already runs under a
			// context with Options.Timeout, which covers the headers too; a
			// second timer per request would only cost.
			ForceAttemptHTTP2: false,
		}
	}
	m, err := newMetrics(o.Registry)
	if err != nil {
		return nil, fmt.Errorf("gateway metrics: %w", err)
	}
	g := &Gateway{
		opts:    o,
		log:     o.Logger.WithPrefix("gateway"),
		h1:      h1,
		client:  &http.Client{Transport: o.Transport, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		metrics: m,
		epoch:   uuid.NewString(),
		states:  map[string]*modelState{},
		shadowQ: make(chan shadowJob, o.ShadowQueue),
		closed:  make(chan struct{}),
	}
	g.bufs.New = func() any { return new(bytes.Buffer) }
	empty := map[string]*route{}
	g.routes.Store(&empty)
	for range o.ShadowWorkers {
		g.wg.Add(1)
		go g.shadowWorker()
	}
	return g, nil
}

// Close stops the shadow workers after the queue drains.
func (g *Gateway) Close() error {
	g.closeOne.Do(func() { close(g.closed) })
	g.wg.Wait()
	return nil
}

func (g *Gateway) state(model string) *modelState {
	g.statesMu.Lock()
	defer g.statesMu.Unlock()
	s, ok := g.states[model]
	if !ok {
		s = &modelState{versions: map[string]*series{}}
		s.inputs.k = g.opts.SampleSize
		g.states[model] = s
	}
	return s
}

// SetRoutes validates t, persists it, and swaps it in for its model.
// The store is written first: a table that was never stored never
// carries traffic, so a restarted gateway serves what it served before.
func (g *Gateway) SetRoutes(ctx context.Context, model string, t RouteTable) error {
	if t.Model == "" {
		t.Model = model
	}
	if t.Model != model {
		return &RouteError{Model: model, Field: "model", Msg: fmt.Sprintf("table names %q", t.Model)}
	}
	if t.UpdatedAt.IsZero() {
		t.UpdatedAt = time.Now().UTC()
	}
	if err := t.Validate(); err != nil {
		return err
	}
	if err := g.checkPrompts(t); err != nil {
		return err
	}
	raw, err := json.Marshal(t)
	if err != nil {
		return fmt.Errorf("encode route table for %s: %w", model, err)
	}
	g.setMu.Lock()
	defer g.setMu.Unlock()
	if err := g.opts.Routes.RouteSet(ctx, model, raw); err != nil {
		return fmt.Errorf("store route table for %s: %w", model, err)
	}
	g.install(t)
	g.log.Info("routes set", "model", model, "mode", t.Mode, "stable", t.Stable.Version,
		"candidate", candidateVersion(t), "weight", t.CandidateWeight, "shadow", t.ShadowShare)
	return nil
}

func candidateVersion(t RouteTable) string {
	if t.Candidate == nil {
		return ""
	}
	return t.Candidate.Version
}

// install compiles and swaps in a validated table; setMu is held.
func (g *Gateway) install(t RouteTable) {
	ms := g.state(t.Model)
	r := &route{table: t, model: ms, threshold: t.Threshold, sticky: t.StickyHeader}
	if r.threshold == 0 {
		r.threshold = 0.5
	}
	if r.sticky == "" {
		r.sticky = g.opts.StickyHeader
	}
	r.stable = compileBackend(t, t.Stable, "stable", ms, g.metrics)
	r.stable.timeout = g.opts.Timeout
	if t.Candidate != nil {
		r.candidate = compileBackend(t, *t.Candidate, "candidate", ms, g.metrics)
		r.candidate.timeout = g.opts.CandidateTimeout
		if t.CandidateTimeoutMs > 0 {
			r.candidate.timeout = time.Duration(t.CandidateTimeoutMs) * time.Millisecond
		}
		r.candidateSlots = uint64(t.CandidateWeight) * ringSlots / 100
		r.shadowMilli = uint64(t.ShadowShare * 1e6)
		if r.shadowMilli > 0 {
			r.shadowMetrics = g.metrics.forShadow(t.Model)
		}
	}
	g.metrics.weight.WithLabelValues(t.Model).Set(float64(t.CandidateWeight))
	old := *g.routes.Load()
	next := make(map[string]*route, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	next[t.Model] = r
	g.routes.Store(&next)
}

// Routes returns the table serving model.
func (g *Gateway) Routes(model string) (RouteTable, bool) {
	r, ok := (*g.routes.Load())[model]
	if !ok {
		return RouteTable{}, false
	}
	return r.table, true
}

// Models lists the models with a route table.
func (g *Gateway) Models() []string {
	m := *g.routes.Load()
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// Load restores every stored table, and installs the ones that changed
// when called again: a gateway running apart from the coordinator calls it
// periodically to follow the rollouts. A table that no longer validates is
// skipped with an error naming it; the others still load.
func (g *Gateway) Load(ctx context.Context) error {
	all, err := g.opts.Routes.RouteList(ctx)
	if err != nil {
		return fmt.Errorf("list stored routes: %w", err)
	}
	var errs []error
	g.setMu.Lock()
	defer g.setMu.Unlock()
	changed := 0
	for model, raw := range all {
		t, err := DecodeRouteTable(model, raw)
		if err == nil {
			err = g.checkPrompts(t)
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if cur, ok := (*g.routes.Load())[model]; ok && reflect.DeepEqual(cur.table, t) {
			continue // unchanged: keep the compiled route
		}
		g.install(t)
		changed++
	}
	if changed > 0 {
		g.log.Info("routes loaded", "changed", changed, "models", len(all)-len(errs))
	}
	return errors.Join(errs...)
}

// Mark is a point in a gateway's counters; Stats and ShadowStats measure
// from it to now. It is plain data so that a rollout can store it and,
// after a restart, measure from where it stood (a mark from another
// gateway instance measures from that instance's start).
type Mark struct {
	Epoch    string            `json:"epoch"`
	Versions map[string]Pos    `json:"versions"`
	Shadow   ShadowPos         `json:"shadow"`
	Windows  map[string]Window `json:"windows,omitempty"` // every gateway's published position (agents/deployment's shared measurements)
}

// Mark records where model's counters stand now.
func (g *Gateway) Mark(model string) Mark {
	ms := g.state(model)
	m := Mark{Epoch: g.epoch, Versions: map[string]Pos{}, Shadow: ms.shadow.pos()}
	ms.mu.Lock()
	vs := make(map[string]*series, len(ms.versions))
	for v, s := range ms.versions {
		vs[v] = s
	}
	ms.mu.Unlock()
	for v, s := range vs {
		m.Versions[v] = s.pos()
	}
	return m
}

// Stats measures one version of model since a mark.
func (g *Gateway) Stats(model, version string, since Mark) VersionStats {
	var from Pos
	if since.Epoch == g.epoch {
		from = since.Versions[version]
	}
	return g.state(model).series(version).stats(version, from)
}

// ShadowStats summarises the shadow comparison of model since a mark.
func (g *Gateway) ShadowStats(model string, since Mark) ShadowSummary {
	var from ShadowPos
	if since.Epoch == g.epoch {
		from = since.Shadow
	}
	return g.state(model).shadow.summary(from)
}

// Inputs returns the uniform sample of request rows seen for model.
func (g *Gateway) Inputs(model string) InputSample { return g.state(model).inputs.sample() }

// apiError writes the project's error shape.
func apiError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	b, _ := json.Marshal(map[string]any{"error": map[string]string{"code": code, "message": msg}})
	_, _ = w.Write(b)
}

// ServeHTTP answers V2 inference (/v2/models/{model}/infer), its preview
// route (/preview/v2/models/{model}/infer, always the candidate), V2
// metadata and readiness (forwarded to stable), and OpenAI chat
// completions (/v1/chat/completions, routed by the body's model).
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	switch {
	case path == "/v2/health/live" || path == "/v2/health/ready" || path == "/healthz":
		w.WriteHeader(http.StatusOK)
		return
	case path == "/v1/chat/completions":
		g.serveInfer(w, r, "", kindChat, false)
		return
	case path == "/preview/v1/chat/completions":
		g.serveInfer(w, r, "", kindChat, true)
		return
	}
	preview := false
	if rest, ok := strings.CutPrefix(path, "/preview"); ok {
		preview, path = true, rest
	}
	rest, ok := strings.CutPrefix(path, "/v2/models/")
	if !ok || rest == "" {
		apiError(w, http.StatusNotFound, "not_found", "no such endpoint: "+r.URL.Path)
		return
	}
	model, tail, _ := strings.Cut(rest, "/")
	switch tail {
	case "infer":
		g.serveInfer(w, r, model, kindV2, preview)
	case "", "ready":
		g.serveMeta(w, r, model, tail, preview)
	default:
		apiError(w, http.StatusNotFound, "not_found", "no such endpoint: "+r.URL.Path)
	}
}

const (
	kindV2 = iota
	kindChat
)

// lookup finds a model's route and the backend a preview asks for (the
// candidate) or, otherwise, stable; it answers 404 itself when there is
// none.
func (g *Gateway) lookup(w http.ResponseWriter, model string, preview bool) (*route, *backend, bool) {
	rt, ok := (*g.routes.Load())[model]
	if !ok {
		apiError(w, http.StatusNotFound, "model_not_found", fmt.Sprintf("no route for model %q", model))
		return nil, nil, false
	}
	if !preview {
		return rt, rt.stable, true
	}
	if rt.candidate == nil {
		apiError(w, http.StatusNotFound, "no_candidate", fmt.Sprintf("model %q has no candidate to preview", model))
		return nil, nil, false
	}
	return rt, rt.candidate, true
}

func (g *Gateway) serveMeta(w http.ResponseWriter, r *http.Request, model, tail string, preview bool) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET")
		apiError(w, http.StatusMethodNotAllowed, "method_not_allowed", "use GET")
		return
	}
	_, b, ok := g.lookup(w, model, preview)
	if !ok {
		return
	}
	u := strings.TrimSuffix(b.inferURL, "/infer")
	if tail == "ready" {
		u += "/ready"
	}
	ctx, cancel := context.WithTimeout(r.Context(), g.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		apiError(w, http.StatusInternalServerError, "internal", err.Error())
		return
	}
	resp, err := g.client.Do(req)
	if err != nil {
		g.log.Warn("upstream failed", "model", model, "version", b.Version, "err", err)
		apiError(w, http.StatusBadGateway, "upstream_unavailable", fmt.Sprintf("version %s of %s: %s", b.Version, model, clientReason(err)))
		return
	}
	defer resp.Body.Close()
	w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
	w.Header().Set("X-Modelgate-Version", b.Version)
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, io.LimitReader(resp.Body, 1<<20))
}

// hop-by-hop headers are the proxy's own business (RFC 9110 §7.6.1).
var hopHeaders = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Proxy-Connection": true, "Proxy-Authenticate": true,
	"Proxy-Authorization": true, "Te": true, "Trailer": true, "Transfer-Encoding": true, "Upgrade": true,
	"Content-Length": true, "Accept-Encoding": true,
}

func (g *Gateway) getBuf() *bytes.Buffer {
	b := g.bufs.Get().(*bytes.Buffer)
	b.Reset()
	return b
}

func (g *Gateway) putBuf(b *bytes.Buffer) {
	if b.Cap() <= 1<<20 { // don't pin one huge body forever
		g.bufs.Put(b)
	}
}

func (g *Gateway) serveInfer(w http.ResponseWriter, r *http.Request, model string, kind int, preview bool) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		apiError(w, http.StatusMethodNotAllowed, "method_not_allowed", "inference takes POST")
		return
	}
	in := g.getBuf()
	defer g.putBuf(in)
	if r.ContentLength > g.opts.MaxBodyBytes {
		apiError(w, http.StatusRequestEntityTooLarge, "request_too_large",
			fmt.Sprintf("request body of %d bytes is over the %d-byte limit", r.ContentLength, g.opts.MaxBodyBytes))
		return
	}
	// With a Content-Length (checked above) the server's body reader stops
	// at that length already; only a chunked body needs the limiting reader
	// (one allocation per request saved on the common path).
	var src io.Reader = r.Body
	if r.ContentLength < 0 {
		src = http.MaxBytesReader(w, r.Body, g.opts.MaxBodyBytes)
	}
	if _, err := in.ReadFrom(src); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			apiError(w, http.StatusRequestEntityTooLarge, "request_too_large",
				fmt.Sprintf("request body is over the %d-byte limit", g.opts.MaxBodyBytes))
			return
		}
		apiError(w, http.StatusBadRequest, "bad_request", "read request body: "+err.Error())
		return
	}
	if int64(in.Len()) > g.opts.MaxBodyBytes {
		// Only a caller handing ServeHTTP a request whose ContentLength
		// understates its body gets here; net/http's server never does.
		apiError(w, http.StatusRequestEntityTooLarge, "request_too_large",
			fmt.Sprintf("request body is over the %d-byte limit", g.opts.MaxBodyBytes))
		return
	}
	body := in.Bytes()
	if !json.Valid(body) {
		apiError(w, http.StatusBadRequest, "malformed_request", "request body is not valid JSON")
		return
	}
	stream := false
	if kind == kindChat {
		var m chatRequest
		if err := json.Unmarshal(body, &m); err != nil || m.Model == "" {
			apiError(w, http.StatusBadRequest, "malformed_request", `chat completion request needs a "model" string`)
			return
		}
		model, stream = m.Model, m.Stream
	}
	rt, b, ok := g.lookup(w, model, preview)
	if !ok {
		return
	}
	if !preview && rt.candidateSlots > 0 {
		var slot uint64
		if key := r.Header.Get(rt.sticky); rt.sticky != "" && key != "" {
			slot = fnv1a(key) % ringSlots
		} else {
			slot = rand.Uint64N(ringSlots)
		}
		if slot < rt.candidateSlots {
			b = rt.candidate
		}
	}
	if stream {
		g.serveStream(w, r, rt, b, body, model, preview)
		return
	}

	res := g.call(r.Context(), b, kind, body, r.Header)
	answered := b
	if res.outcome == outcomeError && b.role == "candidate" && !preview {
		// The candidate failed; the client still gets an answer, from
		// stable. The failure is counted against the candidate, which is
		// what the rollout's analysis reads.
		b.stats.mu.Lock()
		b.stats.fallbacks++
		b.stats.mu.Unlock()
		b.metrics.fallbacks.Inc()
		g.putBuf(res.buf)
		res = g.call(r.Context(), rt.stable, kind, body, r.Header)
		answered = rt.stable
		w.Header().Set("X-Modelgate-Fallback", b.Version)
	}
	defer g.putBuf(res.buf)
	h := w.Header()
	// Direct map writes with canonical keys and a value slice compiled
	// once per route: Header.Set would allocate a new slice per request.
	// net/http only reads the values, and an Add by a wrapping handler
	// copies (the slice's length is its capacity).
	h["X-Modelgate-Version"] = answered.versionHdr
	if res.err != nil {
		g.log.Warn("upstream failed", "model", model, "version", answered.Version, "err", res.err)
		apiError(w, http.StatusBadGateway, "upstream_unavailable",
			fmt.Sprintf("version %s of model %s: %s", answered.Version, model, clientReason(res.err)))
	} else {
		if res.contentType != "" {
			h.Set("Content-Type", res.contentType)
		}
		h.Set("Content-Length", strconv.Itoa(res.buf.Len()))
		w.WriteHeader(res.status)
		_, _ = w.Write(res.buf.Bytes())
	}

	g.maybeShadow(rt, answered, kind, body, r.Header, res, preview)
	if kind == kindV2 && !preview && res.outcome == outcomeOK {
		if slot := rt.model.inputs.slot(); slot >= 0 {
			if names, rows, err := ParseInputs(body, rt.table.Features); err == nil {
				rt.model.inputs.add(slot, names, rows)
			}
		}
	}
}

// result is one upstream call's outcome; buf holds the response body.
type result struct {
	status      int
	contentType string
	buf         *bytes.Buffer
	outcome     int
	latencyMs   float64
	outputs     *Outputs
	chat        chatAnswer // kindChat answers that parsed
	err         error
}

func (g *Gateway) call(ctx context.Context, b *backend, kind int, body []byte, hdr http.Header) result {
	res := result{buf: g.getBuf()}
	if kind == kindChat && b.prompt != nil {
		applied, err := b.prompt.Apply(body)
		if err != nil {
			return g.refusePrompted(b, res, err)
		}
		body, hdr = applied, g.promptHeader(hdr)
	}
	start := time.Now()
	res.err = g.roundTrip(ctx, b, kind, body, hdr, &res)
	res.latencyMs = float64(time.Since(start).Nanoseconds()) / 1e6
	switch {
	case res.err != nil || res.status >= 500:
		res.outcome = outcomeError
	case res.status == http.StatusNotFound && kind == kindV2:
		// The client named a model the gateway routes; a 404 from the
		// upstream means the route points at a server (or a name) that
		// does not serve this version: the route's fault, not the client's.
		res.outcome = outcomeError
		res.err = &upstreamError{reason: "the upstream does not serve this model (404)", detail: "404 from " + b.inferURL}
	case res.status >= 400:
		res.outcome = outcomeClientError
	case kind == kindV2:
		out, err := ParseOutputs(res.buf.Bytes(), nil)
		if err != nil {
			// A 200 whose body is not a V2 answer is the version's fault.
			res.outcome = outcomeError
			res.err = fmt.Errorf("malformed V2 response: %w", err)
		} else {
			res.outputs = &out
		}
	case kind == kindChat:
		a, err := parseChatAnswer(res.buf.Bytes())
		if err != nil {
			// A 200 whose body is not a chat completion is the version's
			// fault, as for V2.
			res.outcome = outcomeError
			res.err = err
		} else {
			res.chat = a
		}
	}
	g.account(b, kind, false, -1, &res)
	return res
}

// account records one upstream call's outcome in the version's stats and
// metrics; a chat answer's tokens and time to first token (ttftMs < 0:
// none) too.
func (g *Gateway) account(b *backend, kind int, stream bool, ttftMs float64, res *result) {
	b.stats.record(res.latencyMs, res.outcome, res.outputs)
	if kind == kindChat && res.outcome == outcomeOK {
		b.stats.recordChat(res.chat, stream, ttftMs)
		b.metrics.observeChat(res.chat, ttftMs)
	}
	switch res.outcome {
	case outcomeOK:
		b.metrics.ok.Inc()
	case outcomeError:
		b.metrics.errors.Inc()
	default:
		b.metrics.clientErrors.Inc()
	}
	b.metrics.duration.Observe(res.latencyMs / 1e3)
}

func (g *Gateway) roundTrip(ctx context.Context, b *backend, kind int, body []byte, hdr http.Header, res *result) error {
	u, raw, target := b.inferU, b.inferURL, b.inferTarget
	if kind == kindChat {
		u, raw, target = b.chatU, b.chatURL, b.chatTarget
	}
	if u == nil {
		_, err := url.Parse(raw) // compileBackend could not parse it: say why
		return err
	}
	if g.h1 != nil && canDirect(u, hdr) {
		// Plain http:// with the default transport: write and read on this
		// goroutine over a pooled connection (see h1Client).
		return g.h1.do(ctx, b.timeout, u, target, body, hdr, res)
	}
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	// What http.NewRequestWithContext builds, without parsing the URL
	// again on every request.
	req := (&http.Request{
		Method:     http.MethodPost,
		URL:        u, // shared and read-only: the transport never writes it
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Host:       u.Host,
	}).WithContext(ctx)
	req.ContentLength = int64(len(body))
	req.Body = io.NopCloser(bytes.NewReader(body))
	// GetBody lets the transport resend the body when a reused idle
	// connection turns out to be closed before anything was written.
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	req.Header = make(http.Header, len(hdr)+1)
	for k, v := range hdr {
		if !hopHeaders[k] {
			req.Header[k] = v
		}
	}
	if req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	// The transport directly, not http.Client.Do: the client never follows
	// redirects here (CheckRedirect returns the 3xx as is) and its
	// per-request work (copying every header for redirects, deadline
	// bookkeeping) is pure cost on the hot path. Errors are wrapped the way
	// the client wraps them, so messages stay the same.
	resp, err := g.opts.Transport.RoundTrip(req)
	if err != nil {
		return &url.Error{Op: "Post", URL: u.Redacted(), Err: err}
	}
	defer resp.Body.Close()
	res.status = resp.StatusCode
	res.contentType = resp.Header.Get("Content-Type")
	if _, err := res.buf.ReadFrom(io.LimitReader(resp.Body, 64<<20)); err != nil {
		return fmt.Errorf("read response: %w", err)
	}
	return nil
}

// fnv1a hashes a sticky key. It is fixed (not seeded per process) so
// that every gateway replica and every restart pins a key to the same slot.
func fnv1a(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// upstreamError is a failure whose detail (an address) is for the log,
// not for the client.
type upstreamError struct{ reason, detail string }

func (e *upstreamError) Error() string { return e.reason + ": " + e.detail }

// clientReason says what went wrong without the upstream's address: a
// client of the gateway must not learn where the model servers listen.
func clientReason(err error) string {
	var ue *upstreamError
	var ne net.Error
	switch {
	case errors.As(err, &ue):
		return ue.reason
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "the model server did not answer in time"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "the model server is not running (connection refused)"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "the model server closed the connection"
	case strings.HasPrefix(err.Error(), "malformed V2 response"):
		return "the model server sent a malformed V2 response"
	case strings.HasPrefix(err.Error(), "malformed chat"):
		return "the model server sent a malformed chat completion"
	}
	return "the model server could not be reached"
}
