package chatops

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
	"strings"
	"sync"
	"time"

	"github.com/charmbracelet/log"
	"github.com/slack-go/slack"

	"github.com/modelgate/modelgate/agents/assistant"
	"github.com/modelgate/modelgate/internal/audit"
	"github.com/modelgate/modelgate/internal/auth"
	"github.com/modelgate/modelgate/internal/chatops/triggers"
	"github.com/modelgate/modelgate/internal/store"
)

// Audit event types chat-ops writes.
const (
	EventCommand     = "slack.command"    // an accepted command or click, before it acts
	EventRefused     = "slack.refused"    // a signed request refused: unmapped user, not allowed, bad input
	EventUnsigned    = "slack.unsigned"   // requests refused before any signature was valid (rate-limited)
	EventNotified    = "slack.notified"   // a notification posted to a channel
	EventWebhookSent = "webhook.delivery" // one outgoing webhook attempt
	EventDriftAlert  = "drift.alert"      // written by the monitor, notified here
	maxBody          = 64 << 10           // Slack's payloads are a few KiB
	replayWindow     = 5 * time.Minute    // Slack's own window for request timestamps
	workTimeout      = 2 * time.Minute    // one command's asynchronous work
	slackHooksPrefix = "https://hooks.slack.com/"
)

// Identities maps Slack users to principals (the tokens file).
type Identities interface {
	BySlack(userID string) (auth.Principal, bool)
}

// Approvals is the approval queue as chat-ops uses it.
type Approvals interface {
	Get(ctx context.Context, id string) (store.Approval, error)
	Approve(ctx context.Context, id string, by auth.Principal, comment string) (store.Approval, error)
	Reject(ctx context.Context, id string, by auth.Principal, comment string) (store.Approval, error)
}

// Rollouts is the deployment agent's manual controls.
type Rollouts interface {
	Promote(ctx context.Context, runID, actor string) error
	Rollback(ctx context.Context, model, env, actor, reason string) (store.Production, error)
}

// Options configures New.
type Options struct {
	// SigningSecret is the Slack app's signing secret
	// (MODELGATE_SLACK_SIGNING_SECRET); without it every request is refused.
	SigningSecret string
	// BotToken (MODELGATE_SLACK_BOT_TOKEN) posts notifications and updates
	// approval messages with chat.postMessage / chat.update.
	BotToken string
	// APIURL overrides Slack's Web API base (--slack-api-url), for tests;
	// response_url values under it are then accepted too.
	APIURL string
	// PublicURL is modelgate's own address for "Open in modelgate" links.
	PublicURL string
	// TeamID, when set, is the only Slack workspace whose requests count.
	TeamID string

	Store      store.Store
	Identities Identities
	Authorize  triggers.Authorizer
	Approvals  Approvals
	Rollouts   Rollouts // nil: promote and rollback answer "not available"
	Starter    *triggers.Starter
	// Ask turns a sentence into a proposed command (agents/assistant);
	// nil: `/modelgate ask` answers "not available". It only proposes: the
	// reply names the slash command to run, which is authorized as typed.
	Ask        func(ctx context.Context, p auth.Principal, sentence string) (assistant.Proposal, error)
	Recorder   audit.Recorder
	Logger     *log.Logger
	HTTPClient *http.Client
	Now        func() time.Time
	// WebhookBackoff is the wait before each retry of a webhook delivery;
	// nil = 1s, 5s, 30s, 2m.
	WebhookBackoff []time.Duration
}

// Handler serves /slack/commands and /slack/interactions.
type Handler struct {
	o      Options
	mux    *http.ServeMux
	api    *slack.Client
	ctx    context.Context // outlives requests: the work after the acknowledgement
	cancel context.CancelFunc
	work   sync.WaitGroup
	quiet  limiter
	msgs   messageRefs
}

// New builds the handler.
func New(o Options) (*Handler, error) {
	if o.Store == nil || o.Identities == nil || o.Authorize == nil || o.Approvals == nil {
		return nil, errors.New("chatops: store, identities, authorizer and approvals are required")
	}
	if o.Logger == nil {
		o.Logger = log.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	opts := []slack.Option{slack.OptionHTTPClient(o.HTTPClient)}
	if o.APIURL != "" {
		if !strings.HasSuffix(o.APIURL, "/") {
			o.APIURL += "/"
		}
		opts = append(opts, slack.OptionAPIURL(o.APIURL))
	}
	h := &Handler{o: o, mux: http.NewServeMux(), api: slack.New(o.BotToken, opts...), quiet: limiter{every: 10 * time.Second}}
	h.ctx, h.cancel = context.WithCancel(context.Background())
	h.mux.Handle("POST /slack/commands", h.verified(h.command))
	h.mux.Handle("POST /slack/interactions", h.verified(h.interaction))
	return h, nil
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// Close waits for the work of acknowledged requests, then stops it.
func (h *Handler) Close() error {
	done := make(chan struct{})
	go func() { h.work.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
	}
	h.cancel()
	return nil
}

// Wait blocks until the work of every acknowledged request is done
// (tests, shutdown).
func (h *Handler) Wait() { h.work.Wait() }

// async runs f after the acknowledgement, bounded in time.
func (h *Handler) async(f func(ctx context.Context)) {
	h.work.Add(1)
	go func() {
		defer h.work.Done()
		ctx, cancel := context.WithTimeout(h.ctx, workTimeout)
		defer cancel()
		f(ctx)
	}()
}

// verified checks a request's signature over its raw body before
// anything reads it, refuses a replay of a signature already seen, and
// hands the body back restored for parsing.
func (h *Handler) verified(next func(w http.ResponseWriter, r *http.Request)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h.o.SigningSecret == "" {
			h.refuseUnsigned(r, "not configured")
			httpError(w, http.StatusServiceUnavailable, "slack_not_configured", "Slack is not configured on this server (MODELGATE_SLACK_SIGNING_SECRET)")
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
		if err != nil {
			h.refuseUnsigned(r, "body too large or unreadable")
			httpError(w, http.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("request body over %d bytes or unreadable", maxBody))
			return
		}
		sv, err := slack.NewSecretsVerifier(r.Header, h.o.SigningSecret)
		if err == nil {
			_, _ = sv.Write(body)
			err = sv.Ensure()
		}
		if err != nil {
			why, msg := "invalid signature", "the request signature does not verify"
			switch {
			case errors.Is(err, slack.ErrMissingHeaders):
				why, msg = "missing signature", "missing X-Slack-Signature or X-Slack-Request-Timestamp"
			case errors.Is(err, slack.ErrExpiredTimestamp):
				why, msg = "expired timestamp", "X-Slack-Request-Timestamp is more than 5 minutes from the server's clock"
			}
			h.refuseUnsigned(r, why)
			httpError(w, http.StatusUnauthorized, "bad_signature", msg)
			return
		}
		// The signature is valid for five minutes: whoever saw the request
		// could send it again. The first one to claim it wins, on every
		// replica and across a restart.
		sig := sha256.Sum256([]byte(r.Header.Get("X-Slack-Signature")))
		took, err := h.o.Store.ClaimTake(r.Context(), store.ClaimTakeParams{
			Key: "slack:sig:" + hex.EncodeToString(sig[:]), Owner: r.URL.Path, Until: h.o.Now().Add(2*replayWindow + time.Minute)})
		if err != nil {
			h.o.Logger.Error("slack: claim request", "err", err)
			httpError(w, http.StatusServiceUnavailable, "unavailable", "could not record the request; try again")
			return
		}
		if !took {
			h.refuseUnsigned(r, "replayed request")
			httpError(w, http.StatusConflict, "replayed", "this signed request was already received")
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		next(w, r)
	})
}

// refuseUnsigned logs a request refused before it proved it came from
// Slack, and audits it at most once per 10 s with a count of the ones
// folded in: anyone on the network can send these, and the trail must not
// become theirs to fill.
func (h *Handler) refuseUnsigned(r *http.Request, why string) {
	h.o.Logger.Warn("slack request refused", "path", r.URL.Path, "why", why, "remote", r.RemoteAddr)
	if n, ok := h.quiet.allow(h.o.Now()); ok {
		h.record(r.Context(), EventUnsigned, "", "", map[string]any{"path": r.URL.Path, "why": why, "remote": r.RemoteAddr, "suppressed_before": n})
	}
}

func (h *Handler) record(ctx context.Context, typ, runID, actor string, data map[string]any) {
	if h.o.Recorder == nil {
		return
	}
	if err := h.o.Recorder.Record(context.WithoutCancel(ctx), typ, runID, actor, data); err != nil {
		h.o.Logger.Error("audit record failed", "type", typ, "err", err)
	}
}

// limiter lets one event through per interval and counts the rest.
type limiter struct {
	mu         sync.Mutex
	every      time.Duration
	last       time.Time
	suppressed int
}

func (l *limiter) allow(now time.Time) (int, bool) {
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

// identify maps the Slack user of a signed request to a principal. The
// workspace is checked first when one is configured: a user id is only
// unique within its workspace.
func (h *Handler) identify(team, user string) (auth.Principal, string) {
	if h.o.TeamID != "" && team != h.o.TeamID {
		return auth.Principal{}, fmt.Sprintf("This Slack workspace (%s) is not the one modelgate is set up for.", team)
	}
	p, ok := h.o.Identities.BySlack(user)
	if !ok {
		return auth.Principal{}, fmt.Sprintf("Your Slack account (%s) is not linked to a modelgate identity, so modelgate did nothing. "+
			"Ask a modelgate admin to add `slack: [%s]` to your entry in the tokens file.", user, user)
	}
	return p, ""
}

// authorize asks the policy; an evaluation error is a denial.
func (h *Handler) authorize(ctx context.Context, p auth.Principal, action, model, env string) error {
	ok, err := h.o.Authorize(ctx, p, action, model, env)
	if err != nil {
		h.o.Logger.Error("authorization policy failed; denying", "action", action, "by", p.Subject, "err", err)
		return errors.New("the authorization policy could not be evaluated, so this is denied")
	}
	if !ok {
		what := action
		if model != "" {
			what += " on model " + model
		}
		if env != "" {
			what += " in " + env
		}
		return &deniedError{fmt.Sprintf("%s (roles %s) may not %s.", p.Subject, strings.Join(p.Roles, ", "), what)}
	}
	return nil
}

type deniedError struct{ msg string }

func (e *deniedError) Error() string { return e.msg }

// okResponseURL accepts only Slack's own response URLs (or the test API
// base): the URL comes from the payload, and the server must not be made
// to post to an address of the sender's choosing.
func (h *Handler) okResponseURL(u string) bool {
	if strings.HasPrefix(u, slackHooksPrefix) {
		return true
	}
	return h.o.APIURL != "" && strings.HasPrefix(u, h.o.APIURL)
}

func ephemeral(w http.ResponseWriter, text string) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(slack.Msg{ResponseType: slack.ResponseTypeEphemeral, Text: text})
}

func httpError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": msg}})
}
