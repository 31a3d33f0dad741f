package chatops

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/slack-go/slack"

	"github.com/modelgate/modelgate/agents/assistant"
	"github.com/modelgate/modelgate/coordinator"
	"github.com/modelgate/modelgate/internal/chatops/triggers"
	"github.com/modelgate/modelgate/internal/store"
)

// Notification is one run event for a model's channel and webhooks.
type Notification struct {
	Event       string    `json:"event"` // triggers.Event*
	Delivery    string    `json:"delivery"`
	Model       string    `json:"model"`
	Environment string    `json:"environment,omitempty"`
	RunID       string    `json:"run_id,omitempty"`
	State       string    `json:"state,omitempty"`
	ApprovalID  string    `json:"approval_id,omitempty"`
	Text        string    `json:"text"`
	Evidence    string    `json:"evidence,omitempty"`
	At          time.Time `json:"at"`

	approval *store.Approval
}

// SignatureHeader carries an outgoing webhook's signature:
// "sha256=" + hex HMAC-SHA256 of the body with the hook's secret, as
// GitHub signs its own deliveries.
const SignatureHeader = "X-Modelgate-Signature-256"

// backoff is the wait before each retry of a webhook delivery.
var backoff = []time.Duration{time.Second, 5 * time.Second, 30 * time.Second, 2 * time.Minute}

// WatchRuns turns the coordinator's state events into notifications until
// ctx ends. Events are lossy under load (the coordinator drops them for a
// slow subscriber); this loop only reads the store and hands off.
func (h *Handler) WatchRuns(ctx context.Context, c *coordinator.Coordinator) {
	ch, stop := c.Subscribe("*")
	defer stop()
	for {
		select {
		case <-ctx.Done():
			return
		case e := <-ch:
			if e.Type != "state" {
				continue
			}
			h.NotifyRun(ctx, e.RunID, e.State, e.Time)
		}
	}
}

// NotifyRun notifies that a run reached state (read back from the store,
// so an event carries nothing the notification trusts).
func (h *Handler) NotifyRun(ctx context.Context, runID string, state store.RunState, at time.Time) {
	if n, ok := h.fromRunEvent(ctx, runID, state, at); ok {
		h.Notify(ctx, n)
	}
}

func (h *Handler) fromRunEvent(ctx context.Context, runID string, state store.RunState, at time.Time) (Notification, bool) {
	run, err := h.o.Store.RunGet(ctx, runID)
	if err != nil {
		return Notification{}, false
	}
	n := Notification{Model: run.Model, Environment: run.Environment, RunID: run.ID, State: string(state), At: at}
	switch state {
	case store.RunRunning:
		n.Event = triggers.EventRunStarted
		n.Text = fmt.Sprintf(":arrow_forward: Run `%s` of *%s* (%s) started (%s, by %s).", run.ID, run.Model, run.Environment, run.Trigger, run.Requester)
	case store.RunAwaitingApproval:
		as, err := h.o.Store.ApprovalList(ctx, store.ApprovalListParams{RunID: run.ID, States: []store.ApprovalState{store.ApprovalPending}, Limit: 1})
		if err != nil || len(as) == 0 {
			return Notification{}, false
		}
		n.Event, n.approval, n.ApprovalID = triggers.EventAwaitingApproval, &as[0], as[0].ID
		n.Text = fmt.Sprintf(":raised_hand: Run `%s` of *%s* needs approval (%s).", run.ID, run.Model, as[0].ID)
		n.Evidence = h.evidence(ctx, run.ID)
	case store.RunSucceeded:
		n.Event = triggers.EventPromoted
		n.Text = fmt.Sprintf(":tada: Run `%s` promoted *%s* version %s in %s.", run.ID, run.Model, orDash(run.Candidate.Version), run.Environment)
	case store.RunRolledBack:
		n.Event = triggers.EventRolledBack
		n.Text = fmt.Sprintf(":rewind: Run `%s` of *%s* was rolled back: %s", run.ID, run.Model, clip(run.Error, 300))
	case store.RunFailed:
		n.Event = triggers.EventRunFailed
		n.Text = fmt.Sprintf(":x: Run `%s` of *%s* failed: %s", run.ID, run.Model, clip(run.Error, 300))
	default:
		return Notification{}, false
	}
	return n, true
}

// evidence is one line per finished stage: its verdict and summary, as
// the agents wrote them.
func (h *Handler) evidence(ctx context.Context, runID string) string {
	stages, err := h.o.Store.StageList(ctx, runID)
	if err != nil {
		return ""
	}
	var b strings.Builder
	for _, s := range stages {
		if len(s.Report) == 0 {
			continue
		}
		var rep struct {
			Summary string `json:"Summary"`
		}
		_ = json.Unmarshal(s.Report, &rep)
		fmt.Fprintf(&b, "• %s: %s", s.Name, orDash(s.Verdict))
		if rep.Summary != "" {
			b.WriteString(" — " + clip(rep.Summary, 200))
		}
		b.WriteString("\n")
	}
	// The reviewer brief, grounded in the same evidence (an LLM's when one
	// passed the grounding check, else the template's), so that a reviewer
	// deciding from Slack reads what the web page shows.
	if run, err := h.o.Store.RunGet(ctx, runID); err == nil {
		if br, _, _, err := assistant.View(ctx, h.o.Store, run); err == nil && br != nil && br.Text != "" {
			fmt.Fprintf(&b, "*Brief* (%s, %s):\n%s\n", br.Source, br.Prompt, slackEscape(clip(br.Text, 1500)))
		}
	}
	return b.String()
}

// slackEscape makes text literal in Slack's mrkdwn: &, < and > are its
// only control characters, and "<!channel>" in a model's words must not
// notify a whole channel.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// Notify sends n to the model's Slack channel and webhooks, as its
// settings say. Webhook deliveries retry in the background.
func (h *Handler) Notify(ctx context.Context, n Notification) {
	if n.Delivery == "" {
		n.Delivery = uuid.NewString()
	}
	if n.At.IsZero() {
		n.At = h.o.Now().UTC()
	}
	set, err := triggers.Load(ctx, h.o.Store, n.Model)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			h.o.Logger.Error("notify: read settings", "model", n.Model, "err", err)
		}
		return
	}
	if set.Slack != nil && h.o.BotToken != "" {
		h.postToChannel(ctx, set.Slack.Channel, n)
	}
	for _, w := range set.Webhooks {
		if w.WantsEvent(n.Event) {
			h.async(func(ctx context.Context) { h.deliver(ctx, w, n) })
		}
	}
}

func (h *Handler) postToChannel(ctx context.Context, channel string, n Notification) {
	opts := []slack.MsgOption{slack.MsgOptionText(n.Text, false)}
	if n.approval != nil {
		opts = append(opts, slack.MsgOptionBlocks(h.ApprovalBlocks(*n.approval, n.Evidence)...))
	}
	ch, ts, err := h.api.PostMessageContext(ctx, channel, opts...)
	if err != nil {
		h.o.Logger.Error("slack: post notification", "model", n.Model, "channel", channel, "err", err)
		return
	}
	if n.approval != nil {
		h.msgs.put(n.approval.ID, msgRef{channel: ch, ts: ts})
	}
	h.record(ctx, EventNotified, n.RunID, "modelgate", map[string]any{"model": n.Model, "event": n.Event, "channel": ch, "ts": ts})
}

// ApprovalDecided updates the approval message after a decision made
// anywhere (web page, CLI, Slack): the queue's OnDecided hook.
func (h *Handler) ApprovalDecided(ctx context.Context, a store.Approval) {
	h.async(func(ctx context.Context) { h.updateApprovalMessage(ctx, a, "", "") })
}

// deliver posts n to a webhook, retrying transient failures with
// backoff; every attempt is recorded in the audit trail (in the store).
func (h *Handler) deliver(ctx context.Context, w triggers.Webhook, n Notification) {
	body, err := json.Marshal(n)
	if err != nil {
		h.o.Logger.Error("webhook: encode", "err", err)
		return
	}
	mac := hmac.New(sha256.New, []byte(w.Secret))
	mac.Write(body)
	sig := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	waits := h.backoff()
	for attempt := 1; ; attempt++ {
		status, err := h.post(ctx, w.URL, body, sig, n)
		ok := err == nil && status >= 200 && status < 300
		data := map[string]any{"model": n.Model, "event": n.Event, "delivery": n.Delivery, "url": safeURL(w.URL), "attempt": attempt, "status": status, "ok": ok}
		if err != nil {
			data["error"] = clip(err.Error(), 300)
		}
		h.record(ctx, EventWebhookSent, n.RunID, "modelgate", data)
		// A 4xx other than timeout / too many requests will not get better.
		permanent := err == nil && status >= 400 && status < 500 && status != http.StatusRequestTimeout && status != http.StatusTooManyRequests
		if ok || permanent || attempt > len(waits) {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(waits[attempt-1]):
		}
	}
}

func (h *Handler) backoff() []time.Duration {
	if h.o.WebhookBackoff != nil {
		return h.o.WebhookBackoff
	}
	return backoff
}

func (h *Handler) post(ctx context.Context, u string, body []byte, sig string, n Notification) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "modelgate-webhook")
	req.Header.Set("X-Modelgate-Event", n.Event)
	req.Header.Set("X-Modelgate-Delivery", n.Delivery)
	req.Header.Set(SignatureHeader, sig)
	resp, err := h.o.HTTPClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	return resp.StatusCode, nil
}

// safeURL drops a URL's query and user info, which often hold tokens,
// before it goes into the audit trail.
func safeURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable)"
	}
	u.User, u.RawQuery, u.Fragment = nil, "", ""
	return u.String()
}
