package chatops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/slack-go/slack"
)

// Click is what modelgate reads from a block_actions payload.
type Click struct {
	Type        slack.InteractionType
	Team        string
	User        string
	ActionID    string
	Value       string // the approval id of Approve / Reject
	ResponseURL string
	Channel     string
	MessageTs   string
}

// ParseInteraction reads the form body of POST /slack/interactions
// (payload=<JSON>) with slack-go's own types. It is fuzzed: outside input
// that does not parse is an error, never a panic.
func ParseInteraction(body []byte) (Click, error) {
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return Click{}, fmt.Errorf("the body is not a form: %w", err)
	}
	payload := form.Get("payload")
	if payload == "" {
		return Click{}, errors.New("payload is missing")
	}
	var ic slack.InteractionCallback
	if err := json.Unmarshal([]byte(payload), &ic); err != nil {
		return Click{}, fmt.Errorf("payload is not an interaction: %w", err)
	}
	c := Click{Type: ic.Type, Team: ic.Team.ID, User: ic.User.ID, ResponseURL: ic.ResponseURL,
		Channel: ic.Container.ChannelID, MessageTs: ic.Container.MessageTs}
	if c.Channel == "" {
		c.Channel = ic.Channel.ID
	}
	if c.MessageTs == "" {
		c.MessageTs = ic.Message.Timestamp
	}
	if ic.Type == slack.InteractionTypeBlockActions {
		if len(ic.ActionCallback.BlockActions) != 1 || ic.ActionCallback.BlockActions[0] == nil {
			return Click{}, errors.New("want exactly one action in a block_actions payload")
		}
		a := ic.ActionCallback.BlockActions[0]
		c.ActionID, c.Value = a.ActionID, a.Value
	}
	return c, nil
}

// interaction handles a button click on an approval message.
func (h *Handler) interaction(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body) // already read, capped and verified by verified()
	c, err := ParseInteraction(body)
	if err != nil {
		h.record(r.Context(), EventRefused, "", "", map[string]any{"why": "malformed interaction: " + clip(err.Error(), 200)})
		httpError(w, http.StatusBadRequest, "bad_payload", clip(err.Error(), 200))
		return
	}
	base := map[string]any{"slack_user": c.User, "slack_team": c.Team, "action": c.ActionID, "value": clip(c.Value, 100)}
	if c.Type != slack.InteractionTypeBlockActions || c.ActionID == ActionOpen {
		w.WriteHeader(http.StatusOK) // a link button or another surface: nothing to do
		return
	}
	if c.ActionID != ActionApprove && c.ActionID != ActionReject {
		h.record(r.Context(), EventRefused, "", "", with(base, "why", "unknown action"))
		httpError(w, http.StatusBadRequest, "unknown_action", "unknown action "+clip(c.ActionID, 60))
		return
	}
	if c.User == "" {
		h.record(r.Context(), EventRefused, "", "", with(base, "why", "no user"))
		httpError(w, http.StatusBadRequest, "bad_payload", "user.id is missing")
		return
	}
	p, why := h.identify(c.Team, c.User)
	if why != "" {
		h.record(r.Context(), EventRefused, "", "", with(base, "why", "unmapped Slack user"))
		w.WriteHeader(http.StatusOK)
		h.async(func(ctx context.Context) {
			h.respond(ctx, c.ResponseURL, &slack.WebhookMessage{ResponseType: slack.ResponseTypeEphemeral, Text: why})
		})
		return
	}
	decision := "approve"
	if c.ActionID == ActionReject {
		decision = "reject"
	}
	h.record(r.Context(), EventCommand, "", p.Subject, with(base, "command", decision+" (button)"))
	w.WriteHeader(http.StatusOK)
	h.async(func(ctx context.Context) {
		comment := decision + "d in Slack"
		a, err := h.vote(ctx, p, decision, c.Value, comment)
		if err != nil {
			h.record(ctx, EventRefused, a.RunID, p.Subject, with(base, "why", err.Error()))
			h.respond(ctx, c.ResponseURL, &slack.WebhookMessage{ResponseType: slack.ResponseTypeEphemeral, Text: ":no_entry: " + err.Error()})
			return
		}
		h.updateApprovalMessage(ctx, a, c.Channel, c.MessageTs)
		if h.o.BotToken == "" {
			// Without a bot token the message is rewritten through the
			// click's own response_url.
			h.respond(ctx, c.ResponseURL, &slack.WebhookMessage{ReplaceOriginal: true, Text: voteText(a, p, decision),
				Blocks: &slack.Blocks{BlockSet: h.ApprovalBlocks(a, "")}})
		}
	})
}
