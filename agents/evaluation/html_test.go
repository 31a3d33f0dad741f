package evaluation

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/internal/browsertest"
	"github.com/modelgate/modelgate/internal/config"
	"github.com/modelgate/modelgate/tools/dataset"
	"github.com/modelgate/modelgate/tools/model"
)

// TestHTMLReportRendersInChromium renders the report of the fixture with
// slices and checks, in a real headless browser, that the curves, the
// reliability diagram and one interval per slice are drawn.
func TestHTMLReportRendersInChromium(t *testing.T) {
	t.Parallel()
	browser := browsertest.New(t)
	hold, err := dataset.Read(filepath.Join(fixture, "holdout.csv"), dataset.Options{})
	require.NoError(t, err)
	cand, err := model.Load(filepath.Join(fixture, "model-candidate.json"))
	require.NoError(t, err)
	prod, err := model.Load(filepath.Join(fixture, "model-production.json"))
	require.NoError(t, err)
	out, err := Evaluate(context.Background(), Input{Holdout: hold, Label: "target", Task: "binary", Candidate: cand, Baseline: prod,
		Config: config.Evaluation{Threshold: 0.5, Resamples: 100, Seed: 1, Confidence: 0.95,
			Slices: []config.Slice{{Column: "mean_radius", Bins: []float64{12, 15}, MinSize: 20}}}})
	require.NoError(t, err)
	var page strings.Builder
	require.NoError(t, WriteHTML(&page, out))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(page.String()))
	}))
	defer srv.Close()

	ctx, cancelT := context.WithTimeout(browser, 60*time.Second)
	defer cancelT()
	_, err = chromedp.Run(ctx, chromedp.Navigate(srv.URL))
	require.NoError(t, err)
	verdict, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("verdict")))
	require.NoError(t, err)
	require.Contains(t, verdict, string(out.Result.Verdict))
	svgs, err := chromedp.Run(ctx, chromedp.Evaluate[int]("document.querySelectorAll('svg').length"))
	require.NoError(t, err)
	require.Equal(t, 5, svgs, "deltas, ROC, PR, reliability, slices")
	lines, err := chromedp.Run(ctx, chromedp.Evaluate[int]("document.querySelectorAll('#curves polyline').length"))
	require.NoError(t, err)
	require.Equal(t, 6, lines, "two models in each of three plots")
	intervals, err := chromedp.Run(ctx, chromedp.Evaluate[int]("document.querySelectorAll('#slices line.ci').length"))
	require.NoError(t, err)
	defined := 0
	for _, s := range out.Result.Slices {
		if c := s.Comparison["roc_auc"]; c.Delta != nil {
			defined++
		}
	}
	require.Positive(t, defined)
	require.Equal(t, defined, intervals)
	width, err := chromedp.Run(ctx, chromedp.Evaluate[float64]("document.querySelector('#curves svg').getBoundingClientRect().width"))
	require.NoError(t, err)
	require.Greater(t, width, 100.0)
}
