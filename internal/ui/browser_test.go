package ui_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/internal/browsertest"
	"github.com/modelgate/modelgate/internal/store"
)

// TestBrowserApproveMovesRunOn drives real headless Chromium: sign in with a
// token, open the queue, approve with a comment, and see the run proceed to
// deployment.
func TestBrowserApproveMovesRunOn(t *testing.T) {
	t.Parallel()
	ctx := browsertest.New(t)
	f := setup(t)
	// The first Run starts the browser; its context must not carry the
	// per-step timeout (that would stop the browser), so start it first.
	_, err := chromedp.Run(ctx, chromedp.Navigate(f.srv.URL+"/ui/approvals"))
	require.NoError(t, err)
	step := func(name string, fn func(ctx context.Context) error) {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		require.NoError(t, fn(sctx), name)
	}

	// Not signed in: the queue sends us to the sign-in form.
	step("redirected to sign-in", func(ctx context.Context) error {
		_, err := chromedp.Run(ctx, chromedp.WaitVisible(chromedp.ID("token")))
		return err
	})
	step("type token", func(ctx context.Context) error {
		_, err := chromedp.Run(ctx, chromedp.SendKeys(chromedp.ID("token"), "reviewer-token"))
		return err
	})
	step("sign in", func(ctx context.Context) error {
		_, err := chromedp.Run(ctx, chromedp.Click(chromedp.ID("login")))
		return err
	})
	approveID := "approve-" + f.approval.ID
	step("queue shows the request", func(ctx context.Context) error {
		_, err := chromedp.Run(ctx, chromedp.WaitVisible(chromedp.ID(approveID)))
		return err
	})
	who, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("who")))
	require.NoError(t, err)
	require.Equal(t, "rita", strings.TrimSpace(who))
	count, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("count-"+f.approval.ID)))
	require.NoError(t, err)
	require.Equal(t, "0/1", strings.TrimSpace(count))

	step("comment", func(ctx context.Context) error {
		_, err := chromedp.Run(ctx, chromedp.SendKeys(chromedp.ID("comment-"+f.approval.ID), "slices look fine"))
		return err
	})
	step("approve", func(ctx context.Context) error {
		_, err := chromedp.Run(ctx, chromedp.Click(chromedp.ID(approveID)))
		return err
	})
	step("flash", func(ctx context.Context) error {
		_, err := chromedp.Run(ctx, chromedp.WaitVisible(chromedp.ID("flash")))
		return err
	})
	flash, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("flash")))
	require.NoError(t, err)
	require.Contains(t, flash, "is now approved")
	state, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("recent-state-"+f.approval.ID)))
	require.NoError(t, err)
	require.Equal(t, "approved", strings.TrimSpace(state))

	// The run moved on to deployment, as the page shows.
	step("open run", func(ctx context.Context) error {
		_, err := chromedp.Run(ctx, chromedp.Navigate(f.srv.URL+"/ui/runs/"+f.run.ID))
		return err
	})
	runState, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("run-state")))
	require.NoError(t, err)
	require.Equal(t, "deploying", strings.TrimSpace(runState))

	a, err := f.q.Get(context.Background(), f.approval.ID)
	require.NoError(t, err)
	require.Equal(t, store.ApprovalApproved, a.State)
	require.Equal(t, "rita", a.Votes[0].Reviewer)
	require.Equal(t, "slices look fine", a.Votes[0].Comment)
}
