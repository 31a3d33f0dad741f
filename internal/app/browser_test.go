package app_test

import (
	"context"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/log"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/modelgate/modelgate/coordinator"
	"github.com/modelgate/modelgate/internal/app"
	"github.com/modelgate/modelgate/internal/auth"
	"github.com/modelgate/modelgate/internal/browsertest"
	"github.com/modelgate/modelgate/internal/store"
)

// TestReviewersApproveInBrowser is the whole oversight loop on a real
// server: a high-risk candidate goes through every agent, the policy asks
// for two approvals, two reviewers approve in headless Chromium, and the
// run proceeds to deployment (a registry promotion here) and succeeds.
func TestReviewersApproveInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("drives a browser")
	}
	dir := t.TempDir()
	tokens := auth.File{Tokens: []auth.Token{
		{Token: "ci-token-0123456789abcdef", Name: "ci-bot", Roles: []string{"ci"}},
		{Token: "rita-token-0123456789abcd", Name: "rita", Roles: []string{"reviewer"}, Groups: []string{"ml-reviewers"}},
		{Token: "sam-token-0123456789abcde", Name: "sam", Roles: []string{"reviewer"}, Groups: []string{"ml-reviewers"}},
	}}
	b, err := yaml.Marshal(tokens)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tokens.yaml"), b, 0o600))

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s, err := app.Build(ctx, app.Options{DataDir: filepath.Join(dir, "data"), TokensFile: filepath.Join(dir, "tokens.yaml"),
		NoDeploy: true, Logger: log.NewWithOptions(io.Discard, log.Options{})})
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, s.Start(ctx))
	web := httptest.NewServer(s.Handler)
	defer web.Close()

	example, err := filepath.Abs("demo/example")
	require.NoError(t, err)
	cfg, err := os.ReadFile(filepath.Join(example, "modelgate.yaml"))
	require.NoError(t, err)
	run, _, err := s.Coordinator.Submit(ctx, coordinator.SubmitParams{Config: cfg, BaseDir: example, Requester: "ci-bot", CommitAuthor: "dev-dana"})
	require.NoError(t, err)
	run, err = s.Coordinator.Wait(ctx, run.ID, true)
	require.NoError(t, err)
	require.Equal(t, store.RunAwaitingApproval, run.State, run.Error)
	as, err := s.Queue.List(ctx, store.ApprovalListParams{RunID: run.ID})
	require.NoError(t, err)
	require.Len(t, as, 1)
	approval := as[0]
	require.Equal(t, 2, approval.Min)

	browser := browsertest.New(t)

	do := func(name string, a func(ctx context.Context) error) {
		t.Helper()
		sctx, c := context.WithTimeout(browser, 30*time.Second)
		defer c()
		require.NoError(t, a(sctx), name)
	}
	text := func(sel string) string {
		t.Helper()
		sctx, c := context.WithTimeout(browser, 30*time.Second)
		defer c()
		v, err := chromedp.Run(sctx, chromedp.Text(chromedp.ID(sel)))
		require.NoError(t, err, sel)
		return strings.TrimSpace(v)
	}
	_, err = chromedp.Run(browser, chromedp.Navigate(web.URL+"/ui/login")) // starts the browser
	require.NoError(t, err)

	for i, reviewer := range []struct{ name, token string }{{"rita", tokens.Tokens[1].Token}, {"sam", tokens.Tokens[2].Token}} {
		do("open sign-in", func(ctx context.Context) error {
			_, err := chromedp.Run(ctx, chromedp.Navigate(web.URL+"/ui/login"))
			return err
		})
		do("type token", func(ctx context.Context) error {
			_, err := chromedp.Run(ctx, chromedp.SendKeys(chromedp.ID("token"), reviewer.token))
			return err
		})
		do("sign in", func(ctx context.Context) error {
			_, err := chromedp.Run(ctx, chromedp.Click(chromedp.ID("login")))
			return err
		})
		do("signed in", func(ctx context.Context) error {
			_, err := chromedp.Run(ctx, chromedp.WaitVisible(chromedp.ID("who")))
			return err
		})
		do("open queue", func(ctx context.Context) error {
			_, err := chromedp.Run(ctx, chromedp.Navigate(web.URL+"/ui/approvals"))
			return err
		})
		do("request listed", func(ctx context.Context) error {
			_, err := chromedp.Run(ctx, chromedp.WaitVisible(chromedp.ID("approve-"+approval.ID)))
			return err
		})
		require.Equal(t, reviewer.name, text("who"))
		do("comment", func(ctx context.Context) error {
			_, err := chromedp.Run(ctx, chromedp.SendKeys(chromedp.ID("comment-"+approval.ID), "evaluation and scan reviewed"))
			return err
		})
		do("approve", func(ctx context.Context) error {
			_, err := chromedp.Run(ctx, chromedp.Click(chromedp.ID("approve-"+approval.ID)))
			return err
		})
		do("flash", func(ctx context.Context) error {
			_, err := chromedp.Run(ctx, chromedp.WaitVisible(chromedp.ID("flash")))
			return err
		})
		// Two approvals are required: the first leaves the request
		// pending, the second approves it.
		want := map[int]string{0: "pending", 1: "approved"}[i]
		require.Equal(t, "Approval "+approval.ID+" is now "+want+".", text("flash"))
	}

	// the coordinator was woken by the decision and finished the run
	run, err = s.Coordinator.Wait(ctx, run.ID, false)
	require.NoError(t, err)
	require.Equal(t, store.RunSucceeded, run.State, run.Error)
	do("open run page", func(ctx context.Context) error {
		_, err := chromedp.Run(ctx, chromedp.Navigate(web.URL+"/ui/runs/"+run.ID))
		return err
	})
	require.Equal(t, "succeeded", text("run-state"))
	p, err := s.Store.ProductionGet(ctx, run.Model, "production")
	require.NoError(t, err)
	require.Equal(t, "v2", p.Version)
	a, err := s.Queue.Get(ctx, approval.ID)
	require.NoError(t, err)
	require.Equal(t, store.ApprovalApproved, a.State)
	require.Len(t, a.Votes, 2)
}
