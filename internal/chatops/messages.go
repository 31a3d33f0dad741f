package chatops

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"

	"github.com/modelgate/modelgate/internal/store"
)

// Action ids of the approval message's buttons.
const (
	ActionApprove = "modelgate.approve"
	ActionReject  = "modelgate.reject"
	ActionOpen    = "modelgate.open"
)

// messageRefs remembers where each approval message was posted, so that
// a decision made elsewhere (web page, CLI) updates it too. It is memory
// only: after a restart, a click still updates its own message (the
// payload says where it is).
type messageRefs struct {
	mu sync.Mutex
	m  map[string]msgRef
}

type msgRef struct{ channel, ts string }

func (r *messageRefs) put(id string, ref msgRef) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[string]msgRef{}
	}
	r.m[id] = ref
}

func (r *messageRefs) get(id string) (msgRef, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ref, ok := r.m[id]
	return ref, ok
}

func (h *Handler) runLink(runID string) string {
	if h.o.PublicURL == "" {
		return ""
	}
	return fmt.Sprintf("<%s/ui/runs/%s|Open in modelgate>", strings.TrimSuffix(h.o.PublicURL, "/"), runID)
}

// ApprovalBlocks is the approval message: what is asked, the evidence
// summary, and the buttons while it is pending; who decided and when
// once it is not.
func (h *Handler) ApprovalBlocks(a store.Approval, evidence string) []slack.Block {
	head := fmt.Sprintf("*Approval needed:* %s → %s (risk %s)\nrun `%s`, requested by %s", a.Model, a.Environment, orDash(a.Risk), a.RunID, a.Requester)
	if a.CommitAuthor != "" {
		head += ", commit by " + a.CommitAuthor
	}
	head += fmt.Sprintf("\ncandidate `%s`\napproval `%s`: %d approval(s) from %s", short(a.CandidateDigest), a.ID, a.Min, groupsText(a.Groups))
	blocks := []slack.Block{slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, head, false, false), nil, nil)}
	if len(a.Reasons) > 0 {
		blocks = append(blocks, slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, "*Why:* "+clip(strings.Join(a.Reasons, "; "), 1500), false, false), nil, nil))
	}
	if evidence != "" {
		blocks = append(blocks, slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, "*Evidence:*\n"+clip(evidence, 2500), false, false), nil, nil))
	}
	var elems []slack.BlockElement
	if a.State == store.ApprovalPending {
		approve := slack.NewButtonBlockElement(ActionApprove, a.ID, slack.NewTextBlockObject(slack.PlainTextType, "Approve", false, false)).WithStyle(slack.StylePrimary)
		reject := slack.NewButtonBlockElement(ActionReject, a.ID, slack.NewTextBlockObject(slack.PlainTextType, "Reject", false, false)).WithStyle(slack.StyleDanger)
		elems = append(elems, approve, reject)
	}
	if h.o.PublicURL != "" {
		open := slack.NewButtonBlockElement(ActionOpen, a.RunID, slack.NewTextBlockObject(slack.PlainTextType, "Open in modelgate", false, false)).
			WithURL(strings.TrimSuffix(h.o.PublicURL, "/") + "/ui/runs/" + a.RunID)
		elems = append(elems, open)
	}
	if len(elems) > 0 {
		blocks = append(blocks, slack.NewActionBlock("modelgate.approval", elems...))
	}
	if line := decidedLine(a); line != "" {
		blocks = append(blocks, slack.NewContextBlock("modelgate.decided", slack.NewTextBlockObject(slack.MarkdownType, line, false, false)))
	}
	return blocks
}

// decidedLine says who decided and when, or how far the votes got.
func decidedLine(a store.Approval) string {
	var who []string
	for _, v := range a.Votes {
		who = append(who, fmt.Sprintf("%s %sd at %s", v.Reviewer, v.Decision, v.At.UTC().Format(time.RFC3339)))
	}
	votes := strings.Join(who, "; ")
	switch a.State {
	case store.ApprovalApproved:
		return ":white_check_mark: *Approved* — " + votes
	case store.ApprovalRejected:
		return ":x: *Rejected* — " + votes
	case store.ApprovalExpired:
		return ":hourglass: *Expired* at " + a.ExpiresAt.UTC().Format(time.RFC3339)
	case store.ApprovalVoided:
		return ":heavy_minus_sign: *Voided*: " + a.Reason
	}
	if votes != "" {
		return fmt.Sprintf("%d of %d: %s", approvers(a), a.Min, votes)
	}
	return ""
}

// updateApprovalMessage rewrites the approval message to match a. The
// message is found from the click that decided it (channel, ts), or from
// where this process posted it.
func (h *Handler) updateApprovalMessage(ctx context.Context, a store.Approval, channel, ts string) {
	if channel == "" || ts == "" {
		ref, ok := h.msgs.get(a.ID)
		if !ok {
			return
		}
		channel, ts = ref.channel, ref.ts
	}
	if h.o.BotToken == "" {
		return
	}
	text := fmt.Sprintf("Approval %s of %s: %s", a.ID, a.Model, a.State)
	if _, _, _, err := h.api.UpdateMessageContext(ctx, channel, ts, slack.MsgOptionText(text, false), slack.MsgOptionBlocks(h.ApprovalBlocks(a, "")...)); err != nil {
		h.o.Logger.Error("slack: update approval message", "approval", a.ID, "channel", channel, "err", err)
	}
}

// respond posts to a response_url (checked to be Slack's).
func (h *Handler) respond(ctx context.Context, url string, msg *slack.WebhookMessage) {
	if !h.okResponseURL(url) {
		return
	}
	if err := slack.PostWebhookCustomHTTPContext(ctx, url, h.o.HTTPClient, msg); err != nil {
		h.o.Logger.Error("slack: post to response_url", "err", err)
	}
}

func approvers(a store.Approval) int {
	seen := map[string]bool{}
	for _, v := range a.Votes {
		if v.Decision == "approve" {
			seen[v.Reviewer] = true
		}
	}
	return len(seen)
}

func groupsText(gs []string) string {
	if len(gs) == 0 {
		return "any reviewer"
	}
	return strings.Join(gs, ", ")
}

func short(d string) string {
	if len(d) > 19 {
		return d[:19]
	}
	return d
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
