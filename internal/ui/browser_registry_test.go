package ui_test

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/internal/browsertest"
	"github.com/modelgate/modelgate/internal/oversight"
	"github.com/modelgate/modelgate/internal/release"
	"github.com/modelgate/modelgate/internal/store"
	"github.com/modelgate/modelgate/tools/chart"
)

// shownVersion is what the model page shows of one version, read from
// the DOM by readVersions.
type shownVersion struct {
	Version, Digest, Run, Envs, Aliases, Description string
	Tags                                             map[string]string
	LineageOpen                                      bool
	Data, Env, Toolchain                             map[string]string
	Config, Commit, Author, Requester, Trigger       string
	Command, Outcome                                 string
	Approvals                                        map[string]string // id → state
	Evidence, Metrics                                map[string]string // name → exact value
}

const readVersions = `JSON.stringify([...document.querySelectorAll('.version')].map(v => {
	const t = s => { const e = v.querySelector(s); return e ? e.textContent.trim() : ''; };
	const m = (s, key, val) => Object.fromEntries([...v.querySelectorAll(s)].map(e => [e.dataset[key], val(e)]));
	const code = e => e.querySelector('code').textContent;
	const d = v.querySelector('details.lineage');
	return {Version: v.dataset.version, Digest: t('.v-digest'), Run: t('.v-run'), Envs: t('.v-envs'), Aliases: t('.v-aliases'),
		Description: t('.v-description'), Tags: m('.tag', 'key', e => e.querySelector('.tag-value').textContent),
		LineageOpen: d ? d.open : false,
		Data: m('.l-datum', 'role', code), Env: m('.l-envvar', 'key', code), Toolchain: m('.l-tool', 'key', code),
		Config: t('.l-config'), Commit: t('.l-commit'), Author: t('.l-author'), Requester: t('.l-requester'), Trigger: t('.l-trigger'),
		Command: t('.l-command'), Outcome: t('.l-outcome'),
		Approvals: m('.l-approval', 'id', e => e.dataset.state),
		Evidence: m('.l-evidence tbody tr', 'name', e => e.dataset.value),
		Metrics: m('.v-metrics tbody tr', 'name', e => e.dataset.value)};
}))`

// hostileDOM reports any element or handler that hostile text could
// have made: the page itself has no image, script or bold element.
const hostileDOM = `JSON.stringify([...document.querySelectorAll('*')].filter(e =>
	['IMG', 'SCRIPT', 'B'].includes(e.tagName) || [...e.attributes].some(a => a.name.startsWith('on'))).map(e => e.outerHTML))`

func exactMap(m map[string]float64) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = strconv.FormatFloat(v, 'g', -1, 64)
	}
	return out
}

func emptyIfNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// TestBrowserRegistryPages drives real Chromium through the registry
// pages: signed out it gets the sign-in form and no data; signed in,
// the versions newest first with every lineage field equal to the
// stored one (folded until opened), the models list with a hostile name
// as text that links to its page, and the diff whose table and chart
// are release.Diff's numbers.
func TestBrowserRegistryPages(t *testing.T) {
	t.Parallel()
	ctx := browsertest.New(t)
	r := setupRegistry(t)
	_, err := chromedp.Run(ctx, chromedp.Navigate(r.srv.URL+modelPath("fraud-detector")))
	require.NoError(t, err)
	sctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	run := func(name string, a chromedp.Action[chromedp.Void]) {
		t.Helper()
		_, err := chromedp.Run(sctx, a)
		require.NoError(t, err, name)
	}
	eval := func(js string, out any) {
		t.Helper()
		s, err := chromedp.Run(sctx, chromedp.Evaluate[string](js))
		require.NoError(t, err, js)
		require.NoError(t, json.Unmarshal([]byte(s), out), s)
	}

	// Signed out: the sign-in form, nothing of the registry.
	run("sign-in form", chromedp.WaitVisible(chromedp.ID("token")))
	var text string
	eval(`JSON.stringify(document.body.innerText)`, &text)
	for _, s := range []string{r.v6.Digest, r.v7.Digest, "champion", "Retrained"} {
		require.NotContains(t, text, s)
	}
	run("token", chromedp.SendKeys(chromedp.ID("token"), "reviewer-token"))
	run("sign in", chromedp.Click(chromedp.ID("login")))
	run("versions", chromedp.WaitVisible(chromedp.CSS(`.version`)))

	var shown []shownVersion
	eval(readVersions, &shown)
	require.Len(t, shown, 2)
	require.Equal(t, "v7", shown[0].Version, "newest first")
	require.Equal(t, "v6", shown[1].Version)
	want := map[string]struct {
		v             store.ModelVersion
		envs, aliases string
		desc          string
		tags          map[string]string
	}{
		"v7": {r.v7, "staging", "challenger", "", map[string]string{}},
		"v6": {r.v6, "production", "champion", "Retrained on November. " + hostileName, map[string]string{"team": "fraud", "note": hostileName}},
	}
	for _, got := range shown {
		w := want[got.Version]
		l := w.v.Lineage
		require.NotNil(t, l)
		require.Equal(t, w.v.Digest, got.Digest, got.Version)
		require.Equal(t, w.v.RunID, got.Run, got.Version)
		require.Equal(t, w.envs, got.Envs, got.Version)
		require.Equal(t, w.aliases, got.Aliases, got.Version)
		require.Equal(t, w.desc, got.Description, got.Version)
		require.Equal(t, w.tags, got.Tags, got.Version)
		require.False(t, got.LineageOpen, "lineage is folded")
		require.Equal(t, emptyIfNil(l.Data), got.Data, got.Version)
		require.Equal(t, emptyIfNil(l.Env), got.Env, got.Version)
		require.Equal(t, emptyIfNil(l.Toolchain), got.Toolchain, got.Version)
		require.Equal(t, l.ConfigDigest, got.Config, got.Version)
		require.Equal(t, l.Commit, got.Commit, got.Version)
		require.Equal(t, l.CommitAuthor, got.Author, got.Version)
		require.Equal(t, l.Requester, got.Requester, got.Version)
		require.Equal(t, l.Trigger, got.Trigger, got.Version)
		require.Equal(t, strings.Join(l.Command, " "), got.Command, got.Version)
		approvals := map[string]string{}
		for _, a := range l.Approvals {
			approvals[a.ID] = a.State
		}
		require.Equal(t, approvals, got.Approvals, got.Version)
		require.Equal(t, exactMap(l.Evidence), got.Evidence, got.Version)
		require.Equal(t, exactMap(w.v.Metrics), got.Metrics, got.Version)
		if len(l.Decision) > 0 {
			var d oversight.Decision
			require.NoError(t, json.Unmarshal(l.Decision, &d))
			require.True(t, d.Allow && d.RequireApproval, "the fixture's decision")
			require.Equal(t, "allowed, needed approval", got.Outcome)
		}
	}
	require.NotEmpty(t, shown[0].Approvals, "v7's lineage has the vote cast in setup")
	require.Equal(t, "approved", shown[0].Approvals[r.approval.ID])

	// A reviewer unfolds the lineage.
	run("unfold", chromedp.Click(chromedp.CSS(`#lineage-v6 > summary`)))
	run("lineage shown", chromedp.WaitVisible(chromedp.CSS(`#lineage-v6 .l-command`)))
	var bad []string
	eval(hostileDOM, &bad)
	require.Empty(t, bad, "hostile text made elements")

	// The models list; the hostile model's name is text and links to its page.
	run("nav", chromedp.Click(chromedp.ID("nav-models")))
	run("models", chromedp.WaitVisible(chromedp.ID("models")))
	var rows []struct{ Model, Link, Production, Aliases string }
	eval(`JSON.stringify([...document.querySelectorAll('#models tbody tr')].map(r => ({Model: r.dataset.model,
		Link: r.querySelector('a.model-link').textContent, Production: r.querySelector('.model-production').textContent.trim(),
		Aliases: r.querySelector('.model-aliases').textContent.trim()})))`, &rows)
	names, err := r.st.ModelList(context.Background())
	require.NoError(t, err)
	require.Len(t, rows, len(names))
	evil := slices.IndexFunc(rows, func(x struct{ Model, Link, Production, Aliases string }) bool { return x.Model == hostileModel })
	require.GreaterOrEqual(t, evil, 0, "%+v", rows)
	require.Equal(t, hostileModel, rows[evil].Link)
	fraud := slices.IndexFunc(rows, func(x struct{ Model, Link, Production, Aliases string }) bool { return x.Model == "fraud-detector" })
	require.Equal(t, "production: v6 staging: v7", rows[fraud].Production)
	require.Equal(t, "challenger → v7 champion → v6", rows[fraud].Aliases)
	eval(hostileDOM, &bad)
	require.Empty(t, bad)
	run("open hostile model", chromedp.Click(chromedp.CSS(`#models tbody tr:nth-child(`+strconv.Itoa(evil+1)+`) a.model-link`)))
	run("its page", chromedp.WaitVisible(chromedp.ID("model-name")))
	eval(`JSON.stringify(document.getElementById('model-name').textContent)`, &text)
	require.Equal(t, hostileModel, text)
	eval(readVersions, &shown)
	require.Len(t, shown, 1)
	require.Equal(t, r.evil.Digest, shown[0].Digest)
	require.Equal(t, "Retrained on November. "+hostileName, shown[0].Description)
	eval(hostileDOM, &bad)
	require.Empty(t, bad)

	// The diff, through the page's own form (a = v6, b = v7 by default).
	run("back", chromedp.Navigate(r.srv.URL+modelPath("fraud-detector")))
	run("diff form", chromedp.WaitVisible(chromedp.ID("diff-go")))
	run("diff", chromedp.Click(chromedp.ID("diff-go")))
	run("diff table", chromedp.WaitReady(chromedp.ID("diff-metrics")))
	d := release.Diff(r.v6, r.v7)
	var got []struct{ Name, A, B, Delta, Class string }
	eval(`JSON.stringify([...document.querySelectorAll('#diff-metrics tbody tr')].map(r => ({Name: r.dataset.name, A: r.dataset.a,
		B: r.dataset.b, Delta: r.dataset.delta, Class: r.dataset.class})))`, &got)
	require.Len(t, got, len(d.Metrics))
	ex := func(p *float64) string {
		if p == nil {
			return ""
		}
		return strconv.FormatFloat(*p, 'g', -1, 64)
	}
	var titles, classes []string
	byName := map[string]string{}
	for i, m := range d.Metrics {
		require.Equal(t, m.Name, got[i].Name)
		require.Equal(t, ex(m.A), got[i].A, m.Name)
		require.Equal(t, ex(m.B), got[i].B, m.Name)
		require.Equal(t, ex(m.Delta), got[i].Delta, m.Name)
		byName[m.Name] = got[i].Class
		if m.Delta != nil {
			titles = append(titles, m.Name+": delta "+chart.Signed(*m.Delta))
			classes = append(classes, got[i].Class)
		}
	}
	require.NotEmpty(t, titles, "the versions share metrics")
	// Direction-aware: a higher roc_auc and a lower log_loss are better;
	// a number without a direction is not coloured.
	require.Equal(t, "up", byName["roc_auc"])
	require.Equal(t, "up", byName["log_loss"])
	require.Equal(t, "up", byName["evaluate.candidate.roc_auc"])
	require.Equal(t, "up", byName["evaluate.candidate.log_loss"])
	var chartRows []struct{ Title, Class string }
	eval(`JSON.stringify([...document.querySelectorAll('#diff-deltas g.delta-row')].map(g => ({Title: g.querySelector('title').textContent, Class: g.dataset.class})))`, &chartRows)
	require.Len(t, chartRows, len(titles))
	for i := range titles {
		require.Equal(t, titles[i], chartRows[i].Title)
		require.Equal(t, classes[i], chartRows[i].Class, "chart and table colour alike")
	}
	var size struct{ W, H float64 }
	eval(`JSON.stringify((b => ({W: b.width, H: b.height}))(document.getElementById('diff-deltas').getBoundingClientRect()))`, &size)
	require.Greater(t, size.W, 100.0)
	require.Greater(t, size.H, 50.0)
	var fields map[string][2]string
	eval(`JSON.stringify(Object.fromEntries([...document.querySelectorAll('#diff-lineage tbody tr')].map(r => [r.dataset.field,
		[r.querySelector('.d-a').textContent, r.querySelector('.d-b').textContent]])))`, &fields)
	wantFields := map[string][2]string{}
	for _, c := range d.Lineage {
		wantFields[c.Field] = [2]string{c.A, c.B}
	}
	require.Equal(t, wantFields, fields)
	require.Contains(t, slices.Collect(maps.Keys(fields)), "digest")
	eval(hostileDOM, &bad)
	require.Empty(t, bad)
}

// TestBrowserRegistryNarrowScreen: on a phone-sized screen the registry
// pages do not scroll sideways; long digests and the chart stay in
// their cards.
func TestBrowserRegistryNarrowScreen(t *testing.T) {
	t.Parallel()
	ctx := browsertest.New(t)
	r := setupRegistry(t)
	_, err := chromedp.Run(ctx, chromedp.Navigate(r.srv.URL+"/ui/models"))
	require.NoError(t, err)
	sctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for _, a := range []chromedp.Action[chromedp.Void]{chromedp.EmulateViewport(360, 800), chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), "reviewer-token"), chromedp.Click(chromedp.ID("login")), chromedp.WaitVisible(chromedp.ID("models"))} {
		_, err := chromedp.Run(sctx, a)
		require.NoError(t, err)
	}
	for _, p := range []string{"/ui/models", modelPath("fraud-detector"), modelPath("fraud-detector") + "/diff?a=v6&b=v7"} {
		_, err := chromedp.Run(sctx, chromedp.Navigate(r.srv.URL+p))
		require.NoError(t, err, p)
		if strings.Contains(p, "/diff") {
			_, err = chromedp.Run(sctx, chromedp.WaitVisible(chromedp.ID("diff-deltas")))
			require.NoError(t, err, p)
		} else {
			_, err = chromedp.Run(sctx, chromedp.WaitVisible(chromedp.CSS("main h1")))
			require.NoError(t, err, p)
		}
		fits, err := chromedp.Run(sctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth <= window.innerWidth + 1`))
		require.NoError(t, err, p)
		wide, _ := chromedp.Run(sctx, chromedp.Evaluate[string](`[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > window.innerWidth + 1).slice(0, 8).map(e => e.tagName + '.' + e.className).join(' ')`))
		require.True(t, fits, "%s scrolls sideways; too wide: %s", p, wide)
	}
}
