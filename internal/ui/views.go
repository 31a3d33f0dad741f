package ui

import (
	"context"
	"embed"
	"fmt"
	"html/template"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/modelgate/modelgate/agents/assistant"
	"github.com/modelgate/modelgate/internal/llm"
	"github.com/modelgate/modelgate/internal/oversight"
	"github.com/modelgate/modelgate/internal/pipeline"
	"github.com/modelgate/modelgate/internal/store"
)

//go:embed assets
var assets embed.FS

// page is everything a template may show; each page fills what it needs.
type page struct {
	Base    string
	Title   string
	Session *session
	CSRF    string // login form only; other forms use Session.CSRF
	Next    string
	Flash   string
	Error   string
	Runs    []store.Run
	States  []store.RunState
	Filter  string
	RunView *runView
	Pending []approvalView
	Recent  []approvalView
	Monitor []monitorView // monitor.go
	Catalog *registryView // the registry pages (registry.go)
}

type runView struct {
	Run           store.Run
	Stages        []stageView
	Decision      *oversight.Decision
	DecisionError string
	Approvals     []approvalView
	Brief         *assistant.Brief  // assist.html
	Triage        *assistant.Triage // failed and rolled-back runs
	Usage         *llm.Usage
	Evidence      *evidenceView // the charts at the top of the page (evidence.go)
}

// Failed reports whether the run ended without succeeding: only then is
// its Error an error. While it runs or awaits approval, the field holds
// the reason of its last transition ("risk high: 1 approval(s)…"), which
// is news for a reviewer, not a failure.
func (v runView) Failed() bool { return v.Run.State.Terminal() && v.Run.State != store.RunSucceeded }

type approvalView struct {
	store.Approval
	Approvals int
	CanVote   bool   // the policy allows this user to approve/reject it
	Own       bool   // the user requested or authored the candidate
	Remaining string // time left before expiry
	Brief     *assistant.Brief
}

func (s *server) approvalViews(ctx context.Context, sess session, as []store.Approval) []approvalView {
	out := make([]approvalView, 0, len(as))
	for _, a := range as {
		v := approvalView{Approval: a, Brief: s.briefOf(ctx, a)}
		for _, vote := range a.Votes {
			if vote.Decision == "approve" {
				v.Approvals++
			}
		}
		if a.State == store.ApprovalPending {
			ok, err := s.can(ctx, sess, "approve", a.Model, a.Environment)
			v.CanVote = err == nil && (ok || s.o.Engine == nil)
			v.Own = strings.EqualFold(sess.Subject, a.Requester) || (a.CommitAuthor != "" && strings.Contains(strings.ToLower(a.CommitAuthor), strings.ToLower(sess.Subject)))
			left := a.ExpiresAt.Sub(s.o.Now()).Round(time.Minute)
			if left > 0 {
				v.Remaining = left.String()
			} else {
				v.Remaining = "overdue"
			}
		}
		out = append(out, v)
	}
	return out
}

// stageView is one stage with its report laid out for people.
type stageView struct {
	store.Stage
	Report      *pipeline.Report
	ReportError string
	Comparison  []metricRow
	Drift       driftTable
	Other       []kv
	Findings    []pipeline.Finding
	HTMLReports []string // evaluation.html, drift.html: linked, served by reportFile
}

type metricRow struct {
	Name                                    string
	Candidate, Production, Delta, Low, High *float64
	// PValue is the paired test's p-value for the difference: evidence
	// about the delta, shown beside it, not a metric with a delta of its own.
	PValue *float64
}

// lowerIsBetter are the metrics for which a negative delta is an
// improvement: colours follow the metric's direction, not the sign.
var lowerIsBetter = map[string]bool{"log_loss": true, "brier": true, "rmse": true, "mae": true, "mape": true,
	"cost_per_1000": true, "ece": true, "latency_p99_ms": true, "error_rate": true}

type kv struct {
	Name  string
	Value float64
}

type driftTable struct {
	Share   *float64
	Stats   []string
	Columns []driftRow
}

type driftRow struct {
	Column string
	Values []*float64 // aligned with driftTable.Stats
}

var severityRank = map[pipeline.Severity]int{pipeline.Critical: 0, pipeline.High: 1, pipeline.Medium: 2, pipeline.Low: 3, pipeline.Info: 4}

func newStageView(st store.Stage) stageView {
	v := stageView{Stage: st}
	if len(st.Report) == 0 {
		return v
	}
	rep, err := st.AgentReport()
	if err != nil {
		v.ReportError = "the stored report cannot be read: " + err.Error()
		return v
	}
	v.Report = &rep
	v.Comparison, v.Drift, v.Other = layoutMetrics(rep.Metrics)
	v.HTMLReports = htmlReports(&rep)
	v.Findings = append([]pipeline.Finding(nil), rep.Findings...)
	sort.SliceStable(v.Findings, func(i, j int) bool {
		ri, ok := severityRank[v.Findings[i].Severity]
		if !ok {
			ri = 5
		}
		rj, ok := severityRank[v.Findings[j].Severity]
		if !ok {
			rj = 5
		}
		return ri < rj
	})
	return v
}

// layoutMetrics sorts flat dotted metrics into the comparison table
// (candidate.X, production.X, delta.X, delta.X.ci_low/ci_high), the drift
// table (drift.<column>.<statistic>, drift.share) and the rest.
func layoutMetrics(m map[string]float64) ([]metricRow, driftTable, []kv) {
	rows := map[string]*metricRow{}
	row := func(name string) *metricRow {
		r, ok := rows[name]
		if !ok {
			r = &metricRow{Name: name}
			rows[name] = r
		}
		return r
	}
	var drift driftTable
	driftCols := map[string]map[string]float64{}
	statSet := map[string]bool{}
	var other []kv
	for k, val := range m {
		x := val
		switch {
		case strings.HasPrefix(k, "candidate."):
			row(strings.TrimPrefix(k, "candidate.")).Candidate = &x
		case strings.HasPrefix(k, "production."):
			row(strings.TrimPrefix(k, "production.")).Production = &x
		case strings.HasPrefix(k, "delta.") && strings.HasSuffix(k, ".p_value"):
			row(strings.TrimSuffix(strings.TrimPrefix(k, "delta."), ".p_value")).PValue = &x
		case strings.HasPrefix(k, "delta.") && strings.HasSuffix(k, ".ci_low"):
			row(strings.TrimSuffix(strings.TrimPrefix(k, "delta."), ".ci_low")).Low = &x
		case strings.HasPrefix(k, "delta.") && strings.HasSuffix(k, ".ci_high"):
			row(strings.TrimSuffix(strings.TrimPrefix(k, "delta."), ".ci_high")).High = &x
		case strings.HasPrefix(k, "delta."):
			row(strings.TrimPrefix(k, "delta.")).Delta = &x
		case k == "drift.share":
			drift.Share = &x
		case strings.HasPrefix(k, "drift.") && strings.Count(k, ".") >= 2:
			rest := strings.TrimPrefix(k, "drift.")
			i := strings.LastIndex(rest, ".")
			col, stat := rest[:i], rest[i+1:]
			if driftCols[col] == nil {
				driftCols[col] = map[string]float64{}
			}
			driftCols[col][stat] = x
			statSet[stat] = true
		default:
			other = append(other, kv{k, x})
		}
	}
	comp := make([]metricRow, 0, len(rows))
	for _, r := range rows {
		comp = append(comp, *r)
	}
	sort.Slice(comp, func(i, j int) bool { return comp[i].Name < comp[j].Name })
	// The statistics in DESIGN.md's order first, then any others.
	known := []string{"ks_statistic", "ks_pvalue", "wasserstein", "psi", "null_fraction_reference", "null_fraction_current", "drifted"}
	for _, s := range known {
		if statSet[s] {
			drift.Stats = append(drift.Stats, s)
			delete(statSet, s)
		}
	}
	var extra []string
	for s := range statSet {
		extra = append(extra, s)
	}
	sort.Strings(extra)
	drift.Stats = append(drift.Stats, extra...)
	for col, stats := range driftCols {
		r := driftRow{Column: col}
		for _, s := range drift.Stats {
			if v, ok := stats[s]; ok {
				r.Values = append(r.Values, &v)
			} else {
				r.Values = append(r.Values, nil)
			}
		}
		drift.Columns = append(drift.Columns, r)
	}
	sort.Slice(drift.Columns, func(i, j int) bool { return drift.Columns[i].Column < drift.Columns[j].Column })
	sort.Slice(other, func(i, j int) bool { return other[i].Name < other[j].Name })
	return comp, drift, other
}

func formatNum(v float64) string {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return strconv.FormatFloat(v, 'g', -1, 64)
	case v == math.Trunc(v) && math.Abs(v) < 1e12:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case math.Abs(v) >= 0.001 && math.Abs(v) < 1e6:
		return strconv.FormatFloat(v, 'f', 4, 64)
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

var funcs = template.FuncMap{
	"num": func(p any) string {
		switch v := p.(type) {
		case *float64:
			if v == nil {
				return "–"
			}
			return formatNum(*v)
		case float64:
			return formatNum(v)
		case int:
			return strconv.Itoa(v)
		}
		return fmt.Sprint(p)
	},
	"signed": func(p *float64) string {
		if p == nil {
			return "–"
		}
		s := formatNum(*p)
		if *p > 0 {
			s = "+" + s
		}
		return s
	},
	"deltaClass": deltaClass,
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "–"
		}
		return t.UTC().Format("2006-01-02 15:04:05Z")
	},
	"short": func(s string) string {
		s = strings.TrimPrefix(s, "sha256:")
		if len(s) > 12 {
			return s[:12]
		}
		return s
	},
	"join": strings.Join,
	"pct": func(p *float64) string {
		if p == nil {
			return "–"
		}
		return strconv.FormatFloat(*p*100, 'f', 1, 64) + "%"
	},
}

var pages = []string{"login", "runs", "run", "approvals", "error", "monitor", "models", "model", "modeldiff"}

func parseTemplates(base string) (map[string]*template.Template, error) {
	out := map[string]*template.Template{}
	for _, name := range pages {
		t, err := template.New(name).Funcs(funcs).ParseFS(assets, "assets/layout.html", "assets/assist.html", "assets/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("ui: parse template %s: %w", name, err)
		}
		out[name] = t
	}
	return out, nil
}

// briefOf is an approval's reviewer brief (its run's); nil when the run
// cannot be read, so the queue still shows.
func (s *server) briefOf(ctx context.Context, a store.Approval) *assistant.Brief {
	run, err := s.o.Store.RunGet(ctx, a.RunID)
	if err != nil {
		return nil
	}
	b, _, _, err := assistant.View(ctx, s.o.Store, run)
	if err != nil {
		s.o.Logger.Error("ui: brief", "run", a.RunID, "err", err)
		return nil
	}
	return b
}

// deltaClass colours a comparison row: "up" (better, green) or "down"
// (worse, red) when the interval excludes zero (or, without one, by the
// delta's sign), with the metric's direction applied: a lower log_loss
// is an improvement.
func deltaClass(r metricRow) string {
	var sign int
	switch {
	case r.High != nil && *r.High < 0, r.Low == nil && r.Delta != nil && *r.Delta < 0:
		sign = -1
	case r.Low != nil && *r.Low > 0, r.High == nil && r.Delta != nil && *r.Delta > 0:
		sign = 1
	}
	if lowerIsBetter[r.Name] {
		sign = -sign
	}
	switch sign {
	case 1:
		return "up"
	case -1:
		return "down"
	}
	return ""
}
