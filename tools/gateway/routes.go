package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Modes a route table can be in.
const (
	ModeStable    = "stable"    // all traffic to stable
	ModeShadow    = "shadow"    // all traffic to stable, a share mirrored to the candidate
	ModeCanary    = "canary"    // CandidateWeight percent to the candidate
	ModeBlueGreen = "bluegreen" // candidate ("green") beside stable ("blue"); CandidateWeight is 0 or 100
)

// Backend is one version of a model behind the gateway.
type Backend struct {
	Version string `json:"version"`
	URL     string `json:"url"`            // base URL of a V2 (or OpenAI-compatible) server
	Name    string `json:"name,omitempty"` // model name at that server; default the route's model
	// Prompt makes the backend a prompt version (prompt.go): URL is then
	// the prompt's OpenAI-compatible base URL, ending in /v1.
	Prompt *PromptSpec `json:"prompt,omitempty"`
}

// RouteTable is how one model's traffic is split. Tables are immutable
// once handed to SetRoutes: a change is a new table swapped in whole, so a
// request sees either the old split or the new one, never a mix.
type RouteTable struct {
	Model           string   `json:"model"`
	Stable          Backend  `json:"stable"`
	Candidate       *Backend `json:"candidate,omitempty"`
	CandidateWeight int      `json:"candidate_weight"`        // percent of traffic, 0..100
	ShadowShare     float64  `json:"shadow_share"`            // share of requests mirrored to the candidate, 0..1
	Mode            string   `json:"mode"`                    // stable | shadow | canary | bluegreen
	Preview         bool     `json:"preview,omitempty"`       // /preview/... reaches the candidate
	StickyHeader    string   `json:"sticky_header,omitempty"` // overrides the gateway's default
	Threshold       float64  `json:"threshold,omitempty"`     // class boundary for single-score agreement; default 0.5
	Features        []string `json:"features,omitempty"`      // names of a 2-D input's columns, for the input sample
	RunID           string   `json:"run_id,omitempty"`        // the rollout that wrote it
	// CandidateTimeoutMs bounds each call to the candidate (a timeout is a
	// candidate error, answered by stable); 0 = the gateway's default.
	CandidateTimeoutMs int       `json:"candidate_timeout_ms,omitempty"`
	UpdatedAt          time.Time `json:"updated_at,omitzero"`
}

// RouteError says what is wrong with a route table.
type RouteError struct {
	Model string
	Field string
	Msg   string
}

func (e *RouteError) Error() string {
	return fmt.Sprintf("route table for model %q: %s: %s", e.Model, e.Field, e.Msg)
}

// ErrUnknownModel is returned for a model without a route table.
var ErrUnknownModel = errors.New("no route for model")

// Validate checks a table before it can carry traffic.
func (t RouteTable) Validate() error {
	bad := func(field, msg string) error { return &RouteError{Model: t.Model, Field: field, Msg: msg} }
	if t.Model == "" || strings.ContainsAny(t.Model, "/?#% ") {
		return bad("model", "must be a non-empty name without '/', '?', '#', '%' or spaces")
	}
	if err := t.Stable.validate(); err != nil {
		return bad("stable", err.Error())
	}
	if t.CandidateWeight < 0 || t.CandidateWeight > 100 {
		return bad("candidate_weight", fmt.Sprintf("must be between 0 and 100, got %d", t.CandidateWeight))
	}
	if t.CandidateTimeoutMs < 0 {
		return bad("candidate_timeout_ms", fmt.Sprintf("must be 0 (the default) or positive, got %d", t.CandidateTimeoutMs))
	}
	if t.ShadowShare < 0 || t.ShadowShare > 1 || t.ShadowShare != t.ShadowShare {
		return bad("shadow_share", fmt.Sprintf("must be between 0 and 1, got %v", t.ShadowShare))
	}
	if t.Threshold < 0 || t.Threshold >= 1 {
		return bad("threshold", "must be in [0, 1)")
	}
	needCandidate := t.CandidateWeight > 0 || t.ShadowShare > 0 || t.Preview
	switch t.Mode {
	case ModeStable:
		if t.CandidateWeight > 0 || t.ShadowShare > 0 {
			return bad("mode", "stable mode sends nothing to a candidate; set candidate_weight and shadow_share to 0")
		}
	case ModeShadow:
		if t.CandidateWeight > 0 {
			return bad("mode", "shadow mode never answers from the candidate; candidate_weight must be 0")
		}
		needCandidate = true
	case ModeCanary:
		needCandidate = true
	case ModeBlueGreen:
		if t.CandidateWeight != 0 && t.CandidateWeight != 100 {
			return bad("candidate_weight", "blue-green switches all traffic at once: 0 or 100")
		}
		needCandidate = true
	default:
		return bad("mode", fmt.Sprintf("must be stable, shadow, canary or bluegreen, got %q", t.Mode))
	}
	if needCandidate {
		if t.Candidate == nil {
			return bad("candidate", "is required in mode "+t.Mode)
		}
		if err := t.Candidate.validate(); err != nil {
			return bad("candidate", err.Error())
		}
		if t.Candidate.Version == t.Stable.Version {
			return bad("candidate.version", fmt.Sprintf("is the stable version %q", t.Stable.Version))
		}
	}
	if t.StickyHeader != "" && strings.ContainsAny(t.StickyHeader, " :\r\n") {
		return bad("sticky_header", "is not a header name")
	}
	return nil
}

func (b Backend) validate() error {
	if b.Version == "" {
		return errors.New("version is required")
	}
	u, err := url.Parse(b.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("url %q is not an http(s) base URL", b.URL)
	}
	if strings.ContainsAny(b.Name, "/?#% ") {
		return fmt.Errorf("name %q must not contain '/', '?', '#', '%%' or spaces", b.Name)
	}
	if b.Prompt != nil {
		return b.Prompt.validate()
	}
	return nil
}

// DecodeRouteTable parses a stored table and validates it.
func DecodeRouteTable(model string, raw []byte) (RouteTable, error) {
	var t RouteTable
	if err := json.Unmarshal(raw, &t); err != nil {
		return t, fmt.Errorf("decode route table for model %q: %w", model, err)
	}
	if t.Model == "" {
		t.Model = model
	}
	if t.Model != model {
		return t, &RouteError{Model: model, Field: "model", Msg: fmt.Sprintf("stored under %q but names %q", model, t.Model)}
	}
	return t, t.Validate()
}

// backend is a Backend made ready for the hot path.
type backend struct {
	Backend
	role     string // stable | candidate
	inferURL string
	chatURL  string
	// The same URLs parsed once, and the response header value naming the
	// version, so that the hot path neither parses URLs nor allocates
	// them per request (both are read-only once compiled).
	inferU, chatU *url.URL
	// Request targets (path and query) of the two URLs, for the direct
	// HTTP/1.1 client.
	inferTarget, chatTarget string
	versionHdr              []string
	stats                   *series
	metrics                 *versionMetrics
	timeout                 time.Duration // per call: the gateway's for stable, shorter for a candidate
	prompt                  *PromptSpec   // applied to every chat request sent here; nil for a plain backend
}

// route is a compiled RouteTable: URLs precomputed, stats bound.
type route struct {
	table     RouteTable
	stable    *backend
	candidate *backend
	// slots of the 10,000-slot hash ring owned by the candidate: a key
	// lands on slot hash%10000, and the candidate owns slots [0, n). Raising
	// the weight only moves keys from stable to candidate, never back,
	// so a sticky client switches version at most once during a rollout.
	candidateSlots uint64
	shadowMilli    uint64 // shadow share in 1/1,000,000
	sticky         string
	threshold      float64
	model          *modelState
	shadowMetrics  *shadowMetrics
}

const ringSlots = 10000

func joinURL(base, path string) string { return strings.TrimRight(base, "/") + path }

func compileBackend(t RouteTable, b Backend, role string, ms *modelState, m *metrics) *backend {
	name := b.Name
	if name == "" {
		name = t.Model
	}
	be := &backend{
		Backend:    b,
		role:       role,
		inferURL:   joinURL(b.URL, "/v2/models/"+url.PathEscape(name)+"/infer"),
		chatURL:    joinURL(b.URL, "/v1/chat/completions"),
		versionHdr: []string{b.Version},
		prompt:     b.Prompt,
		stats:      ms.series(b.Version),
		metrics:    m.forVersion(t.Model, b.Version),
	}
	if b.Prompt != nil {
		be.chatURL = joinURL(b.URL, "/chat/completions") // an OpenAI base URL already ends in /v1
	}
	// Validate checked the base URL, so these parse; a nil one makes
	// roundTrip report the parse error as before instead of panicking.
	be.inferU, _ = url.Parse(be.inferURL)
	be.chatU, _ = url.Parse(be.chatURL)
	if be.inferU != nil {
		be.inferTarget = be.inferU.RequestURI()
	}
	if be.chatU != nil {
		be.chatTarget = be.chatU.RequestURI()
	}
	return be
}
