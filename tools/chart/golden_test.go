package chart

import (
	"bytes"
	"context"
	"flag"
	"image"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/internal/browsertest"
)

var update = flag.Bool("update", false, "rewrite the golden PNGs in testdata/golden")

// goldenCharts are fixed inputs, one chart of each kind.
func goldenCharts() map[string]string {
	roc := []Point{{0, 0}, {0.05, 0.4}, {0.1, 0.7}, {0.2, 0.85}, {0.4, 0.95}, {1, 1}}
	roc2 := []Point{{0, 0}, {0.1, 0.4}, {0.2, 0.6}, {0.4, 0.8}, {0.7, 0.93}, {1, 1}}
	return map[string]string{
		"deltas": string(Deltas(DeltasParams{ID: "deltas", Title: "Metric deltas", Confidence: 0.95, Items: []Delta{
			{Label: "roc_auc", Delta: 0.012, Low: 0.004, High: 0.02, Class: "up"},
			{Label: "log_loss", Delta: 0.03, Low: 0.01, High: 0.05, Class: "down"},
			{Label: "recall", Delta: -0.01, Low: -0.04, High: 0.02},
		}})),
		"roc": string(Curves(CurvesParams{ID: "roc", Title: "ROC curve", XLabel: "false positive rate", YLabel: "true positive rate", Diagonal: true,
			Series: []Series{{Name: "candidate", Points: roc, Note: "AUC 0.91"}, {Name: "production", Points: roc2, Note: "AUC 0.8"}}})),
		"reliability": string(Reliability(ReliabilityParams{ID: "rel", Title: "Reliability", Series: []ReliabilitySeries{
			{Name: "candidate", Bins: []Bin{{0.05, 0.02, 40}, {0.3, 0.25, 12}, {0.65, 0.7, 9}, {0.92, 0.95, 30}}}}})),
		"histogram": string(Histogram(HistogramParams{ID: "h", Title: "amount", Labels: []string{"0-10", "10-20", "20-50", "50+"},
			Reference: []float64{0.4, 0.3, 0.2, 0.1}, Current: []float64{0.1, 0.2, 0.3, 0.4}})),
		"counts": string(Counts(CountsParams{ID: "n", Title: "Findings by severity", Items: []Count{
			{Label: "critical", Value: 0, Color: "#8b0000"}, {Label: "high", Value: 2, Color: "#cf222e"}, {Label: "info", Value: 5}}})),
	}
}

// diffShare is the share of pixels whose colour differs by more than a
// small amount in any channel (anti-aliasing and font hinting move a
// few pixels between builds of the same browser).
func diffShare(a, b image.Image) float64 {
	if a.Bounds() != b.Bounds() {
		return 1
	}
	var diff, all int
	for y := a.Bounds().Min.Y; y < a.Bounds().Max.Y; y++ {
		for x := a.Bounds().Min.X; x < a.Bounds().Max.X; x++ {
			all++
			r1, g1, b1, _ := a.At(x, y).RGBA()
			r2, g2, b2, _ := b.At(x, y).RGBA()
			for _, d := range []int{int(r1>>8) - int(r2>>8), int(g1>>8) - int(g2>>8), int(b1>>8) - int(b2>>8)} {
				if d > 40 || d < -40 {
					diff++
					break
				}
			}
		}
	}
	return float64(diff) / float64(all)
}

// TestChartsMatchGoldenScreenshots renders each chart in headless
// Chromium and compares its screenshot with testdata/golden/<name>.png:
// at most 2% of the pixels may differ (refresh with -update after an
// intended change of the drawing).
func TestChartsMatchGoldenScreenshots(t *testing.T) {
	browser := browsertest.New(t)
	charts := goldenCharts()
	var page strings.Builder
	page.WriteString(`<!doctype html><html><head><meta charset="utf-8"><style>body{margin:0;background:#fff}div{display:inline-block;padding:4px}</style></head><body>`)
	for name, svg := range charts {
		page.WriteString(`<div id="box-` + name + `">` + svg + `</div>`)
	}
	page.WriteString(`</body></html>`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(page.String()))
	}))
	defer srv.Close()
	_, err := chromedp.Run(browser, chromedp.Navigate(srv.URL))
	require.NoError(t, err)
	for name := range charts {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(browser, 30*time.Second)
			defer cancel()
			shot, err := chromedp.Run(ctx, chromedp.Screenshot(chromedp.ID("box-"+name)))
			require.NoError(t, err)
			path := filepath.Join("testdata", "golden", name+".png")
			if *update {
				require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
				require.NoError(t, os.WriteFile(path, shot, 0o644))
				return
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err, "no golden screenshot; run go test ./tools/chart -run Golden -update")
			gi, err := png.Decode(bytes.NewReader(want))
			require.NoError(t, err)
			si, err := png.Decode(bytes.NewReader(shot))
			require.NoError(t, err)
			share := diffShare(gi, si)
			if share > 0.02 {
				_ = os.WriteFile(filepath.Join(t.TempDir(), name+".png"), shot, 0o644)
			}
			require.LessOrEqual(t, share, 0.02, "%s: %.2f%% of pixels differ from %s (size %v vs %v)", name, share*100, path, si.Bounds(), gi.Bounds())
		})
	}
}

// TestDiffShareSeesAChange: the tolerance lets anti-aliasing through,
// not a moved mark.
func TestDiffShareSeesAChange(t *testing.T) {
	t.Parallel()
	a := image.NewRGBA(image.Rect(0, 0, 10, 10))
	b := image.NewRGBA(image.Rect(0, 0, 10, 10))
	require.Zero(t, diffShare(a, b))
	b.Pix[0], b.Pix[4] = 20, 255 // one pixel slightly, one pixel fully different
	require.InDelta(t, 0.01, diffShare(a, b), 1e-12)
	require.Equal(t, 1.0, diffShare(a, image.NewRGBA(image.Rect(0, 0, 9, 10))), "a different size is a different chart")
}
