package metrics

import (
	"fmt"
	"math"
	"sort"
	"strconv"
)

// Group is one slice of the rows: the rows where a column has a value or
// falls in a bin.
type Group struct {
	Column string `json:"column"`
	Value  string `json:"value"` // "visa", or "[10, 20)" for a bin
	Rows   []int  `json:"-"`
}

// SliceSpec says how to cut a column into groups: by distinct value, or
// by numeric bin edges when Bins is set.
type SliceSpec struct {
	Column  string
	Bins    []float64 // ascending edges; rows below the first or at/above the last form open-ended bins
	MinSize int       // groups with fewer rows are left out
}

// MaxGroups bounds the distinct values of one slice column: a column with
// more is an identifier, not a segment, and should be binned.
const MaxGroups = 1000

// Partition groups rows by a column. Exactly one of str and num is used:
// num (NaN = missing) when bins are given or when str is nil. Missing
// values form their own "(missing)" group. Groups come sorted by value
// (bins in edge order).
func Partition(spec SliceSpec, str []string, num []float64) ([]Group, error) {
	if len(spec.Bins) > 0 {
		if num == nil {
			return nil, fmt.Errorf("slice %s: bins need a numeric column", spec.Column)
		}
		for i := 1; i < len(spec.Bins); i++ {
			if !(spec.Bins[i] > spec.Bins[i-1]) {
				return nil, fmt.Errorf("slice %s: bins must be strictly ascending", spec.Column)
			}
		}
		return binGroups(spec, num), nil
	}
	key := make(map[string][]int)
	if str != nil {
		for i, s := range str {
			if s == "" {
				s = "(missing)"
			}
			key[s] = append(key[s], i)
		}
	} else {
		for i, v := range num {
			s := "(missing)"
			if !math.IsNaN(v) {
				s = strconv.FormatFloat(v, 'g', -1, 64)
			}
			key[s] = append(key[s], i)
		}
	}
	if len(key) > MaxGroups {
		return nil, fmt.Errorf("slice %s: %d distinct values (more than %d); give bins for a numeric column", spec.Column, len(key), MaxGroups)
	}
	vals := make([]string, 0, len(key))
	for k := range key {
		vals = append(vals, k)
	}
	sort.Slice(vals, func(i, j int) bool {
		a, ea := strconv.ParseFloat(vals[i], 64)
		b, eb := strconv.ParseFloat(vals[j], 64)
		if ea == nil && eb == nil {
			return a < b
		}
		return vals[i] < vals[j]
	})
	var out []Group
	for _, v := range vals {
		if len(key[v]) < max(spec.MinSize, 1) {
			continue
		}
		out = append(out, Group{Column: spec.Column, Value: v, Rows: key[v]})
	}
	return out, nil
}

func binGroups(spec SliceSpec, num []float64) []Group {
	e := spec.Bins
	groups := make([][]int, len(e)+2) // below, each [e_i, e_i+1), at/above last, missing
	for i, v := range num {
		switch {
		case math.IsNaN(v):
			groups[len(e)+1] = append(groups[len(e)+1], i)
		default:
			// index of the first edge > v
			k := sort.SearchFloat64s(e, v)
			if k < len(e) && e[k] == v {
				k++
			}
			groups[k] = append(groups[k], i)
		}
	}
	f := func(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }
	var out []Group
	for k, rows := range groups {
		if len(rows) < max(spec.MinSize, 1) {
			continue
		}
		var name string
		switch {
		case k == len(e)+1:
			name = "(missing)"
		case k == 0:
			name = "< " + f(e[0])
		case k == len(e):
			name = ">= " + f(e[len(e)-1])
		default:
			name = "[" + f(e[k-1]) + ", " + f(e[k]) + ")"
		}
		out = append(out, Group{Column: spec.Column, Value: name, Rows: rows})
	}
	return out
}
