package ui_test

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/internal/browsertest"
)

// TestBrowserWideTablesScrollInTheirCard: on a narrow screen the run
// page does not scroll sideways as a whole; a table wider than its card
// scrolls inside the card.
func TestBrowserWideTablesScrollInTheirCard(t *testing.T) {
	t.Parallel()
	ctx := browsertest.New(t)
	f := setup(t)
	_, err := chromedp.Run(ctx, chromedp.Navigate(f.srv.URL+"/ui/runs/"+f.run.ID))
	require.NoError(t, err)
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	steps := []struct {
		name string
		a    chromedp.Action[chromedp.Void]
	}{
		{"narrow screen", chromedp.EmulateViewport(360, 800)},
		{"token", chromedp.SendKeys(chromedp.ID("token"), "reviewer-token")},
		{"sign in", chromedp.Click(chromedp.ID("login"))},
		{"charts", chromedp.WaitVisible(chromedp.ID("chart-deltas"))},
		// the long tables are folded below the charts; a reviewer opens one
		{"unfold", chromedp.Click(chromedp.CSS(`#fold-metrics-evaluate > summary`))},
		{"metrics", chromedp.WaitVisible(chromedp.ID("metrics-evaluate"))},
	}
	for _, s := range steps {
		_, err := chromedp.Run(sctx, s.a)
		require.NoError(t, err, s.name)
	}
	page, err := chromedp.Run(sctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth <= window.innerWidth + 1`))
	require.NoError(t, err)
	wide, _ := chromedp.Run(sctx, chromedp.Evaluate[string](`[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > window.innerWidth + 1).slice(0, 12).map(e => e.tagName + '#' + e.id + '.' + e.className + ':' + Math.round(e.getBoundingClientRect().right)).join(' ')`))
	require.True(t, page, "the page itself must not scroll sideways; too wide: %s", wide)
	card, err := chromedp.Run(sctx, chromedp.Evaluate[string](`(() => {
		const c = document.getElementById('metrics-evaluate').closest('.card');
		return getComputedStyle(c).overflowX + ' ' + (c.scrollWidth > c.clientWidth);
	})()`))
	require.NoError(t, err)
	require.Equal(t, "auto true", card, "the card scrolls its wide table")
}
