package app_test

import (
	"context"
	"encoding/json"
	"io"
	"maps"
	"math"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/log"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/modelgate/modelgate/agents"
	"github.com/modelgate/modelgate/agents/assistant"
	"github.com/modelgate/modelgate/agents/evaluation"
	"github.com/modelgate/modelgate/coordinator"
	"github.com/modelgate/modelgate/internal/app"
	"github.com/modelgate/modelgate/internal/app/demo"
	"github.com/modelgate/modelgate/internal/auth"
	"github.com/modelgate/modelgate/internal/browsertest"
	"github.com/modelgate/modelgate/internal/store"
	"github.com/modelgate/modelgate/tools/drift"
	"github.com/modelgate/modelgate/tools/sign"
)

// chartDOM is what the browser reports of one chart.
type chartDOM struct {
	ID, Kind, Title, Desc string
	Width, Height         float64
	Texts                 int
	AxisLabels            []string
	Marks                 []string // the <title> of every row, series, bin and bar
	Points                []int    // per polyline, its number of points
}

const chartsJS = `[...document.querySelectorAll('svg.chart')].map(s => {
	const r = s.getBoundingClientRect();
	const kids = sel => [...s.querySelectorAll(sel)];
	return {ID: s.id, Kind: s.dataset.chart,
		Title: s.querySelector(':scope > title').textContent, Desc: s.querySelector(':scope > desc').textContent,
		Width: r.width, Height: r.height, Texts: kids('text').length,
		AxisLabels: kids('text.axis-label').map(t => t.textContent),
		Marks: kids('g.delta-row > title, g.series > title, circle.bin > title, rect.bar > title, g.count-row > title').map(t => t.textContent),
		Points: kids('polyline').map(p => p.points.numberOfItems)};
})`

var numRE = regexp.MustCompile(`[-+]?\d+\.?\d*(?:e[-+]?\d+)?|[-+]inf\b`)

// numbers are the numbers of a title, in order.
func numbers(t *testing.T, s string) []float64 {
	t.Helper()
	var out []float64
	for _, m := range numRE.FindAllString(s, -1) {
		v, err := strconv.ParseFloat(m, 64)
		require.NoError(t, err, "%q in %q", m, s)
		out = append(out, v)
	}
	return out
}

// near: a title's number equals the stored value to its six printed digits.
func near(t *testing.T, want, got float64, what string) {
	t.Helper()
	require.InDelta(t, want, got, math.Max(1e-12, math.Abs(want)*1e-5), what)
}

// TestReviewersPageChartsInBrowser runs the demo's pipeline on a real
// server up to its approval and checks the reviewers' page in headless
// Chromium: the decision comes first, then every chart, each sized,
// titled, described and labelled, and the numbers in the marks' titles
// equal the evidence in the stored reports; the long tables are folded
// and waiting for approval is news, not an error.
func TestReviewersPageChartsInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("drives a browser")
	}
	dir := t.TempDir()
	tokens := auth.File{Tokens: []auth.Token{
		{Token: "rita-token-0123456789abcd", Name: "rita", Roles: []string{"reviewer"}, Groups: []string{"ml-reviewers"}},
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
	// As in the demo, v1 serves production before the candidate arrives,
	// so the evaluation compares two models.
	v1 := filepath.Join(example, "model-production.json")
	digest, _, err := sign.FileDigest(v1)
	require.NoError(t, err)
	require.NoError(t, s.Store.ModelVersionPut(ctx, store.ModelVersion{Model: demo.ModelName, Version: "v1", Digest: digest, ArtifactPath: v1, CreatedAt: time.Now().UTC()}))
	_, err = s.Store.ProductionSet(ctx, store.ProductionSetParams{Model: demo.ModelName, Environment: "production", Version: "v1", Reason: "test bootstrap"})
	require.NoError(t, err)
	browser := browsertest.New(t)
	_, err = chromedp.Run(browser, chromedp.Navigate(web.URL+"/ui/login")) // starts the browser, for the test's lifetime
	require.NoError(t, err)
	signIn(t, browser, web.URL, tokens.Tokens[0].Token)

	t.Run("demo run", func(t *testing.T) {
		run, _, err := s.Coordinator.Submit(ctx, coordinator.SubmitParams{Config: cfg, BaseDir: example, Requester: "ci-bot", CommitAuthor: "dev-dana"})
		require.NoError(t, err)
		run, err = s.Coordinator.Wait(ctx, run.ID, true)
		require.NoError(t, err)
		require.Equal(t, store.RunAwaitingApproval, run.State, run.Error)
		checkRunPage(t, ctx, s, browser, web.URL, run, true)
	})
	// The same pipeline on serving data that drifted, with slices: the
	// drifted columns' histograms and the slices chart appear.
	t.Run("drifted run with slices", func(t *testing.T) {
		base := t.TempDir()
		for _, f := range []string{"train.csv", "holdout.csv", "model-candidate.json"} {
			b, err := os.ReadFile(filepath.Join(example, f))
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join(base, f), b, 0o644))
		}
		require.NoError(t, os.WriteFile(filepath.Join(base, "current.csv"), shifted(t, filepath.Join(example, "holdout.csv")), 0o644))
		dcfg := strings.Replace(string(cfg), "data: {reference: train.csv, holdout: holdout.csv}", "data: {reference: train.csv, holdout: holdout.csv, current: current.csv}", 1)
		dcfg = strings.Replace(dcfg, "evaluation:\n", "evaluation:\n  slices: [{column: mean_radius, bins: [12, 15], min_size: 20}]\n", 1)
		require.NotEqual(t, string(cfg), dcfg)
		run, _, err := s.Coordinator.Submit(ctx, coordinator.SubmitParams{Config: []byte(dcfg), BaseDir: base, Requester: "ci-bot", CommitAuthor: "dev-dana"})
		require.NoError(t, err)
		run, err = s.Coordinator.Wait(ctx, run.ID, true)
		require.NoError(t, err)
		checkRunPage(t, ctx, s, browser, web.URL, run, run.State == store.RunAwaitingApproval)
	})
}

// shifted is the holdout with its first three columns moved by two
// standard deviations' worth: serving data that drifted.
func shifted(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	for i := 1; i < len(lines); i++ {
		f := strings.Split(lines[i], ",")
		for k, by := range []float64{4, 6, 30} {
			v, err := strconv.ParseFloat(f[k], 64)
			require.NoError(t, err)
			f[k] = strconv.FormatFloat(v+by, 'g', -1, 64)
		}
		lines[i] = strings.Join(f, ",")
	}
	return []byte(strings.Join(lines, "\n") + "\n")
}

func signIn(t *testing.T, browser context.Context, base, token string) {
	t.Helper()
	for _, a := range []chromedp.Action[chromedp.Void]{chromedp.Navigate(base + "/ui/login"), chromedp.SendKeys(chromedp.ID("token"), token),
		chromedp.Click(chromedp.ID("login")), chromedp.WaitVisible(chromedp.ID("who"))} {
		sctx, c := context.WithTimeout(browser, 30*time.Second)
		_, err := chromedp.Run(sctx, a)
		c()
		require.NoError(t, err)
	}
}

// checkRunPage checks one run's page against its stored reports.
func checkRunPage(t *testing.T, ctx context.Context, s *app.Server, browser context.Context, base string, run store.Run, awaiting bool) {
	// The evidence as stored.
	stages, err := s.Store.StageList(ctx, run.ID)
	require.NoError(t, err)
	reports := map[string]agents.Report{}
	severities := map[string]float64{}
	for _, st := range assistant.WithoutRecord(stages) {
		var rep agents.Report
		if len(st.Report) == 0 || json.Unmarshal(st.Report, &rep) != nil {
			continue
		}
		reports[rep.Agent] = rep
		for _, f := range rep.Findings {
			severities[string(f.Severity)]++
		}
	}
	evalRep, ok := reports["evaluation"]
	require.True(t, ok, "the evaluation stage reported")
	result, curves, err := evaluation.DecodeDetails(evalRep.Details)
	require.NoError(t, err)
	require.NotNil(t, curves, "the stored report carries the curves")
	require.NotNil(t, curves.Production, "and production's")
	var valDet struct {
		Drift *drift.Result `json:"drift"`
	}
	require.NoError(t, json.Unmarshal(reports["validation"].Details, &valDet))
	require.NotNil(t, valDet.Drift)

	step := func(name string, a chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, c := context.WithTimeout(browser, 30*time.Second)
		defer c()
		_, err := chromedp.Run(sctx, a)
		require.NoError(t, err, name)
	}
	step("open", chromedp.Navigate(base+"/ui/runs/"+run.ID))
	step("charts", chromedp.WaitVisible(chromedp.ID("evidence")))
	eval := func(js string, v any) {
		t.Helper()
		sctx, c := context.WithTimeout(browser, 30*time.Second)
		defer c()
		raw, err := chromedp.Run(sctx, chromedp.Evaluate[json.RawMessage]("JSON.stringify("+js+")"))
		require.NoError(t, err, js)
		var str string
		require.NoError(t, json.Unmarshal(raw, &str))
		require.NoError(t, json.Unmarshal([]byte(str), v), str)
	}

	var order []string
	eval(`['decision', 'evidence', 'findings', 'stage-evaluate'].filter(id => document.getElementById(id)).sort((a, b) =>
		document.getElementById(a).compareDocumentPosition(document.getElementById(b)) & Node.DOCUMENT_POSITION_FOLLOWING ? -1 : 1)`, &order)
	require.Equal(t, []string{"decision", "evidence", "findings", "stage-evaluate"}, order, "decision, then evidence, then findings, then the stages")
	var note struct{ Note, Error bool }
	eval(`({Note: !!document.getElementById('run-note'), Error: !!document.getElementById('run-error')})`, &note)
	if awaiting {
		require.True(t, note.Note, "why the run waits is shown")
		require.False(t, note.Error, "waiting for approval is not an error")
	}
	var folded []bool
	eval(`[...document.querySelectorAll('#stage-evaluate details, #stage-validate details')].map(d => d.open)`, &folded)
	require.NotEmpty(t, folded)
	for _, open := range folded {
		require.False(t, open, "the long tables are folded")
	}

	var charts []chartDOM
	eval(chartsJS, &charts)
	byID := map[string]chartDOM{}
	for _, c := range charts {
		require.Greater(t, c.Width, 50.0, "%s is sized", c.ID)
		require.Greater(t, c.Height, 30.0, "%s is sized", c.ID)
		require.NotEmpty(t, c.Title, c.ID)
		require.NotEmpty(t, c.Desc, c.ID)
		require.Greater(t, c.Texts, 1, "%s has text values", c.ID)
		byID[c.ID] = c
	}

	t.Logf("run %s (%s): %d charts", run.ID, run.State, len(charts))
	t.Run("deltas", func(t *testing.T) {
		c, ok := byID["run-deltas"]
		require.True(t, ok, "the deltas chart is on the page")
		want := map[string][]float64{}
		for k, v := range evalRep.Metrics {
			if m, ok := cutDelta(k); ok {
				want[m] = append(want[m], v)
				_ = v
			}
		}
		rows := 0
		for name := range result.Comparison {
			if _, ok := evalRep.Metrics["delta."+name]; ok {
				rows++
			}
		}
		require.Len(t, c.Marks, rows, "one row per compared metric")
		for _, m := range c.Marks {
			name := m[:regexp.MustCompile(`:`).FindStringIndex(m)[0]]
			n := numbers(t, m[len(name):])
			require.GreaterOrEqual(t, len(n), 3, m)
			near(t, evalRep.Metrics["delta."+name], n[0], m)
			// n[1] is the interval's level (95)
			near(t, evalRep.Metrics["delta."+name+".ci_low"], n[2], m)
			near(t, evalRep.Metrics["delta."+name+".ci_high"], n[3], m)
		}
	})
	t.Run("curves", func(t *testing.T) {
		for _, id := range []string{"run-roc", "run-pr"} {
			c, ok := byID[id]
			require.True(t, ok, id)
			require.Len(t, c.AxisLabels, 2, "%s has both axis labels", id)
			require.Len(t, c.Marks, 2, "%s overlays candidate and production", id)
			metric := map[string]string{"run-roc": "roc_auc", "run-pr": "pr_auc"}[id]
			stored := map[string]*evaluation.ModelCurves{"candidate": curves.Candidate, "production": curves.Production}
			values := map[string]float64{"candidate": result.Candidate.Values[metric], "production": result.Baseline.Values[metric]}
			for i, who := range []string{"candidate", "production"} {
				n := numbers(t, c.Marks[i])
				require.Contains(t, c.Marks[i], who)
				near(t, values[who], n[0], c.Marks[i])
				pts := len(stored[who].FPR)
				if id == "run-pr" {
					pts = len(stored[who].Recall)
				}
				require.Equal(t, float64(pts), n[1], "%s: the points drawn are the points stored", c.Marks[i])
				require.Equal(t, pts, c.Points[i])
			}
		}
	})
	t.Run("calibration", func(t *testing.T) {
		c, ok := byID["run-calibration"]
		require.True(t, ok)
		require.Len(t, c.AxisLabels, 2)
		bins := append(curves.Candidate.Bins(), curves.Production.Bins()...)
		// marks: the series title, its bins, the next series title, its bins
		var binMarks []string
		for _, m := range c.Marks {
			if regexp.MustCompile(`rows, mean predicted`).MatchString(m) {
				binMarks = append(binMarks, m)
			}
		}
		require.Len(t, binMarks, len(bins))
		for i, m := range binMarks {
			n := numbers(t, m)
			near(t, bins[i].Count, n[0], m)
			near(t, bins[i].MeanPredicted, n[1], m)
			near(t, bins[i].FractionPositive, n[2], m)
		}
	})
	t.Run("drift histograms", func(t *testing.T) {
		shown := 0
		for _, name := range slices.Sorted(maps.Keys(valDet.Drift.Columns)) {
			col := valDet.Drift.Columns[name]
			if !col.Drifted || col.Histogram == nil {
				continue
			}
			shown++
			var c *chartDOM
			for i := range charts {
				if charts[i].Kind == "histogram" && regexp.MustCompile(`^`+regexp.QuoteMeta(name)+`: `).MatchString(charts[i].Title) {
					c = &charts[i]
				}
			}
			require.NotNil(t, c, "histogram of drifted column %s", name)
			require.Len(t, c.Marks, 2*len(col.Histogram.Labels))
			for i := range col.Histogram.Labels {
				ref, cur := numbers(t, c.Marks[2*i]), numbers(t, c.Marks[2*i+1])
				require.InDelta(t, col.Histogram.Reference[i]*100, ref[len(ref)-1], 0.051, c.Marks[2*i])
				require.InDelta(t, col.Histogram.Current[i]*100, cur[len(cur)-1], 0.051, c.Marks[2*i+1])
			}
		}
		n := 0
		for _, c := range charts {
			if c.Kind == "histogram" {
				n++
			}
		}
		require.Equal(t, shown, n, "one histogram per drifted column the report kept")
		drifted := 0
		for _, c := range valDet.Drift.Columns {
			if c.Drifted {
				drifted++
			}
		}
		t.Logf("%d of %d drifted columns drawn (%d columns, share %.3f)", shown, drifted, len(valDet.Drift.Columns), valDet.Drift.DriftShare)
	})
	t.Run("slices", func(t *testing.T) {
		_, ok := byID["run-slices"]
		require.Equal(t, len(result.Slices) > 0, ok, "the slices chart is drawn when the evaluation has slices")
	})
	t.Run("findings by severity", func(t *testing.T) {
		c, ok := byID["run-findings"]
		require.True(t, ok)
		require.Len(t, c.Marks, 5, "one row per severity, zeros included")
		for _, m := range c.Marks {
			sev := m[:regexp.MustCompile(`:`).FindStringIndex(m)[0]]
			require.Equal(t, severities[sev], numbers(t, m)[0], m)
		}
	})
}

func cutDelta(k string) (string, bool) {
	const p = "delta."
	if len(k) <= len(p) || k[:len(p)] != p {
		return "", false
	}
	return k[len(p):], true
}
