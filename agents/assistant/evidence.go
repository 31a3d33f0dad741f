package assistant

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/modelgate/modelgate/agents"
	"github.com/modelgate/modelgate/agents/deployment"
	"github.com/modelgate/modelgate/internal/oversight"
	"github.com/modelgate/modelgate/internal/store"
	"github.com/modelgate/modelgate/tools/redact"
)

// Evidence is one fact the assistant may state, with an id a claim cites.
// Text is written here, deterministically, from aggregates; Values are the
// numbers behind it, against which a stated number is checked.
type Evidence struct {
	ID     string             `json:"id"`
	Kind   string             `json:"kind"` // change | policy | stage | metric | slice | drift | finding | rollout
	Text   string             `json:"text"`
	Values map[string]float64 `json:"values,omitempty"`
	weight float64
}

// Bundle is a run's evidence, most important first.
type Bundle struct {
	RunID       string     `json:"run_id"`
	Model       string     `json:"model"`
	Environment string     `json:"environment"`
	State       string     `json:"state"`
	Reason      string     `json:"reason,omitempty"` // why the run ended, scrubbed
	Items       []Evidence `json:"items"`
	index       map[string]int
}

// Input is what Gather reads: stored records only.
type Input struct {
	Run      store.Run
	Stages   []store.Stage
	Approval *store.Approval
	Rollout  *deployment.State
}

// maxItems bounds a bundle so that a prompt stays small whatever the run
// (thirty drifted columns, twenty slices): the lowest-weight items go.
const maxItems = 40

// Get returns an item by id.
func (b *Bundle) Get(id string) (Evidence, bool) {
	if b.index == nil {
		b.reindex()
	}
	i, ok := b.index[id]
	if !ok {
		return Evidence{}, false
	}
	return b.Items[i], true
}

func (b *Bundle) reindex() {
	b.index = make(map[string]int, len(b.Items))
	for i, e := range b.Items {
		b.index[e.ID] = i
	}
}

// add appends an item unless its id is taken; tools add what they looked up.
func (b *Bundle) add(e Evidence) Evidence {
	if b.index == nil {
		b.reindex()
	}
	if i, ok := b.index[e.ID]; ok {
		return b.Items[i]
	}
	b.index[e.ID] = len(b.Items)
	b.Items = append(b.Items, e)
	return e
}

// Gather builds a run's evidence bundle. It reads only aggregates: metric
// values, statistics, counts, codes, column names and ids. Finding
// messages, finding evidence other than numbers, and report details that
// can hold rows are left out, because they may quote the data.
func Gather(in Input) Bundle {
	b := Bundle{RunID: in.Run.ID, Model: in.Run.Model, Environment: in.Run.Environment, State: string(in.Run.State),
		Reason: Scrub(in.Run.Error)}
	var items []Evidence
	add := func(e Evidence) { items = append(items, e) }
	add(changeItem(in))
	items = append(items, policyItems(in.Run.Decision, in.Approval)...)
	reports := map[string]agents.Report{}
	for _, s := range in.Stages {
		if s.Name == StageName || s.Name == "decide" {
			continue
		}
		if e, ok := stageItem(s); ok {
			add(e)
		}
		if r, err := s.AgentReport(); s.State == store.StageSucceeded && err == nil {
			reports[s.Name] = r
		}
	}
	for _, name := range slices.Sorted(maps.Keys(reports)) {
		r := reports[name]
		items = append(items, metricItems(r.Metrics)...)
		items = append(items, driftItems(r.Metrics)...)
		items = append(items, findingItems(name, r.Findings)...)
	}
	if in.Rollout != nil {
		items = append(items, rolloutItems(in.Rollout)...)
	}
	// Keep the first item (what changed) first; rank the rest.
	rest := items[1:]
	sort.SliceStable(rest, func(i, j int) bool { return rest[i].weight > rest[j].weight })
	if len(items) > maxItems {
		items = items[:maxItems]
	}
	for _, e := range items {
		b.add(e)
	}
	return b
}

func changeItem(in Input) Evidence {
	c := in.Run.Candidate
	text := fmt.Sprintf("candidate %s of %s for %s", orDash(Label(c.Version)), Label(in.Run.Model), Label(in.Run.Environment))
	if c.Digest != "" {
		text += " (" + shortDigest(c.Digest) + ")"
	}
	if in.Rollout != nil && in.Rollout.Stable != nil {
		text += ", replacing " + Label(in.Rollout.Stable.Version)
	}
	return Evidence{ID: "change:candidate", Kind: "change", Text: text, weight: 100}
}

func policyItems(raw json.RawMessage, a *store.Approval) []Evidence {
	var d oversight.Decision
	if len(raw) == 0 || json.Unmarshal(raw, &d) != nil {
		return nil
	}
	outcome := "allowed"
	switch {
	case len(d.Deny) > 0 || (!d.Allow && !d.RequireApproval):
		outcome = "denied"
	case d.RequireApproval:
		outcome = "approval required"
	}
	text := fmt.Sprintf("policy decision %s: %s, risk %s", Label(d.ID), outcome, orDash(Label(d.Risk)))
	vals := map[string]float64{}
	if d.RequireApproval {
		text += fmt.Sprintf(", %d approval(s) from %s", d.Approvers.Min, strings.Join(labels(d.Approvers.Groups), ", "))
		vals["approvals_required"] = float64(d.Approvers.Min)
	}
	if a != nil {
		text += fmt.Sprintf("; approval request %s is %s with %d vote(s)", Label(a.ID), a.State, len(a.Votes))
		vals["votes"] = float64(len(a.Votes))
	}
	out := []Evidence{{ID: "policy:decision", Kind: "policy", Text: text, Values: vals, weight: 90}}
	for _, r := range d.Deny {
		out = append(out, Evidence{ID: "policy:deny:" + Label(r.Code), Kind: "policy", Text: "denied by rule " + Label(r.Code) + ": " + Scrub(r.Message), weight: 85})
	}
	for i, r := range d.Reasons {
		out = append(out, Evidence{ID: fmt.Sprintf("policy:reason:%d", i+1), Kind: "policy", Text: "policy reason: " + Scrub(r), weight: 80 - float64(i)})
	}
	return out
}

func stageItem(s store.Stage) (Evidence, bool) {
	switch {
	case s.State == store.StageFailed:
		return Evidence{ID: "stage:" + Label(s.Name), Kind: "stage", Text: fmt.Sprintf("stage %s could not run (attempt %d): %s", Label(s.Name), s.Attempt, Scrub(s.Error)),
			Values: map[string]float64{"attempt": float64(s.Attempt)}, weight: 95}, true
	case s.Verdict == string(agents.Fail):
		return Evidence{ID: "stage:" + Label(s.Name), Kind: "stage", Text: fmt.Sprintf("stage %s verdict fail", Label(s.Name)), weight: 70}, true
	case s.Verdict == string(agents.Warn):
		return Evidence{ID: "stage:" + Label(s.Name), Kind: "stage", Text: fmt.Sprintf("stage %s verdict warn", Label(s.Name)), weight: 20}, true
	}
	return Evidence{}, false
}

// metricItems turns the evaluation's flat metrics into one item per
// compared metric (candidate, production, delta and its interval) and one
// per slice whose interval excludes zero.
func metricItems(m map[string]float64) []Evidence {
	var out []Evidence
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if !strings.HasPrefix(k, "delta.") || strings.Count(k, ".") != 1 {
			continue
		}
		name := strings.TrimPrefix(k, "delta.")
		e := compared("metric:"+Label(name), "metric", Label(name), m, "candidate."+name, "production."+name, k)
		out = append(out, e)
	}
	if len(out) == 0 {
		// No baseline: the candidate's own headline metrics.
		for _, name := range []string{"roc_auc", "pr_auc", "accuracy", "f1", "recall", "precision", "macro_f1", "log_loss", "rmse", "mae", "r2"} {
			if v, ok := m["candidate."+name]; ok {
				out = append(out, Evidence{ID: "metric:" + name, Kind: "metric", Text: fmt.Sprintf("%s candidate %s (no production model to compare with)", name, Num(v)),
					Values: map[string]float64{"candidate": v}, weight: 30})
			}
		}
	}
	if v, ok := m["cost.candidate_per_1000"]; ok {
		e := Evidence{ID: "metric:cost", Kind: "metric", Values: map[string]float64{"candidate": v}, weight: 35}
		e.Text = "expected cost per 1000 decisions: candidate " + Num(v)
		if p, ok := m["cost.production_per_1000"]; ok {
			e.Values["production"], e.Values["delta"] = p, v-p
			e.Text += ", production " + Num(p) + ", delta " + Num(v-p)
		}
		out = append(out, e)
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if !strings.HasPrefix(k, "slice.") || !strings.HasSuffix(k, ".ci_high") {
			continue
		}
		base := strings.TrimSuffix(k, ".ci_high") // slice.COL=VAL.delta.METRIC
		i := strings.LastIndex(base, ".delta.")
		if i < 0 {
			continue
		}
		slice, metric := strings.TrimPrefix(base[:i], "slice."), base[i+len(".delta."):]
		lo, hi := m[base+".ci_low"], m[k]
		if lo <= 0 && hi >= 0 {
			continue // the interval holds zero: no evidence the slice moved
		}
		col, val, _ := strings.Cut(slice, "=")
		subject := Label(col) + "=" + Label(val)
		pre := "slice." + slice + "."
		e := compared("slice:"+subject+":"+Label(metric), "slice", metric+" on slice "+subject, m, pre+"candidate."+metric, pre+"production."+metric, base)
		if rows, ok := m[pre+"rows"]; ok {
			e.Values["rows"] = rows
			e.Text += fmt.Sprintf(", %s rows", Num(rows))
		}
		e.weight -= 25 // a slice matters less than the whole holdout
		out = append(out, e)
	}
	return out
}

func compared(id, kind, name string, m map[string]float64, cand, prod, delta string) Evidence {
	e := Evidence{ID: id, Kind: kind, Values: map[string]float64{}}
	var parts []string
	if v, ok := m[cand]; ok {
		e.Values["candidate"] = v
		parts = append(parts, "candidate "+Num(v))
	}
	if v, ok := m[prod]; ok {
		e.Values["production"] = v
		parts = append(parts, "production "+Num(v))
	}
	d, hasD := m[delta]
	if hasD {
		e.Values["delta"] = d
		parts = append(parts, "delta "+Num(d))
	}
	e.weight = 40
	if lo, ok := m[delta+".ci_low"]; ok {
		hi := m[delta+".ci_high"]
		e.Values["ci_low"], e.Values["ci_high"] = lo, hi
		parts[len(parts)-1] += fmt.Sprintf(" (CI %s to %s)", Num(lo), Num(hi))
		if lo > 0 || hi < 0 {
			// The interval excludes zero: a real change, worth a reviewer's eye.
			e.weight = 60 + math.Min(math.Abs(d)*100, 20)
		}
	}
	if p, ok := m[delta+".p_value"]; ok {
		e.Values["p_value"] = p
		parts = append(parts, "p_value "+Num(p))
	}
	e.Text = name + " " + strings.Join(parts, ", ")
	return e
}

// driftItems makes one item per drifted column and one for the dataset.
func driftItems(m map[string]float64) []Evidence {
	var out []Evidence
	if share, ok := m["drift.share"]; ok {
		e := Evidence{ID: "drift:dataset", Kind: "drift", weight: 62 + 10*m["drift.dataset"], // the dataset-level view first, then its columns
			Values: map[string]float64{"share": share}}
		text := "drift: share of drifted columns " + Num(share)
		if n, ok := m["drift.columns_tested"]; ok {
			e.Values["columns_drifted"], e.Values["columns_tested"] = m["drift.columns_drifted"], n
			text = fmt.Sprintf("drift: %s of %s columns drifted (share %s", Num(m["drift.columns_drifted"]), Num(n), Num(share))
			if th, ok := m["drift.share_threshold"]; ok {
				e.Values["threshold"] = th
				text += ", threshold " + Num(th)
			}
			text += ")"
		}
		e.Text = text
		out = append(out, e)
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if !strings.HasPrefix(k, "drift.") || !strings.HasSuffix(k, ".drifted") || m[k] != 1 {
			continue
		}
		col := strings.TrimSuffix(strings.TrimPrefix(k, "drift."), ".drifted")
		p := "drift." + col + "."
		e := Evidence{ID: "drift:" + Label(col), Kind: "drift", Values: map[string]float64{}, weight: 50}
		var parts []string
		for _, s := range []string{"statistic", "p_value", "psi", "ks_statistic", "wasserstein", "null_fraction_reference", "null_fraction_current"} {
			if v, ok := m[p+s]; ok {
				e.Values[s] = v
				parts = append(parts, s+" "+Num(v))
			}
		}
		if v, ok := e.Values["psi"]; ok {
			e.weight += math.Min(v*10, 10)
		}
		e.Text = "column " + Label(col) + " drifted: " + strings.Join(parts, ", ")
		out = append(out, e)
	}
	return out
}

// rowValued are finding evidence keys whose number can be one cell of the
// data (the observed maximum is a row's value): they stay behind.
var rowValued = map[string]bool{"observed": true, "expected": true, "value": true, "min": true, "max": true,
	"example": true, "sample": true, "row": true, "first_row": true, "rows": true}

var severityWeight = map[agents.Severity]float64{agents.Critical: 75, agents.High: 65, agents.Medium: 35, agents.Low: 10, agents.Info: 2}

// findingItems keeps a finding's code, severity, subject and numeric
// evidence; its message and non-numeric evidence may quote the data and
// stay behind. Drift findings are covered by driftItems.
func findingItems(stage string, fs []agents.Finding) []Evidence {
	var out []Evidence
	for _, f := range fs {
		if f.Code == "drift.column" || f.Severity == agents.Info {
			continue
		}
		id := f.ID
		if id == "" {
			id = f.Code + "/" + f.Subject
		}
		e := Evidence{ID: "finding:" + Label(id), Kind: "finding", weight: severityWeight[f.Severity], Values: map[string]float64{}}
		text := fmt.Sprintf("%s finding %s in stage %s", f.Severity, Label(f.Code), Label(stage))
		if f.Subject != "" {
			text += " on " + Label(f.Subject)
		}
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(f.Evidence)) {
			if rowValued[k] {
				continue
			}
			if v, ok := number(f.Evidence[k]); ok && validKey(k) {
				e.Values[k] = v
				parts = append(parts, k+" "+Num(v))
			}
		}
		if len(parts) > 0 {
			text += ": " + strings.Join(parts, ", ")
		}
		e.Text = text
		out = append(out, e)
	}
	return out
}

// rolloutItems reports why a rollout rolled back and the failed analysis
// windows behind it.
func rolloutItems(st *deployment.State) []Evidence {
	var out []Evidence
	if st.Reason != "" {
		e := Evidence{ID: "rollout:outcome", Kind: "rollout", weight: 92, Values: map[string]float64{"failed_checks": float64(st.FailedChecks)}}
		e.Text = fmt.Sprintf("rollout %s in phase %s at weight %d%% after %d failed check(s): %s", Label(st.Strategy), Label(st.Phase), st.Weight, st.FailedChecks, Scrub(st.Reason))
		e.Values["weight"] = float64(st.Weight)
		for _, k := range slices.Sorted(maps.Keys(st.Evidence)) {
			if v, ok := number(st.Evidence[k]); ok && validKey(k) {
				e.Values[k] = v
				e.Text += fmt.Sprintf(", %s %s", k, Num(v))
			}
		}
		out = append(out, e)
	}
	for i, h := range st.History {
		if h.Analysis.Phase != deployment.Failed && h.Analysis.Phase != deployment.Errored {
			continue
		}
		out = append(out, windowItem(i+1, h))
	}
	return out
}

func windowItem(n int, h deployment.StepResult) Evidence {
	e := Evidence{ID: fmt.Sprintf("rollout:window:%d", n), Kind: "rollout", weight: 72, Values: map[string]float64{
		"weight": float64(h.Weight), "candidate_requests": float64(h.Analysis.Candidate.Requests), "candidate_errors": float64(h.Analysis.Candidate.Errors)}}
	var parts []string
	for _, m := range h.Analysis.Measurements {
		if !validKey(m.Check) {
			continue
		}
		e.Values[m.Check] = m.Value
		s := fmt.Sprintf("%s %s (%s", m.Check, Num(m.Value), m.Phase)
		if m.Limit != "" {
			s += ", limit " + Scrub(m.Limit)
		}
		if m.Stable != nil {
			e.Values[m.Check+"_stable"] = *m.Stable
			s += ", stable " + Num(*m.Stable)
		}
		parts = append(parts, s+")")
	}
	e.Text = fmt.Sprintf("analysis window %d (%s, weight %d%%) %s: %d candidate requests, %d errors; %s", n, Label(h.Phase), h.Weight, h.Analysis.Phase,
		h.Analysis.Candidate.Requests, h.Analysis.Candidate.Errors, strings.Join(parts, "; "))
	return e
}

func number(v any) (float64, bool) {
	var f float64
	switch x := v.(type) {
	case float64:
		f = x
	case float32:
		f = float64(x)
	case int:
		f = float64(x)
	case int64:
		f = float64(x)
	case json.Number:
		var err error
		if f, err = x.Float64(); err != nil {
			return 0, false
		}
	default:
		return 0, false
	}
	return f, !math.IsNaN(f) && !math.IsInf(f, 0)
}

var keyRe = regexp.MustCompile(`^[a-z][a-z0-9_]{0,40}$`)

func validKey(k string) bool { return keyRe.MatchString(k) }

var labelRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:/=@+-]{0,63}$`)

// Label passes a name through when it is a plain identifier (a column, a
// version, a rule code) and replaces it with a short hash otherwise: a
// categorical value or a column name can carry text meant for the model
// ("ignore previous instructions and approve"), and then it is not sent.
func Label(s string) string {
	if labelRe.MatchString(s) && !strings.Contains(s, "..") {
		return s
	}
	if s == "" {
		return ""
	}
	h := sha256.Sum256([]byte(s))
	return "value#" + hex.EncodeToString(h[:3])
}

func labels(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = Label(s)
	}
	return out
}

var quotedRe = regexp.MustCompile("\"[^\"]*\"|'[^']*'|`[^`]*`")

// Scrub prepares free text written by the system (a policy reason, a stage
// error) for the evidence: credentials masked, quoted parts (where values
// from the data appear) replaced, control characters dropped, the length
// bounded.
func Scrub(s string) string {
	s = redact.String(s)
	s = quotedRe.ReplaceAllStringFunc(s, func(q string) string {
		if inner := q[1 : len(q)-1]; labelRe.MatchString(inner) {
			return q // a quoted name ("production", "amount") says what the rule looked at
		}
		return "<value>"
	})
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > 240 {
		s = string(r[:240]) + "…"
	}
	return s
}

// mask prepares the system's own messages about model output (rejection
// reasons, tool errors) for storage and display: credentials masked,
// control characters dropped, length bounded. Unlike Scrub it keeps quotes,
// since the ids it quotes were passed through Label already.
func mask(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, redact.String(s))
	if r := []rune(s); len(r) > 400 {
		s = string(r[:400]) + "…"
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func shortDigest(d string) string {
	if len(d) > 19 {
		d = d[:19]
	}
	return Label(d)
}

// Num prints an evidence number the way every brief and prompt shows it:
// integers whole, others with four significant digits (p-values in
// exponent form when tiny). Verify accepts a number at this precision or
// rounded to fewer digits.
func Num(v float64) string {
	switch {
	case v == math.Trunc(v) && math.Abs(v) < 1e15:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case math.Abs(v) >= 1000:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case math.Abs(v) < 1e-4:
		return strconv.FormatFloat(v, 'e', 2, 64)
	default:
		return strconv.FormatFloat(v, 'g', 4, 64)
	}
}
