package chatops_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/internal/chatops"
	"github.com/modelgate/modelgate/internal/store"
)

// TestUnsignedRequestsDoNothing: whatever an unsigned, wrongly signed,
// expired, tampered or replayed request says, it is refused with the
// right status before it is parsed, and the approval it names stays
// pending. This is the test the rest of the package leans on.
func TestUnsignedRequestsDoNothing(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		headers func(body string) map[string]string
		mangle  func(body string) string // what is sent instead of the signed body
		status  int
		want    string
	}{
		{name: "no signature headers", status: 401, want: "missing",
			headers: func(string) map[string]string {
				return map[string]string{"X-Slack-Signature": "", "X-Slack-Request-Timestamp": ""}
			}},
		{name: "no timestamp", status: 401, want: "missing",
			headers: func(string) map[string]string { return map[string]string{"X-Slack-Request-Timestamp": ""} }},
		{name: "garbage signature", status: 401, want: "does not verify",
			headers: func(string) map[string]string { return map[string]string{"X-Slack-Signature": "v0=zz"} }},
		{name: "signature without v0 prefix", status: 401, want: "does not verify",
			headers: func(body string) map[string]string {
				_, sig := sign(secret, time.Now(), body)
				return map[string]string{"X-Slack-Signature": strings.TrimPrefix(sig, "v0=")}
			}},
		{name: "signed with another secret", status: 401, want: "does not verify",
			headers: func(body string) map[string]string {
				ts, sig := sign("not-the-secret-at-all-0123456789", time.Now(), body)
				return map[string]string{"X-Slack-Signature": sig, "X-Slack-Request-Timestamp": ts}
			}},
		{name: "signed six minutes ago", status: 401, want: "5 minutes",
			headers: func(body string) map[string]string {
				ts, sig := sign(secret, time.Now().Add(-6*time.Minute), body)
				return map[string]string{"X-Slack-Signature": sig, "X-Slack-Request-Timestamp": ts}
			}},
		{name: "signed six minutes ahead", status: 401, want: "5 minutes",
			headers: func(body string) map[string]string {
				ts, sig := sign(secret, time.Now().Add(6*time.Minute), body)
				return map[string]string{"X-Slack-Signature": sig, "X-Slack-Request-Timestamp": ts}
			}},
		{name: "timestamp changed after signing", status: 401, want: "does not verify",
			headers: func(body string) map[string]string {
				_, sig := sign(secret, time.Now().Add(-time.Minute), body)
				return map[string]string{"X-Slack-Signature": sig}
			}},
		{name: "body changed after signing", status: 401, want: "does not verify",
			headers: func(body string) map[string]string {
				ts, sig := sign(secret, time.Now(), body)
				return map[string]string{"X-Slack-Signature": sig, "X-Slack-Request-Timestamp": ts}
			},
			mangle: func(body string) string { return strings.Replace(body, "U0RITA", "U0REX0", 1) }},
	}
	for _, path := range []string{"/slack/commands", "/slack/interactions"} {
		for _, tc := range cases {
			t.Run(path+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				b := setup(t)
				a := b.pendingApproval(t, "ci-bot", "", 1)
				body := b.commandBody("U0RITA", "approve "+a.ID+" lgtm")
				if path == "/slack/interactions" {
					body = b.clickBody(t, "U0RITA", chatops.ActionApprove, a.ID)
				}
				// The headers are computed over the body Slack would sign; the
				// body sent may be another.
				hdr := tc.headers(body)
				if tc.mangle != nil {
					body = tc.mangle(body)
				}
				status, out := b.post(t, path, body, hdr)
				require.Equal(t, tc.status, status, out)
				require.Contains(t, out, tc.want)
				require.NotContains(t, out, secret)
				b.h.Wait()
				require.Equal(t, store.ApprovalPending, b.approvalState(t, a.ID).State, "nothing was executed")
				require.Empty(t, b.slack.all(), "nothing was posted to Slack")
				require.True(t, b.rec.Has(chatops.EventUnsigned), "the refusal is audited")
			})
		}
	}
}

// TestReplayedRequestIsRefused: a captured, validly signed request sent
// again inside the 5-minute window is refused, and the vote counts once.
func TestReplayedRequestIsRefused(t *testing.T) {
	t.Parallel()
	for _, path := range []string{"/slack/commands", "/slack/interactions"} {
		t.Run(path, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			// Two approvals are needed, so a replayed vote would show.
			a := b.pendingApproval(t, "ci-bot", "", 2)
			body := b.commandBody("U0RITA", "approve "+a.ID)
			if path == "/slack/interactions" {
				body = b.clickBody(t, "U0RITA", chatops.ActionApprove, a.ID)
			}
			ts, sig := sign(secret, time.Now(), body)
			hdr := map[string]string{"X-Slack-Signature": sig, "X-Slack-Request-Timestamp": ts}
			status, out := b.post(t, path, body, hdr)
			require.Equal(t, 200, status, out)
			status, out = b.post(t, path, body, hdr)
			require.Equal(t, 409, status, out)
			require.Contains(t, out, "already received")
			b.h.Wait()
			got := b.approvalState(t, a.ID)
			require.Len(t, got.Votes, 1)
			require.Equal(t, store.ApprovalPending, got.State)
		})
	}
}

// TestSignedButRefused: requests that Slack did sign, but that modelgate
// must not act on — an unmapped user, a user without the right, the
// run's own requester, unknown commands, bad payloads, a foreign
// response_url — are answered clearly, audited, and change nothing.
func TestSignedButRefused(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name        string
		path        string
		user        string
		text        string // command text; "%s" is the approval id
		action      string // interaction action id
		rawBody     string
		status      int
		ack         string // in the acknowledgement
		followUp    string // in the response_url message
		auditReason string
	}{
		{name: "unmapped user, command", path: "/slack/commands", user: "U0STRANGER", text: "approve %s", status: 200,
			ack: "not linked to a modelgate identity", auditReason: "unmapped"},
		{name: "unmapped user, button", path: "/slack/interactions", user: "U0STRANGER", action: chatops.ActionApprove, status: 200,
			followUp: "not linked to a modelgate identity", auditReason: "unmapped"},
		{name: "ci may not approve", path: "/slack/commands", user: "U0CI", text: "approve %s", status: 200,
			ack: "Working on", followUp: "may not approve", auditReason: "may not approve"},
		{name: "operator may not approve by button", path: "/slack/interactions", user: "U0OTTO", action: chatops.ActionApprove, status: 200,
			followUp: "may not approve", auditReason: "may not approve"},
		{name: "requester may not approve their own run", path: "/slack/interactions", user: "U0DANA", action: chatops.ActionApprove, status: 200,
			followUp: "may not approve it", auditReason: "may not approve it"},
		{name: "reviewer may not roll back", path: "/slack/commands", user: "U0RITA", text: "rollback fraud-detector", status: 200,
			followUp: "may not rollback", auditReason: "may not rollback"},
		{name: "reviewer may not deploy", path: "/slack/commands", user: "U0RITA", text: "deploy fraud-detector v1", status: 200,
			followUp: "no pipeline registered", auditReason: "no pipeline"},
		{name: "unknown command", path: "/slack/commands", user: "U0RITA", text: "rm -rf /", status: 200,
			ack: "unknown command", auditReason: "unknown command"},
		{name: "reject without a reason", path: "/slack/commands", user: "U0RITA", text: "reject %s", status: 200,
			ack: "needs a reason", auditReason: "needs a reason"},
		{name: "path-like argument", path: "/slack/commands", user: "U0OTTO", text: "deploy ../../etc/passwd v1", status: 200,
			followUp: "no pipeline registered", auditReason: "no pipeline"},
		{name: "unknown approval", path: "/slack/commands", user: "U0RITA", text: "approve nope", status: 200,
			followUp: "no approval", auditReason: "no approval"},
		{name: "unknown button", path: "/slack/interactions", user: "U0RITA", action: "modelgate.delete", status: 400, auditReason: "unknown action"},
		{name: "malformed payload", path: "/slack/interactions", rawBody: "payload=%7Bnot-json", status: 400, auditReason: "malformed"},
		{name: "no payload", path: "/slack/interactions", rawBody: "x=1", status: 400, auditReason: "malformed"},
		{name: "foreign response_url", path: "/slack/commands", user: "U0RITA", text: "approve %s",
			rawBody: "user_id=U0RITA&team_id=T0TEAM&text=approve+ID&response_url=https%3A%2F%2Fattacker.example%2Fx", status: 400, auditReason: "response_url"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			a := b.pendingApproval(t, "dana", "", 1)
			body := tc.rawBody
			switch {
			case body != "":
				body = strings.ReplaceAll(body, "ID", a.ID)
			case tc.action != "":
				body = b.clickBody(t, tc.user, tc.action, a.ID)
			default:
				text := tc.text
				if strings.Contains(text, "%s") {
					text = strings.ReplaceAll(text, "%s", a.ID)
				}
				body = b.commandBody(tc.user, text)
			}
			status, out := b.post(t, tc.path, body, nil)
			require.Equal(t, tc.status, status, out)
			if tc.ack != "" {
				require.Contains(t, out, tc.ack)
			}
			b.h.Wait()
			if tc.followUp != "" {
				require.Contains(t, lastText(b.slack.responses()), tc.followUp)
				require.Equal(t, "ephemeral", b.slack.responses()[len(b.slack.responses())-1].ResponseType, "a refusal is shown to the caller only")
			}
			got := b.approvalState(t, a.ID)
			require.Equal(t, store.ApprovalPending, got.State, "nothing was executed")
			require.Empty(t, b.slack.calls("chat.update"), "the approval message is unchanged")
			refused := b.rec.OfType(chatops.EventRefused)
			require.NotEmpty(t, refused, "the refusal is audited")
			require.Contains(t, refused[len(refused)-1].Data["why"], tc.auditReason)
		})
	}
}

// TestForeignWorkspace: with a team configured, a signed request from
// another workspace's user with the same id is refused.
func TestSlackNotConfigured(t *testing.T) {
	t.Parallel()
	b := setup(t)
	h, err := chatops.New(chatops.Options{Store: b.st, Identities: b.ids, Approvals: b.queue, Authorize: nil})
	require.Error(t, err, "an authorizer is required")
	_ = h
}
