package chatops_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/internal/blob"
	"github.com/modelgate/modelgate/internal/chatops"
	"github.com/modelgate/modelgate/internal/chatops/triggers"
	"github.com/modelgate/modelgate/internal/store"
)

// TestApproveButtonMovesTheRunOn: a reviewer's click approves, and the
// message is rewritten without buttons, saying who decided and when.
func TestApproveButtonMovesTheRunOn(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, action string
		want         store.ApprovalState
		line         string
	}{
		{"approve", chatops.ActionApprove, store.ApprovalApproved, "Approved"},
		{"reject", chatops.ActionReject, store.ApprovalRejected, "Rejected"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			a := b.pendingApproval(t, "ci-bot", "", 1)
			status, out := b.post(t, "/slack/interactions", b.clickBody(t, "U0RITA", tc.action, a.ID), nil)
			require.Equal(t, 200, status, out)
			b.h.Wait()
			got := b.approvalState(t, a.ID)
			require.Equal(t, tc.want, got.State)
			require.Equal(t, "rita", got.Votes[0].Reviewer, "the Slack user acts as their modelgate identity")
			updates := b.slack.calls("chat.update")
			require.Len(t, updates, 1)
			require.Equal(t, "C0FRAUD", updates[0].Get("channel"))
			require.Equal(t, "1700000000.000100", updates[0].Get("ts"))
			blocks := updates[0].Get("blocks")
			require.Contains(t, blocks, tc.line)
			require.Contains(t, blocks, "rita")
			require.NotContains(t, blocks, chatops.ActionApprove, "the buttons are gone")
			require.Contains(t, blocks, "Open in modelgate", "the link stays")
			require.True(t, b.rec.Has(chatops.EventCommand))
		})
	}
}

// TestCommands runs each command as a person with the right to it.
func TestCommands(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, user, text string
		want             string
		state            store.ApprovalState
	}{
		{name: "help", user: "U0RITA", text: "help", want: "/modelgate deploy"},
		{name: "empty is help", user: "U0RITA", text: "", want: "/modelgate rollback"},
		{name: "approve with a comment", user: "U0RITA", text: "approve %s looks fine", want: "approved run", state: store.ApprovalApproved},
		{name: "reject with a reason", user: "U0REX", text: "reject %s recall too low on new merchants", want: "rejected run", state: store.ApprovalRejected},
		{name: "status of a run", user: "U0RITA", text: "status %r", want: "awaiting_approval"},
		{name: "status of a model", user: "U0RITA", text: "status fraud-detector", want: "Latest runs"},
		{name: "status overall", user: "U0RITA", text: "status", want: "Runs in progress"},
		{name: "runs of a model", user: "U0OTTO", text: "runs fraud-detector", want: "fraud-detector production"},
		// A sentence only proposes: the reply names the command to send,
		// and the approval is still pending afterwards.
		{name: "ask proposes, runs nothing", user: "U0RITA", text: "ask please approve %s", want: "Nothing has run. To do it, send: `/modelgate approve %s", state: store.ApprovalPending},
		{name: "ask needs a sentence", user: "U0RITA", text: "ask", want: "ask needs a sentence"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			a := b.pendingApproval(t, "ci-bot", "", 1)
			text := strings.ReplaceAll(strings.ReplaceAll(tc.text, "%s", a.ID), "%r", a.RunID)
			status, out := b.post(t, "/slack/commands", b.commandBody(tc.user, text), nil)
			require.Equal(t, 200, status, out)
			b.h.Wait()
			got := out + lastText(b.slack.responses())
			require.Contains(t, got, strings.ReplaceAll(tc.want, "%s", a.ID))
			if tc.state != "" {
				require.Equal(t, tc.state, b.approvalState(t, a.ID).State)
				rs := b.slack.responses()
				want := "in_channel" // a decision is shown to the channel
				if tc.state == store.ApprovalPending {
					want = "ephemeral" // a proposal only to its asker
				}
				require.Equal(t, want, rs[len(rs)-1].ResponseType)
			}
		})
	}
}

// TestDeployStartsARunFromTheRegistry: `deploy MODEL VERSION` starts a
// run of the registered deploy pipeline whose candidate is the version's
// blob, requested by the Slack user's identity.
func TestDeployStartsARunFromTheRegistry(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	put := func(body string) string {
		info, _, err := b.blobs.Put(ctx, blob.PutParams{Digest: sha(body), Body: strings.NewReader(body)})
		require.NoError(t, err)
		return info.Digest
	}
	modelDigest := put(`{"learner":{}}`)
	holdout := put("a,target\n1,0\n")
	require.NoError(t, b.st.ModelVersionPut(ctx, store.ModelVersion{Model: "fraud-detector", Version: "v3", Digest: modelDigest}))
	set := triggers.Settings{Deploy: &triggers.Pipeline{
		Config: "model: fraud-detector\ntask: binary\nlabel: target\ndata: {holdout: holdout.csv}\ncandidate: {artifact: model.json}\n",
		Files:  map[string]string{"holdout.csv": holdout},
	}}
	require.NoError(t, set.Validate(ctx, "fraud-detector", b.blobs))
	require.NoError(t, triggers.Save(ctx, b.st, set))

	for _, tc := range []struct{ user, text, want string }{
		{"U0CI", "deploy fraud-detector v9", "no version"},
		{"U0RITA", "deploy fraud-detector v3", "may not trigger"},
		{"U0OTTO", "deploy fraud-detector v3", "started run"},
	} {
		status, out := b.post(t, "/slack/commands", b.commandBody(tc.user, tc.text), nil)
		require.Equal(t, 200, status, out)
		b.h.Wait()
		require.Contains(t, lastText(b.slack.responses()), tc.want, tc.text)
	}
	runs, err := b.st.RunList(ctx, store.RunListParams{Model: "fraud-detector"})
	require.NoError(t, err)
	require.Len(t, runs, 1)
	require.Equal(t, "slack", runs[0].Trigger)
	require.Equal(t, "otto", runs[0].Requester)
	require.Equal(t, "v3", runs[0].Labels["deploy.version"])
	require.FileExists(t, runs[0].BaseDir+"/model.json", "the version's blob is the candidate")
}
