package model

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/modelgate/modelgate/tools/dataset"
)

// PredictionsFile is a Predictor over precomputed predictions, row-aligned
// with the data they score: row i of the file is the prediction for row i
// of the holdout. It is how a team that scores offline (Spark, a notebook)
// hands its candidate to modelgate.
type PredictionsFile struct {
	path  string
	preds Predictions
}

var probColumn = regexp.MustCompile(`^p([0-9]+)$`)

// OpenPredictions reads a predictions file (CSV or Parquet). Columns:
// `score` (binary: probability of the positive class), `prediction`
// (regression), `p0..pK` (multiclass), as `modelgate predict` writes them;
// an optional `row` column must count 0, 1, 2, ... so that a reordered file
// cannot be scored against the wrong rows. kind may be empty to infer it
// from the columns.
func OpenPredictions(path string, kind Kind) (Predictor, error) {
	f, err := dataset.Read(path, dataset.Options{})
	if err != nil {
		return nil, err
	}
	p, err := predictionsFromFrame(f, kind)
	if err != nil {
		return nil, fmt.Errorf("predictions file %s: %w", path, err)
	}
	return &PredictionsFile{path: path, preds: p}, nil
}

func predictionsFromFrame(f *dataset.Frame, kind Kind) (Predictions, error) {
	if rc, ok := f.Col("row"); ok {
		for i := 0; i < f.Rows; i++ {
			if rc.Null[i] || rc.Num[i] != float64(i) {
				return Predictions{}, fmt.Errorf("row %d: column \"row\" is %q, want %d (rows must be in the holdout's order)", i+1, rc.Text(i), i)
			}
		}
	}
	type pcol struct {
		k   int
		col *dataset.Column
	}
	var probs []pcol
	for _, c := range f.Columns {
		if m := probColumn.FindStringSubmatch(c.Name); m != nil {
			k, _ := strconv.Atoi(m[1])
			probs = append(probs, pcol{k, c})
		}
	}
	sort.Slice(probs, func(i, j int) bool { return probs[i].k < probs[j].k })
	pick := func(names ...string) *dataset.Column {
		for _, n := range names {
			if c, ok := f.Col(n); ok {
				return c
			}
		}
		return nil
	}
	if kind == "" {
		switch {
		case len(probs) > 2:
			kind = Multiclass
		case pick("score") != nil || len(probs) == 2:
			kind = Binary
		case pick("prediction") != nil:
			kind = Regression
		default:
			return Predictions{}, fmt.Errorf("no score, prediction or p0..pK column (columns: %s)", strings.Join(f.Names(), ", "))
		}
	}
	out := Predictions{Kind: kind, Rows: f.Rows}
	var cols []*dataset.Column
	switch kind {
	case Binary:
		c := pick("score", "p1", "prediction")
		if c == nil {
			return Predictions{}, fmt.Errorf("binary predictions need a score column (columns: %s)", strings.Join(f.Names(), ", "))
		}
		cols = []*dataset.Column{c}
	case Regression:
		c := pick("prediction", "score")
		if c == nil {
			return Predictions{}, fmt.Errorf("regression predictions need a prediction column (columns: %s)", strings.Join(f.Names(), ", "))
		}
		cols = []*dataset.Column{c}
	case Multiclass:
		if len(probs) < 2 {
			return Predictions{}, fmt.Errorf("multiclass predictions need columns p0..pK (columns: %s)", strings.Join(f.Names(), ", "))
		}
		for i, p := range probs {
			if p.k != i {
				return Predictions{}, fmt.Errorf("probability columns must be p0..p%d without gaps; p%d is missing", len(probs)-1, i)
			}
			cols = append(cols, p.col)
		}
		out.Classes = len(cols)
	default:
		return Predictions{}, fmt.Errorf("unknown prediction kind %q", kind)
	}
	w := len(cols)
	out.Values = make([]float64, f.Rows*w)
	for j, c := range cols {
		if c.Type != dataset.TypeNumeric {
			return Predictions{}, fmt.Errorf("column %q is %s, not numeric", c.Name, c.Type)
		}
		for i := 0; i < f.Rows; i++ {
			v := c.Num[i]
			if c.Null[i] || math.IsNaN(v) || math.IsInf(v, 0) {
				return Predictions{}, fmt.Errorf("row %d column %q: %q is not a finite number", i+1, c.Name, c.Text(i))
			}
			out.Values[i*w+j] = v
		}
	}
	return out, nil
}

// Info describes the file's predictions.
func (p *PredictionsFile) Info() Info {
	name := strings.TrimSuffix(filepath.Base(p.path), filepath.Ext(p.path))
	return Info{Name: name, Kind: p.preds.Kind, Classes: p.preds.Classes}
}

// Predict returns the file's predictions for the batch's rows, which must
// be exactly the rows the file was made for.
func (p *PredictionsFile) Predict(ctx context.Context, b Batch) (Predictions, error) {
	if b.Rows != p.preds.Rows {
		return Predictions{}, fmt.Errorf("predictions file %s has %d rows but the data has %d: the file must hold one prediction per data row, in order", p.path, p.preds.Rows, b.Rows)
	}
	out := p.preds
	out.Values = append([]float64(nil), p.preds.Values...)
	return out, ctx.Err()
}
