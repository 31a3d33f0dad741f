package ui

import (
	"encoding/json"
	"errors"
	"html/template"
	"maps"
	"math"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/modelgate/modelgate/internal/oversight"
	"github.com/modelgate/modelgate/internal/release"
	"github.com/modelgate/modelgate/internal/store"
	"github.com/modelgate/modelgate/tools/chart"
)

// registryView is what the registry pages show: the models list, one
// model's versions with their lineage, or the diff of two versions.
type registryView struct {
	Models   []modelRow
	Model    string
	ModelURL string // Base + "/models/" + the escaped name
	Versions []versionRow
	Aliases  []store.Alias
	Diff     *diffView
}

// modelRow is one model of the list: what serves where, and its aliases.
type modelRow struct {
	Name, URL  string
	Versions   int
	Production []store.Production
	Aliases    []store.Alias
}

// versionRow is one registered version with its notes and lineage laid
// out for people.
type versionRow struct {
	store.ModelVersion
	Notes         store.VersionNotes
	Aliases       []string
	Environments  []string
	Tags          []tagKV
	Data          []tagKV // role → digest
	Env           []tagKV
	Toolchain     []tagKV
	Evidence      []kv
	Decision      *oversight.Decision
	DecisionError string
}

type tagKV struct{ Key, Value string }

// diffView is release.Diff of two versions, with the metric deltas drawn.
type diffView struct {
	release.VersionDiff
	Rows  []diffRow
	Chart template.HTML
}

// diffRow is one metric of the diff with its direction-aware class.
type diffRow struct {
	release.MetricDelta
	Class string
}

func init() { funcs["exact"] = exact }

// exact is a number in full precision, for data- attributes a test or a
// script can compare with the API's JSON.
func exact(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// Exact is a number in full precision, for data- attributes a test or a
// script can compare with the API's JSON.
func (r diffRow) Exact(p *float64) string {
	if p == nil {
		return ""
	}
	return exact(*p)
}

func sortedKV(m map[string]string) []tagKV {
	out := make([]tagKV, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, tagKV{k, m[k]})
	}
	return out
}

// registryRoutes adds the registry pages under base.
func (s *server) registryRoutes(base string) {
	s.mux.HandleFunc("GET "+base+"/models", s.authed(s.models))
	s.mux.HandleFunc("GET "+base+"/models/{name}", s.authed(s.model))
	s.mux.HandleFunc("GET "+base+"/models/{name}/diff", s.authed(s.modelDiff))
}

func (s *server) modelURL(name string) string {
	return s.o.BasePath + "/models/" + url.PathEscape(name)
}

// models lists the models the session may read, each with the version
// serving every environment and its aliases.
func (s *server) models(w http.ResponseWriter, r *http.Request, sess session) {
	ctx := r.Context()
	// As the runs page: a session that may read nothing is refused even
	// when the registry is empty, so the answer says nothing of it.
	if ok, err := s.can(ctx, sess, "read", "", ""); err != nil || !ok {
		s.fail(w, r, &sess, http.StatusForbidden, "You may not read the registry.")
		return
	}
	names, err := s.o.Store.ModelList(ctx)
	if err != nil {
		s.internal(w, r, &sess, err)
		return
	}
	view := registryView{}
	for _, name := range names {
		// Reading is asked per model: a policy that scopes reads hides
		// the models a session may not read, not only their versions.
		ok, err := s.can(ctx, sess, "read", name, "")
		if err != nil {
			s.internal(w, r, &sess, err) // fail closed, and say so
			return
		}
		if !ok {
			continue
		}
		vs, err := s.o.Store.ModelVersionList(ctx, name)
		if err != nil {
			s.internal(w, r, &sess, err)
			return
		}
		prod, err := s.o.Store.ProductionList(ctx, name)
		if err != nil {
			s.internal(w, r, &sess, err)
			return
		}
		as, err := s.o.Store.AliasList(ctx, name)
		if err != nil {
			s.internal(w, r, &sess, err)
			return
		}
		sort.Slice(prod, func(i, j int) bool { return prod[i].Environment < prod[j].Environment })
		view.Models = append(view.Models, modelRow{Name: name, URL: s.modelURL(name), Versions: len(vs), Production: prod, Aliases: as})
	}
	s.render(w, http.StatusOK, "models", page{Title: "Models", Session: &sess, Catalog: &view})
}

// readableModel answers 403 or 404 unless the session may read the
// model the URL names and it has a registered version.
func (s *server) readableModel(w http.ResponseWriter, r *http.Request, sess *session) (string, []store.ModelVersion, bool) {
	name := r.PathValue("name")
	// Authorization first: a session without read learns nothing, not
	// even whether the model exists.
	if ok, err := s.can(r.Context(), *sess, "read", name, ""); err != nil || !ok {
		s.fail(w, r, sess, http.StatusForbidden, "You may not read this model.")
		return name, nil, false
	}
	vs, err := s.o.Store.ModelVersionList(r.Context(), name)
	if err != nil {
		s.internal(w, r, sess, err)
		return name, nil, false
	}
	if len(vs) == 0 {
		s.fail(w, r, sess, http.StatusNotFound, "There is no registered version of that model.")
		return name, nil, false
	}
	return name, vs, true
}

// model shows a model's versions, newest first, each with its lineage
// folded below it.
func (s *server) model(w http.ResponseWriter, r *http.Request, sess session) {
	ctx := r.Context()
	name, vs, ok := s.readableModel(w, r, &sess)
	if !ok {
		return
	}
	as, err := s.o.Store.AliasList(ctx, name)
	if err != nil {
		s.internal(w, r, &sess, err)
		return
	}
	prod, err := s.o.Store.ProductionList(ctx, name)
	if err != nil {
		s.internal(w, r, &sess, err)
		return
	}
	sort.SliceStable(vs, func(i, j int) bool { return vs[i].CreatedAt.After(vs[j].CreatedAt) })
	view := registryView{Model: name, ModelURL: s.modelURL(name), Aliases: as}
	for _, v := range vs {
		n, err := s.o.Store.ModelVersionNotes(ctx, name, v.Version)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			s.internal(w, r, &sess, err)
			return
		}
		row := versionRow{ModelVersion: v, Notes: n, Tags: sortedKV(n.Tags)}
		for _, a := range as {
			if a.Version == v.Version {
				row.Aliases = append(row.Aliases, a.Name)
			}
		}
		for _, p := range prod {
			if p.Version == v.Version {
				row.Environments = append(row.Environments, p.Environment)
			}
		}
		sort.Strings(row.Environments)
		if l := v.Lineage; l != nil {
			row.Data, row.Env, row.Toolchain = sortedKV(l.Data), sortedKV(l.Env), sortedKV(l.Toolchain)
			for _, k := range slices.Sorted(maps.Keys(l.Evidence)) {
				row.Evidence = append(row.Evidence, kv{k, l.Evidence[k]})
			}
			if len(l.Decision) > 0 {
				var d oversight.Decision
				if err := json.Unmarshal(l.Decision, &d); err != nil {
					row.DecisionError = "the stored decision cannot be read: " + err.Error()
				} else {
					row.Decision = &d
				}
			}
		}
		view.Versions = append(view.Versions, row)
	}
	s.render(w, http.StatusOK, "model", page{Title: "Model " + name, Session: &sess, Catalog: &view})
}

// modelDiff compares two versions' evidence and lineage (?a=&b=) with
// release.Diff, the same comparison as the API and `models diff`.
func (s *server) modelDiff(w http.ResponseWriter, r *http.Request, sess session) {
	name, vs, ok := s.readableModel(w, r, &sess)
	if !ok {
		return
	}
	q := r.URL.Query()
	var pair [2]store.ModelVersion
	for i, k := range []string{"a", "b"} {
		want := q.Get(k)
		if want == "" {
			s.fail(w, r, &sess, http.StatusBadRequest, "Choose two versions: "+k+" is missing.")
			return
		}
		found := slices.IndexFunc(vs, func(v store.ModelVersion) bool { return v.Version == want })
		if found < 0 {
			s.fail(w, r, &sess, http.StatusNotFound, k+": there is no version "+strconv.Quote(want)+" of this model.")
			return
		}
		pair[i] = vs[found]
	}
	d := release.Diff(pair[0], pair[1])
	view := &diffView{VersionDiff: d}
	var items []chart.Delta
	for _, m := range d.Metrics {
		row := diffRow{MetricDelta: m, Class: metricClass(m)}
		view.Rows = append(view.Rows, row)
		if m.Delta != nil {
			items = append(items, chart.Delta{Label: m.Name, Delta: *m.Delta, Low: math.NaN(), High: math.NaN(), Class: row.Class})
		}
	}
	if len(items) > 0 {
		view.Chart = chart.Deltas(chart.DeltasParams{ID: "diff-deltas", Title: "Evidence deltas, " + d.B + " − " + d.A,
			Desc: "Each metric on its own scale around zero; green is better, red worse in the metric's direction.", Items: items})
	}
	sort.SliceStable(vs, func(i, j int) bool { return vs[i].CreatedAt.After(vs[j].CreatedAt) })
	reg := &registryView{Model: name, ModelURL: s.modelURL(name), Diff: view}
	for _, v := range vs {
		reg.Versions = append(reg.Versions, versionRow{ModelVersion: v})
	}
	s.render(w, http.StatusOK, "modeldiff", page{Title: "Diff of " + name + " " + d.A + " and " + d.B, Session: &sess, Catalog: reg})
}

// higherIsBetter are the metrics for which a rise is an improvement;
// with lowerIsBetter they are the ones whose change the page colours.
// Any other number (rows, seconds, a p-value) has no direction and is
// shown without a colour rather than with a guessed one.
var higherIsBetter = map[string]bool{"roc_auc": true, "pr_auc": true, "auc": true, "average_precision": true, "accuracy": true,
	"balanced_accuracy": true, "f1": true, "precision": true, "recall": true, "r2": true, "pass_rate": true}

// metricClass reads a diff row in its metric's direction. Evidence
// names are stage-prefixed (evaluate.candidate.log_loss, and
// evaluate.delta.roc_auc.ci_low for an interval's end): the direction is
// the metric's, as on the run page.
func metricClass(m release.MetricDelta) string {
	if m.Delta == nil {
		return ""
	}
	parts := strings.Split(m.Name, ".")
	base := parts[len(parts)-1]
	if (base == "ci_low" || base == "ci_high") && len(parts) > 1 {
		base = parts[len(parts)-2]
	}
	if !lowerIsBetter[base] && !higherIsBetter[base] {
		return ""
	}
	return deltaClass(metricRow{Name: base, Delta: m.Delta})
}
