package main

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/internal/browsertest"
)

type reportChart struct {
	ID, Kind, Title, Desc string
	Width, Height         float64
	Marks                 []string
}

const reportChartsJS = `JSON.stringify([...document.querySelectorAll('svg.chart')].map(s => {
	const r = s.getBoundingClientRect();
	return {ID: s.id, Kind: s.dataset.chart, Title: s.querySelector(':scope > title').textContent,
		Desc: s.querySelector(':scope > desc').textContent, Width: r.width, Height: r.height,
		Marks: [...s.querySelectorAll('g.delta-row > title, rect.bar > title')].map(t => t.textContent)};
}))`

// chartsOf opens an HTML report in Chromium, served with the CSP the
// reviewers' page serves reports with, and lists its charts.
func chartsOf(t *testing.T, browser context.Context, path string) []reportChart {
	t.Helper()
	page, err := os.ReadFile(path)
	require.NoError(t, err)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox")
		_, _ = w.Write(page)
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(browser, 30*time.Second)
	defer cancel()
	_, err = chromedp.Run(ctx, chromedp.Navigate(srv.URL))
	require.NoError(t, err)
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[string](reportChartsJS))
	require.NoError(t, err)
	var charts []reportChart
	require.NoError(t, json.Unmarshal([]byte(raw), &charts))
	for _, c := range charts {
		require.Greater(t, c.Width, 50.0, c.ID)
		require.Greater(t, c.Height, 30.0, c.ID)
		require.NotEmpty(t, c.Title, c.ID)
		require.NotEmpty(t, c.Desc, c.ID)
	}
	return charts
}

// TestHTMLReportsChartsInBrowser: `evaluate --html` and `drift --html`
// draw the reviewers' page's charts, and their numbers are the ones
// --json prints.
func TestHTMLReportsChartsInBrowser(t *testing.T) {
	browser := browsertest.New(t)
	_, err := chromedp.Run(browser, chromedp.Navigate("about:blank")) // starts the browser for the test
	require.NoError(t, err)
	dir := t.TempDir()

	t.Run("evaluate", func(t *testing.T) {
		html := filepath.Join(dir, "evaluation.html")
		code, out, errOut := evalCLI("evaluate", "--data", filepath.Join(evalFixture, "holdout.csv"), "--label", "target",
			"--candidate", filepath.Join(evalFixture, "model-candidate.json"), "--baseline", filepath.Join(evalFixture, "model-production.json"),
			"--json", "--html", html, "--resamples", "200")
		require.Equal(t, 0, code, errOut)
		var res struct {
			Comparison map[string]struct {
				Delta, CILow, CIHigh *float64
			}
		}
		var raw struct {
			Comparison map[string]map[string]any `json:"comparison"`
		}
		require.NoError(t, json.Unmarshal([]byte(out), &raw))
		res.Comparison = map[string]struct{ Delta, CILow, CIHigh *float64 }{}
		for k, c := range raw.Comparison {
			get := func(f string) *float64 {
				if v, ok := c[f].(float64); ok {
					return &v
				}
				return nil
			}
			res.Comparison[k] = struct{ Delta, CILow, CIHigh *float64 }{get("delta"), get("ci_low"), get("ci_high")}
		}
		kinds := map[string]int{}
		var deltas reportChart
		for _, c := range chartsOf(t, browser, html) {
			kinds[c.Kind]++
			if c.ID == "deltas" {
				deltas = c
			}
		}
		require.Equal(t, map[string]int{"deltas": 1, "curves": 2, "reliability": 1}, kinds)
		require.NotEmpty(t, deltas.Marks)
		num := regexp.MustCompile(`[-+]?\d+\.?\d*(?:e[-+]?\d+)?`)
		for _, m := range deltas.Marks {
			name := m[:strings.Index(m, ":")]
			c := res.Comparison[name]
			require.NotNil(t, c.Delta, m)
			n := num.FindAllString(m[len(name):], -1)
			d, _ := strconv.ParseFloat(n[0], 64)
			require.InDelta(t, *c.Delta, d, math.Max(1e-12, math.Abs(*c.Delta)*1e-5), m)
			if c.CILow != nil {
				lo, _ := strconv.ParseFloat(n[2], 64)
				hi, _ := strconv.ParseFloat(n[3], 64)
				require.InDelta(t, *c.CILow, lo, math.Max(1e-12, math.Abs(*c.CILow)*1e-5), m)
				require.InDelta(t, *c.CIHigh, hi, math.Max(1e-12, math.Abs(*c.CIHigh)*1e-5), m)
			}
		}
	})
	t.Run("drift", func(t *testing.T) {
		html := filepath.Join(dir, "drift.html")
		code, out, errOut := runDriftCLI(t, "drift", "--reference", driftTD+"train.csv", "--current", driftTD+"holdout-drifted.csv", "--json", "--html", html)
		require.Contains(t, []int{0, 1}, code, errOut)
		var res struct {
			Drifted []string `json:"drifted_columns"`
		}
		require.NoError(t, json.Unmarshal([]byte(out), &res))
		require.NotEmpty(t, res.Drifted)
		charts := chartsOf(t, browser, html)
		require.Len(t, charts, len(res.Drifted), "one histogram per drifted column")
		for i, col := range res.Drifted {
			require.Equal(t, "histogram", charts[i].Kind)
			require.True(t, strings.HasPrefix(charts[i].Title, col+": "), "%q is %s's", charts[i].Title, col)
			require.NotEmpty(t, charts[i].Marks)
			require.Zero(t, len(charts[i].Marks)%2, "reference and current bars in pairs")
		}
	})
}
