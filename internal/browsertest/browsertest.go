// Package browsertest starts Debian's headless Chromium for end-to-end
// tests of modelgate's web pages (the reviewers' page, the HTML
// reports), with the flags this kind of machine needs.
//
// Without a browser the test is skipped, except under MODELGATE_CI=1,
// where a missing browser fails it: CI installs chromium and must never
// pass by skipping the browser tests.
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"testing"

	"github.com/chromedp/chromedp"
)

// Path finds the browser: $MODELGATE_TEST_CHROMIUM, /usr/bin/chromium,
// then chromium on PATH.
func Path(t testing.TB) string {
	t.Helper()
	for _, p := range []string{os.Getenv("MODELGATE_TEST_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	if os.Getenv("MODELGATE_CI") == "1" {
		t.Fatal("chromium is not installed (MODELGATE_CI=1 requires the browser tests to run)")
	}
	t.Skip("chromium not found; set MODELGATE_TEST_CHROMIUM or install Debian's chromium")
	return ""
}

// New starts a headless browser for the test and returns its context;
// the browser is stopped when the test ends. The flags are the ones this
// machine needs: no sandbox (tests run as root), no background
// networking (its connections are refused here), a throwaway profile.
func New(t testing.TB) context.Context {
	t.Helper()
	exe := Path(t)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.Headless,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-gpu", true), chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()))
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	return ctx
}
