package ui_test

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/agents"
	"github.com/modelgate/modelgate/agents/evaluation"
	"github.com/modelgate/modelgate/internal/store"
	"github.com/modelgate/modelgate/tools/compare"
	"github.com/modelgate/modelgate/tools/drift"
)

const hostileName = `<script>alert(1)</script>"><img src=x onerror=alert(2)>`

func ptr(v float64) *float64 { return &v }

// putHostileEvidence replaces the fixture's evaluate and validate
// reports with ones whose model-supplied names (a slice value, a drifted
// column, histogram bins) are markup.
func putHostileEvidence(t *testing.T, f *fixture) {
	t.Helper()
	ctx := context.Background()
	labels := []float64{0, 0, 1, 1, 0, 1, 0, 1, 1, 0}
	cand := []float64{0.1, 0.3, 0.8, 0.7, 0.2, 0.9, 0.4, 0.6, 0.75, 0.35}
	prod := []float64{0.2, 0.4, 0.6, 0.5, 0.3, 0.7, 0.55, 0.45, 0.65, 0.5}
	res := compare.Result{Task: "binary", Rows: 10, Confidence: 0.95, Verdict: compare.Regressed,
		Candidate: compare.MetricSet{Values: map[string]float64{"roc_auc": 1}}, Baseline: &compare.MetricSet{Values: map[string]float64{"roc_auc": 0.84}},
		Comparison: map[string]compare.Comparison{"roc_auc": {Delta: ptr(0.16), CILow: ptr(0.01), CIHigh: ptr(0.3), Verdict: compare.Improved, Guarded: true}},
		Slices: []compare.SliceResult{{Column: hostileName, Value: hostileName, Rows: 5, Verdict: compare.Regressed,
			Comparison: map[string]compare.Comparison{"roc_auc": {Delta: ptr(-0.2), CILow: ptr(-0.4), CIHigh: ptr(-0.05), Verdict: compare.Regressed, Guarded: true}}}}}
	b, err := json.Marshal(res)
	require.NoError(t, err)
	var det map[string]any
	require.NoError(t, json.Unmarshal(b, &det))
	det["curves"] = evaluation.NewCurves(labels, cand, prod)
	evalDet, err := json.Marshal(det)
	require.NoError(t, err)
	driftDet, err := json.Marshal(map[string]any{"drift_of": "current", "drift": drift.Result{Columns: map[string]*drift.ColumnResult{
		hostileName: {Type: "categorical", Test: "chisquare", Statistic: 41, PValue: ptr(1e-6), Drifted: true,
			Histogram: &drift.Histogram{Labels: []string{hostileName, "b"}, Reference: []float64{0.5, 0.5}, Current: []float64{0.9, 0.1}}}}}})
	require.NoError(t, err)
	reports := map[string]agents.Report{
		"evaluate": {Agent: "evaluation", Verdict: agents.Fail, Summary: "a slice regressed", Details: evalDet,
			Metrics:  map[string]float64{"candidate.roc_auc": 1, "production.roc_auc": 0.84, "delta.roc_auc": 0.16, "delta.roc_auc.ci_low": 0.01, "delta.roc_auc.ci_high": 0.3},
			Findings: []agents.Finding{{Severity: agents.Critical, Code: "eval.slice", Subject: hostileName, Message: hostileName}}},
		"validate": {Agent: "validation", Verdict: agents.Warn, Summary: "drift", Details: driftDet,
			Findings: []agents.Finding{{Severity: agents.Info, Code: "drift.column", Subject: hostileName, Message: "drifted"}}},
	}
	for name, rep := range reports {
		b, err := json.Marshal(rep)
		require.NoError(t, err)
		require.NoError(t, f.st.StagePut(ctx, store.Stage{RunID: f.run.ID, Name: name, State: store.StageSucceeded, Attempt: 1, Verdict: string(rep.Verdict), Report: b}))
	}
}

var svgRe = regexp.MustCompile(`(?s)<svg .*?</svg>`)

// TestEvidenceEscapesModelSuppliedNames: names that are markup reach the
// charts as text: no element, no attribute, every chart well-formed.
func TestEvidenceEscapesModelSuppliedNames(t *testing.T) {
	t.Parallel()
	f := setup(t)
	putHostileEvidence(t, f)

	// Without a session nothing of the evidence is served.
	anon := client(t)
	anon.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	status, body := get(t, anon, f.srv.URL+"/ui/runs/"+f.run.ID)
	require.NotEqual(t, http.StatusOK, status)
	require.NotContains(t, body, "<svg")

	c := client(t)
	login(t, f, c, "reviewer-token")
	status, body = get(t, c, f.srv.URL+"/ui/runs/"+f.run.ID)
	require.Equal(t, http.StatusOK, status)
	require.NotContains(t, body, "<script>")
	require.NotContains(t, body, "<img")
	require.NotRegexp(t, `<[^>]*onerror`, body, "no element carries the handler")
	svgs := svgRe.FindAllString(body, -1)
	ids := map[string]bool{}
	for _, s := range svgs {
		dec := xml.NewDecoder(strings.NewReader(s))
		dec.Strict = true
		for {
			tok, err := dec.Token()
			if errors.Is(err, io.EOF) {
				break
			}
			require.NoError(t, err, s)
			if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "svg" {
				for _, a := range se.Attr {
					if a.Name.Local == "id" {
						ids[a.Value] = true
					}
				}
			}
		}
	}
	for _, id := range []string{"run-deltas", "run-roc", "run-pr", "run-calibration", "run-slices", "run-findings"} {
		require.True(t, ids[id], "chart %s on the page (%v)", id, ids)
	}
	require.Len(t, ids, 7, "six charts and one drifted column's histogram")
	require.Contains(t, body, "&lt;script&gt;alert(1)&lt;/script&gt;")
	require.Contains(t, body, "Slices that regressed: 1 of 1 slice comparisons")
	require.Contains(t, body, "<title>critical: 1</title>")
}
