package triggers

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/charmbracelet/log"

	"github.com/modelgate/modelgate/internal/audit"
	"github.com/modelgate/modelgate/internal/auth"
	"github.com/modelgate/modelgate/internal/store"
)

// Audit event types of the GitHub webhook.
const (
	EventGitHubRefused   = "github.refused"   // a delivery refused (rate-limited while unsigned)
	EventGitHubIgnored   = "github.ignored"   // a signed delivery that starts nothing
	EventGitHubTriggered = "github.triggered" // a retraining run started by a delivery
)

const (
	// maxGitHubBody is GitHub's own cap on a webhook payload.
	maxGitHubBody = 25 << 20
	// DefaultDeliveryTTL is how long a delivery id is remembered: GitHub
	// lets a person redeliver one for three days.
	DefaultDeliveryTTL = 7 * 24 * time.Hour
)

var deliveryPattern = regexp.MustCompile(`^[A-Za-z0-9-]{1,100}$`)

// GitHubIdentities maps GitHub logins to principals (the tokens file's
// github: field).
type GitHubIdentities interface {
	ByGitHub(login string) (auth.Principal, bool)
}

// GitHubOptions configures GitHubHook.
type GitHubOptions struct {
	// Secret is MODELGATE_GITHUB_WEBHOOK_SECRET; without it every
	// delivery is refused with 503.
	Secret     string
	Store      store.Store
	Starter    *Starter
	Identities GitHubIdentities
	Recorder   audit.Recorder
	Logger     *log.Logger
	Now        func() time.Time
	// DeliveryTTL is how long a delivery id is refused as a replay;
	// 0 = DefaultDeliveryTTL.
	DeliveryTTL time.Duration
}

// GitHubHook serves POST /webhooks/github.
type GitHubHook struct {
	o     GitHubOptions
	quiet quietLog
}

// NewGitHubHook builds the webhook handler.
func NewGitHubHook(o GitHubOptions) (*GitHubHook, error) {
	if o.Store == nil || o.Starter == nil {
		return nil, errors.New("github webhook: store and starter are required")
	}
	if o.Logger == nil {
		o.Logger = log.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.DeliveryTTL <= 0 {
		o.DeliveryTTL = DefaultDeliveryTTL
	}
	return &GitHubHook{o: o, quiet: quietLog{every: 10 * time.Second}}, nil
}

// HookStarted is one run a delivery started, in the response.
type HookStarted struct {
	Model string `json:"model"`
	RunID string `json:"run_id"`
}

// HookResponse is the body of a 200 or 202 answer.
type HookResponse struct {
	Delivery string            `json:"delivery"`
	Event    string            `json:"event"`
	Started  []HookStarted     `json:"started"`
	Ignored  string            `json:"ignored,omitempty"`
	Failed   map[string]string `json:"failed,omitempty"` // model → why its run did not start
}

// VerifyGitHubSignature checks X-Hub-Signature-256 (sha256=HEX of
// HMAC-SHA256(secret, body)) in constant time.
func VerifyGitHubSignature(secret, header string, body []byte) error {
	hexSig, ok := strings.CutPrefix(header, "sha256=")
	if header == "" {
		return errors.New("missing X-Hub-Signature-256")
	}
	got, err := hex.DecodeString(hexSig)
	if !ok || err != nil || len(got) != sha256.Size {
		return errors.New("X-Hub-Signature-256 is not sha256= followed by 64 hex digits")
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	if !hmac.Equal(got, mac.Sum(nil)) {
		return errors.New("X-Hub-Signature-256 does not verify")
	}
	return nil
}

// ServeHTTP implements http.Handler. Checks run in order, and nothing
// after a failed one runs: configured → body size → signature → delivery
// id claimed once → event and payload → matching models → start.
func (h *GitHubHook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	event, delivery := r.Header.Get("X-GitHub-Event"), r.Header.Get("X-GitHub-Delivery")
	if h.o.Secret == "" {
		h.refuseUnsigned(r, "not configured")
		writeError(w, http.StatusServiceUnavailable, "github_not_configured", "the GitHub webhook is not configured on this server (MODELGATE_GITHUB_WEBHOOK_SECRET)")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxGitHubBody))
	if err != nil {
		h.refuseUnsigned(r, "body too large or unreadable")
		writeError(w, http.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("request body over %d bytes or unreadable", maxGitHubBody))
		return
	}
	if err := VerifyGitHubSignature(h.o.Secret, r.Header.Get("X-Hub-Signature-256"), body); err != nil {
		h.refuseUnsigned(r, err.Error())
		writeError(w, http.StatusUnauthorized, "bad_signature", err.Error())
		return
	}
	// Signed from here on: every refusal is GitHub's (or a replay of it)
	// and is audited in full.
	if !deliveryPattern.MatchString(delivery) {
		h.refuse(r.Context(), w, http.StatusBadRequest, "bad_delivery", "X-GitHub-Delivery is missing or not a delivery id", event, clip(delivery))
		return
	}
	took, err := h.o.Store.ClaimTake(r.Context(), store.ClaimTakeParams{
		Key: "github:delivery:" + delivery, Owner: event, Until: h.o.Now().Add(h.o.DeliveryTTL)})
	if err != nil {
		h.o.Logger.Error("github: claim delivery", "delivery", delivery, "err", err)
		writeError(w, http.StatusServiceUnavailable, "unavailable", "could not record the delivery; GitHub may redeliver it")
		return
	}
	if !took {
		h.refuse(r.Context(), w, http.StatusConflict, "replayed", "delivery "+delivery+" was already received", event, delivery)
		return
	}
	e, err := ParseGitHubEvent(event, body)
	if errors.Is(err, ErrUnsupportedEvent) {
		h.refuse(r.Context(), w, http.StatusBadRequest, "unsupported_event", err.Error(), event, delivery)
		return
	}
	if err != nil {
		h.refuse(r.Context(), w, http.StatusBadRequest, "bad_payload", "payload of "+clip(event)+": "+err.Error(), event, delivery)
		return
	}
	resp := HookResponse{Delivery: delivery, Event: event, Started: []HookStarted{}}
	if e.Kind == GitHubPing {
		resp.Ignored = "ping"
		h.record(r.Context(), EventGitHubIgnored, "", map[string]any{"delivery": delivery, "event": event, "repository": e.Repository, "why": "ping"})
		writeJSON(w, http.StatusOK, resp)
		return
	}
	if e.Skip != "" {
		resp.Ignored = e.Skip
		h.record(r.Context(), EventGitHubIgnored, "", h.eventData(e, delivery, map[string]any{"why": e.Skip}))
		writeJSON(w, http.StatusOK, resp)
		return
	}
	h.start(r.Context(), w, e, delivery, resp)
}

// start begins a retraining run for every model the event matches.
func (h *GitHubHook) start(ctx context.Context, w http.ResponseWriter, e GitHubEvent, delivery string, resp HookResponse) {
	all, err := LoadAll(ctx, h.o.Store)
	if err != nil && all == nil {
		h.o.Logger.Error("github: load settings", "err", err)
		writeError(w, http.StatusServiceUnavailable, "unavailable", "could not read the models' settings")
		return
	}
	var models []string
	why := map[string]string{}
	for m, s := range all {
		if s.GitHub == nil {
			continue
		}
		if ok, reason := s.GitHub.MatchGitHub(e); ok {
			models = append(models, m)
		} else {
			why[m] = reason
		}
	}
	sort.Strings(models)
	if len(models) == 0 {
		resp.Ignored = "no model's registered training-code paths changed"
		h.record(ctx, EventGitHubIgnored, "", h.eventData(e, delivery, map[string]any{"why": resp.Ignored, "not_matched": why}))
		writeJSON(w, http.StatusOK, resp)
		return
	}
	requester, author := h.people(e)
	for _, m := range models {
		labels := map[string]string{"commit.author": e.Author(), "github.event": e.Kind,
			"github.repository": e.Repository, "github.ref": e.Ref, "github.delivery": delivery}
		if shaPattern.MatchString(e.SHA) {
			labels["commit.sha"] = e.SHA
		} else if e.SHA != "" {
			labels["commit.ref"] = clip(e.SHA) // a release's target_commitish may be a branch
		}
		p := StartParams{Model: m, Kind: KindRetrain, Trigger: "github", Requester: requester, CommitAuthor: author,
			Labels: labels, IdempotencyKey: "github:" + delivery + ":" + m}
		plan, err := h.o.Starter.Plan(ctx, p)
		var run store.Run
		if err == nil {
			run, _, err = h.o.Starter.Start(ctx, p, plan)
		}
		if err != nil {
			if resp.Failed == nil {
				resp.Failed = map[string]string{}
			}
			resp.Failed[m] = err.Error()
			h.o.Logger.Error("github: start retraining", "model", m, "delivery", delivery, "err", err)
			h.record(ctx, EventGitHubRefused, "", h.eventData(e, delivery, map[string]any{"model": m, "why": err.Error()}))
			continue
		}
		resp.Started = append(resp.Started, HookStarted{Model: m, RunID: run.ID})
		h.record(ctx, EventGitHubTriggered, run.ID, h.eventData(e, delivery, map[string]any{"model": m, "commit_author": author}))
	}
	status := http.StatusAccepted
	if len(resp.Started) == 0 {
		status = http.StatusInternalServerError
	}
	writeJSON(w, status, resp)
}

// people names the run's requester (who pushed) and commit author as
// modelgate subjects where the tokens file maps their GitHub logins, so
// that neither can approve the run; unmapped, they keep GitHub's names,
// which match no reviewer.
func (h *GitHubHook) people(e GitHubEvent) (requester, author string) {
	requester, author = "github", e.Author()
	if h.o.Identities == nil {
		return requester, author
	}
	if p, ok := h.o.Identities.ByGitHub(e.Sender); ok {
		requester = p.Subject
	} else if e.Sender != "" {
		requester = "github:" + e.Sender
	}
	if p, ok := h.o.Identities.ByGitHub(e.AuthorLogin); ok {
		author = p.Subject
	}
	return requester, author
}

func (h *GitHubHook) eventData(e GitHubEvent, delivery string, extra map[string]any) map[string]any {
	m := map[string]any{"delivery": delivery, "event": e.Kind, "repository": e.Repository, "ref": e.Ref, "sha": e.SHA,
		"author": e.Author(), "sender": e.Sender, "files": len(e.Files)}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

// refuse answers and audits a signed delivery that starts nothing.
func (h *GitHubHook) refuse(ctx context.Context, w http.ResponseWriter, status int, code, msg, event, delivery string) {
	h.o.Logger.Warn("github delivery refused", "code", code, "event", clip(event), "delivery", delivery)
	h.record(ctx, EventGitHubRefused, "", map[string]any{"code": code, "why": msg, "event": clip(event), "delivery": delivery})
	writeError(w, status, code, msg)
}

// refuseUnsigned logs a delivery that did not prove it came from GitHub
// and audits it at most once per 10 s with a count, as chat-ops does for
// Slack: anyone on the network can send these.
func (h *GitHubHook) refuseUnsigned(r *http.Request, why string) {
	h.o.Logger.Warn("github delivery refused", "why", why, "remote", r.RemoteAddr)
	if n, ok := h.quiet.allow(h.o.Now()); ok {
		h.record(r.Context(), EventGitHubRefused, "", map[string]any{"why": why, "remote": r.RemoteAddr,
			"event": clip(r.Header.Get("X-GitHub-Event")), "suppressed_before": n})
	}
}

func (h *GitHubHook) record(ctx context.Context, typ, runID string, data map[string]any) {
	if h.o.Recorder == nil {
		return
	}
	if err := h.o.Recorder.Record(context.WithoutCancel(ctx), typ, runID, "github", data); err != nil {
		h.o.Logger.Error("audit record failed", "type", typ, "err", err)
	}
}

// quietLog lets one event through per interval and counts the rest.
type quietLog struct {
	mu         sync.Mutex
	every      time.Duration
	last       time.Time
	suppressed int
}

func (l *quietLog) allow(now time.Time) (int, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.last.IsZero() && now.Sub(l.last) < l.every {
		l.suppressed++
		return 0, false
	}
	n := l.suppressed
	l.last, l.suppressed = now, 0
	return n, true
}
