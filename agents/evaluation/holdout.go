package evaluation

import (
	"slices"

	"github.com/modelgate/modelgate/internal/config"
	"github.com/modelgate/modelgate/tools/dataset"
	"github.com/modelgate/modelgate/tools/model"
)

// HoldoutColumns is the projection of the holdout an evaluation needs:
// the label, the slice columns and the features of every model that is
// scored from the holdout. A predictions file scores nothing from it, so
// with predictions files alone the holdout is read for its label and
// slices only (on a 10M-row label,score holdout that halves the parse).
// nil means every column: a model that does not name its features is
// given every column but the label (model.FeatureColumns).
func HoldoutColumns(label string, ev config.Evaluation, preds ...model.Predictor) []string {
	if label == "" {
		label = "target"
	}
	cols := []string{label}
	for _, s := range ev.Slices {
		cols = append(cols, s.Column)
	}
	for _, p := range preds {
		if p == nil {
			continue
		}
		if _, isFile := p.(*model.PredictionsFile); isFile {
			continue
		}
		fs := p.Info().Features
		if len(fs) == 0 {
			return nil
		}
		cols = append(cols, fs...)
	}
	slices.Sort(cols)
	return slices.Compact(cols)
}

// ReadHoldout reads the holdout at path with the projection cols (nil:
// every column). When a column the evaluation names is absent it reads
// the whole file again, so that the error Evaluate then gives (which
// lists the file's columns) is the one a full read gives.
func ReadHoldout(path string, o dataset.Options, cols []string) (*dataset.Frame, error) {
	if cols == nil {
		return dataset.Read(path, o)
	}
	o.Columns = cols
	f, err := dataset.Read(path, o)
	if err != nil {
		return nil, err
	}
	for _, c := range cols {
		if _, ok := f.Col(c); !ok {
			o.Columns = nil
			return dataset.Read(path, o)
		}
	}
	return f, nil
}
