package chatops_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/internal/chatops"
	"github.com/modelgate/modelgate/internal/chatops/triggers"
	"github.com/modelgate/modelgate/internal/store"
)

// TestApprovalMessageRoundTrip: a run awaiting approval is posted to the
// model's channel with buttons and the evidence; a click on it approves
// and rewrites that very message.
func TestApprovalMessageRoundTrip(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	require.NoError(t, triggers.Save(ctx, b.st, triggers.Settings{Model: "fraud-detector", Slack: &triggers.Slack{Channel: "C0FRAUD"}}))
	a := b.pendingApproval(t, "ci-bot", "", 1)
	rep, _ := json.Marshal(map[string]any{"Summary": "roc_auc 0.962 vs 0.951 in production"})
	require.NoError(t, b.st.StagePut(ctx, store.Stage{RunID: a.RunID, Name: "evaluate", State: store.StageSucceeded, Attempt: 1, Verdict: "pass", Report: rep}))

	b.h.NotifyRun(ctx, a.RunID, store.RunAwaitingApproval, time.Now())
	posts := b.slack.calls("chat.postMessage")
	require.Len(t, posts, 1)
	require.Equal(t, "C0FRAUD", posts[0].Get("channel"))
	blocks := posts[0].Get("blocks")
	for _, want := range []string{chatops.ActionApprove, chatops.ActionReject, "Open in modelgate", "roc_auc 0.962", a.ID, "high risk",
		"Brief* (template"} {
		require.Contains(t, blocks, want)
	}

	status, out := b.post(t, "/slack/interactions", b.clickBody(t, "U0RITA", chatops.ActionApprove, a.ID), nil)
	require.Equal(t, 200, status, out)
	b.h.Wait()
	require.Equal(t, store.ApprovalApproved, b.approvalState(t, a.ID).State)
	up := b.slack.calls("chat.update")
	require.Len(t, up, 1)
	require.NotContains(t, up[0].Get("blocks"), chatops.ActionApprove)

	// A decision made elsewhere updates the message this process posted.
	other := b.pendingApproval(t, "ci-bot", "", 1)
	b.h.NotifyRun(ctx, other.RunID, store.RunAwaitingApproval, time.Now())
	decided, err := b.queue.Reject(ctx, other.ID, mustPrincipal(t, b, "U0REX"), "from the web page")
	require.NoError(t, err)
	b.h.ApprovalDecided(ctx, decided)
	b.h.Wait()
	up = b.slack.calls("chat.update")
	require.Len(t, up, 2)
	require.Contains(t, up[1].Get("blocks"), "Rejected")
}

// TestWebhookDeliveries: signed with the hook's secret, retried on 5xx
// and connection errors, not on a permanent 4xx; every attempt audited.
func TestWebhookDeliveries(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		statuses []int // what the receiver answers, in order
		attempts int
		ok       bool
	}{
		{"first try", []int{200}, 1, true},
		{"two failures then success", []int{500, 503, 204}, 3, true},
		{"rate limited then success", []int{429, 200}, 2, true},
		{"permanent 4xx is not retried", []int{400}, 1, false},
		{"gives up after the backoff list", []int{500, 500, 500, 500, 500}, 4, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			const hookSecret = "hook-secret-0123456789"
			var n atomic.Int32
			var mu sync.Mutex
			var bodies [][]byte
			recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				mac := hmac.New(sha256.New, []byte(hookSecret))
				mac.Write(body)
				if r.Header.Get(chatops.SignatureHeader) != "sha256="+hex.EncodeToString(mac.Sum(nil)) {
					t.Errorf("bad signature %q", r.Header.Get(chatops.SignatureHeader))
				}
				mu.Lock()
				bodies = append(bodies, body)
				mu.Unlock()
				i := int(n.Add(1)) - 1
				w.WriteHeader(tc.statuses[min(i, len(tc.statuses)-1)])
			}))
			defer recv.Close()
			ctx := context.Background()
			require.NoError(t, triggers.Save(ctx, b.st, triggers.Settings{Model: "fraud-detector", Webhooks: []triggers.Webhook{
				{URL: recv.URL + "/hook?token=abc", Secret: hookSecret, Events: []string{triggers.EventRolledBack}},
				{URL: recv.URL + "/never", Secret: hookSecret, Events: []string{triggers.EventDriftAlert}},
			}}))
			b.h.Notify(ctx, chatops.Notification{Event: triggers.EventRolledBack, Model: "fraud-detector", RunID: "r1", Text: "rolled back"})
			b.h.Wait()
			require.Equal(t, int32(tc.attempts), n.Load())
			var got chatops.Notification
			require.NoError(t, json.Unmarshal(bodies[0], &got))
			require.Equal(t, triggers.EventRolledBack, got.Event)
			require.NotEmpty(t, got.Delivery)
			recs := b.rec.OfType(chatops.EventWebhookSent)
			require.Len(t, recs, tc.attempts, "every attempt is recorded")
			require.Equal(t, tc.ok, recs[len(recs)-1].Data["ok"])
			require.NotContains(t, recs[0].Data["url"], "token=abc", "the query (often a token) is not recorded")
		})
	}
}
