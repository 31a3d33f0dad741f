package model

import (
	"fmt"
	"math"
	"strings"

	"github.com/modelgate/modelgate/tools/dataset"
)

// BatchFromFrame builds a batch of the named columns of f, in that order.
// Missing values become NaN (XGBoost's missing). It fails naming every
// absent column, or a column that is not numeric with its first bad value.
func BatchFromFrame(f *dataset.Frame, features []string) (Batch, error) {
	cols := make([]*dataset.Column, len(features))
	var missing []string
	for i, name := range features {
		c, ok := f.Col(name)
		if !ok {
			missing = append(missing, name)
			continue
		}
		switch c.Type {
		case dataset.TypeNumeric, dataset.TypeBoolean:
		default:
			row := 0
			for r := range c.Null {
				if !c.Null[r] {
					row = r
					break
				}
			}
			return Batch{}, fmt.Errorf("%s: column %q is %s (row %d: %q); model features must be numeric", f.Source, name, c.Type, row+1, c.Text(row))
		}
		cols[i] = c
	}
	if len(missing) > 0 {
		return Batch{}, fmt.Errorf("%s: %w", f.Source, &MissingFeatureError{Missing: missing})
	}
	nf := len(features)
	b := Batch{Features: append([]string(nil), features...), Rows: f.Rows, Values: make([]float64, f.Rows*nf)}
	for j, c := range cols {
		for r := 0; r < f.Rows; r++ {
			v := c.Num[r]
			if c.Null[r] {
				v = math.NaN()
			}
			b.Values[r*nf+j] = v
		}
	}
	return b, nil
}

// FeatureColumns is every column of f except those named in exclude (the
// label, an id): the features of a model that does not name its own.
func FeatureColumns(f *dataset.Frame, exclude ...string) []string {
	var out []string
	for _, c := range f.Columns {
		skip := false
		for _, e := range exclude {
			if strings.EqualFold(c.Name, e) {
				skip = true
			}
		}
		if !skip {
			out = append(out, c.Name)
		}
	}
	return out
}
