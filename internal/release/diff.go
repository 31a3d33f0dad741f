package release

import (
	"maps"
	"slices"
	"strings"

	"github.com/modelgate/modelgate/internal/store"
)

// MetricDelta is one number of two versions' evidence; a side that lacks
// it is nil.
type MetricDelta struct {
	Name  string   `json:"name"`
	A     *float64 `json:"a"`
	B     *float64 `json:"b"`
	Delta *float64 `json:"delta,omitempty"` // B - A when both have it
}

// FieldChange is one lineage field that differs between two versions.
type FieldChange struct {
	Field string `json:"field"`
	A     string `json:"a"`
	B     string `json:"b"`
}

// VersionDiff is what differs between versions A and B of a model.
type VersionDiff struct {
	Model   string        `json:"model"`
	A       string        `json:"a"`
	B       string        `json:"b"`
	Metrics []MetricDelta `json:"metrics"`
	Lineage []FieldChange `json:"lineage"`
}

// Diff compares two versions' evidence (registered metrics, then every
// stage's metrics from lineage) and lineage fields, sorted by name.
func Diff(a, b store.ModelVersion) VersionDiff {
	d := VersionDiff{Model: a.Model, A: a.Version, B: b.Version, Metrics: []MetricDelta{}, Lineage: []FieldChange{}}
	ma, mb := evidence(a), evidence(b)
	names := map[string]bool{}
	for k := range ma {
		names[k] = true
	}
	for k := range mb {
		names[k] = true
	}
	for _, n := range slices.Sorted(maps.Keys(names)) {
		m := MetricDelta{Name: n}
		if v, ok := ma[n]; ok {
			m.A = &v
		}
		if v, ok := mb[n]; ok {
			m.B = &v
		}
		if m.A != nil && m.B != nil {
			delta := *m.B - *m.A
			m.Delta = &delta
		}
		d.Metrics = append(d.Metrics, m)
	}
	fa, fb := lineageFields(a), lineageFields(b)
	keys := maps.Clone(fa)
	maps.Copy(keys, fb)
	for _, f := range slices.Sorted(maps.Keys(keys)) {
		if fa[f] != fb[f] {
			d.Lineage = append(d.Lineage, FieldChange{Field: f, A: fa[f], B: fb[f]})
		}
	}
	return d
}

func evidence(v store.ModelVersion) map[string]float64 {
	out := maps.Clone(v.Metrics)
	if out == nil {
		out = map[string]float64{}
	}
	if v.Lineage != nil {
		maps.Copy(out, v.Lineage.Evidence)
	}
	return out
}

// lineageFields flattens what a reviewer compares; every version has every
// key, so a field only one side has shows as a change from "".
func lineageFields(v store.ModelVersion) map[string]string {
	l := v.Lineage
	if l == nil {
		l = &store.Lineage{}
	}
	f := map[string]string{"digest": v.Digest, "run_id": v.RunID, "config_digest": l.ConfigDigest, "commit": l.Commit,
		"commit_author": l.CommitAuthor, "command": strings.Join(l.Command, " "), "policy_revision": l.PolicyRevision}
	for _, role := range []string{"reference", "holdout", "current"} {
		f["data."+role] = l.Data[role]
	}
	for k, val := range l.Env {
		f["env."+k] = val
	}
	for k, val := range l.Toolchain {
		f["toolchain."+k] = val
	}
	return f
}
