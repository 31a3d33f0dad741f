package evaluation

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/modelgate/modelgate/internal/config"
	"github.com/modelgate/modelgate/tools/compare"
	"github.com/modelgate/modelgate/tools/dataset"
	"github.com/modelgate/modelgate/tools/metrics"
	"github.com/modelgate/modelgate/tools/model"
)

// Input is one evaluation: a labelled holdout, the candidate and, when
// something serves production, the baseline.
type Input struct {
	Holdout   *dataset.Frame
	Label     string
	Task      string // binary | multiclass | regression; "" = the candidate's kind
	Candidate model.Predictor
	Baseline  model.Predictor // nil: the first model of a name
	Config    config.Evaluation
	Workers   int
}

// Outcome is the comparison and what it was computed from (the HTML
// report draws its curves from the predictions).
type Outcome struct {
	Result     *compare.Result
	Labels     []float64
	Candidate  model.Predictions
	Baseline   *model.Predictions
	CandInfo   model.Info
	BaseInfo   *model.Info
	SourceFile string
}

// BadInputError is input the user must fix (a missing column, a label
// that is not 0/1, predictions that are not probabilities). The CLI maps
// it to exit code 2.
type BadInputError struct{ Err error }

func (e *BadInputError) Error() string { return e.Err.Error() }
func (e *BadInputError) Unwrap() error { return e.Err }

func bad(format string, a ...any) error { return &BadInputError{fmt.Errorf(format, a...)} }

// Evaluate scores both models on the holdout and compares them.
func Evaluate(ctx context.Context, in Input) (*Outcome, error) {
	f := in.Holdout
	task := in.Task
	if task == "" {
		switch in.Candidate.Info().Kind {
		case model.Multiclass:
			task = "multiclass"
		case model.Regression:
			task = "regression"
		default:
			task = "binary"
		}
	}
	if task == "llm" {
		return nil, bad("task llm: the evaluation agent compares tabular models (binary, multiclass, regression)")
	}
	labels, err := readLabels(f, in.Label, task)
	if err != nil {
		return nil, err
	}
	out := &Outcome{Labels: labels, SourceFile: f.Source}
	out.CandInfo = in.Candidate.Info()
	out.Candidate, err = predict(ctx, f, in.Candidate, in.Label, "candidate")
	if err != nil {
		return nil, err
	}
	if in.Baseline != nil {
		bi := in.Baseline.Info()
		out.BaseInfo = &bi
		p, err := predict(ctx, f, in.Baseline, in.Label, "baseline")
		if err != nil {
			return nil, err
		}
		out.Baseline = &p
	}
	if task == "multiclass" {
		for i, y := range labels {
			if int(y) >= out.Candidate.Classes {
				return nil, bad("%s: row %d: label %g but the candidate has %d classes", f.Source, i+1, y, out.Candidate.Classes)
			}
		}
	}
	params := compare.Params{
		Task: task, Labels: labels, Candidate: out.Candidate, Baseline: out.Baseline,
		Threshold: in.Config.Threshold, Resamples: in.Config.Resamples, Seed: in.Config.Seed,
		Confidence: in.Config.Confidence, Workers: in.Workers,
	}
	if len(in.Config.Thresholds) > 0 {
		params.Thresholds = map[string]compare.Threshold{}
		for k, t := range in.Config.Thresholds {
			params.Thresholds[k] = compare.Threshold{Min: t.Min, Max: t.Max, MinDelta: t.MinDelta, MaxDelta: t.MaxDelta}
		}
	}
	if c := in.Config.Cost; c != nil && task == "binary" {
		params.Cost = &metrics.CostMatrix{TN: c.TN, FP: c.FP, FN: c.FN, TP: c.TP}
	}
	for i, s := range in.Config.Slices {
		col, ok := f.Col(s.Column)
		if !ok {
			return nil, bad("evaluation.slices[%d]: %s has no column %q", i, f.Source, s.Column)
		}
		spec := metrics.SliceSpec{Column: s.Column, Bins: s.Bins, MinSize: s.MinSize}
		var str []string
		var num []float64
		if col.Type == dataset.TypeCategorical {
			str = col.Str
		} else {
			num = make([]float64, f.Rows)
			for r := range num {
				num[r] = col.Num[r]
				if col.Null[r] {
					num[r] = math.NaN()
				}
			}
			if len(s.Bins) == 0 {
				str = make([]string, f.Rows)
				for r := range str {
					str[r] = col.Text(r)
				}
				num = nil
			}
		}
		groups, err := metrics.Partition(spec, str, num)
		if err != nil {
			return nil, &BadInputError{fmt.Errorf("evaluation.slices[%d]: %w", i, err)}
		}
		params.Slices = append(params.Slices, compare.SliceInput{Column: s.Column, Groups: groups})
	}
	res, err := compare.Run(ctx, params)
	if err != nil {
		var ie *compare.InputError
		if errors.As(err, &ie) {
			return nil, &BadInputError{fmt.Errorf("%s: %w", f.Source, err)}
		}
		if ctx.Err() != nil {
			return nil, err
		}
		return nil, &BadInputError{err}
	}
	out.Result = res
	// Which missing value and which trees a native model used change
	// every score without showing in them: the report must say.
	if out.CandInfo.Inference != "" {
		res.Inference = map[string]string{"candidate": out.CandInfo.Inference}
	}
	if out.BaseInfo != nil && out.BaseInfo.Inference != "" {
		if res.Inference == nil {
			res.Inference = map[string]string{}
		}
		res.Inference["baseline"] = out.BaseInfo.Inference
	}
	return out, nil
}

func readLabels(f *dataset.Frame, label, task string) ([]float64, error) {
	if label == "" {
		label = "target"
	}
	col, ok := f.Col(label)
	if !ok {
		return nil, bad("%s: no label column %q (columns: %v)", f.Source, label, f.Names())
	}
	if col.Type == dataset.TypeCategorical || col.Type == dataset.TypeTimestamp {
		return nil, bad("%s: label column %q is %s; a %s task needs numeric labels%s", f.Source, label, col.Type, task, labelHint(task))
	}
	for i := range f.Rows {
		if col.Null[i] {
			return nil, bad("%s: row %d: label %q is missing", f.Source, i+1, label)
		}
		v := col.Num[i]
		switch task {
		case "binary":
			if v != 0 && v != 1 {
				return nil, bad("%s: row %d: label %q is %s; a binary task needs labels 0 and 1", f.Source, i+1, label, col.Text(i))
			}
		case "multiclass":
			if v < 0 || v != math.Trunc(v) {
				return nil, bad("%s: row %d: label %q is %s; a multiclass task needs class indices 0..K-1", f.Source, i+1, label, col.Text(i))
			}
		default:
			if math.IsInf(v, 0) || math.IsNaN(v) {
				return nil, bad("%s: row %d: label %q is not a finite number", f.Source, i+1, label)
			}
		}
	}
	if f.Rows == 0 {
		return nil, bad("%s: the holdout has no rows", f.Source)
	}
	// Every label is present and valid: the column's values are the
	// labels. They are shared, not copied (80 MB and a pass on 10M rows);
	// nothing writes to either, and the capacity stops an append from
	// reaching into the frame.
	return col.Num[:f.Rows:f.Rows], nil
}

func labelHint(task string) string {
	switch task {
	case "binary":
		return " (0 and 1)"
	case "multiclass":
		return " (class indices 0..K-1)"
	}
	return ""
}

func predict(ctx context.Context, f *dataset.Frame, p model.Predictor, label, who string) (model.Predictions, error) {
	features := p.Info().Features
	var b model.Batch
	var err error
	switch p.(type) {
	case *model.PredictionsFile:
		b = model.Batch{Rows: f.Rows}
	default:
		if len(features) == 0 {
			features = model.FeatureColumns(f, label)
		}
		b, err = model.BatchFromFrame(f, features)
		if err != nil {
			return model.Predictions{}, &BadInputError{fmt.Errorf("%s %s: %w", who, p.Info().Name, err)}
		}
	}
	preds, err := p.Predict(ctx, b)
	if err != nil {
		if ctx.Err() != nil {
			return model.Predictions{}, err
		}
		var sErr *model.StatusError
		var mf *model.MissingFeatureError
		if errors.As(err, &mf) || (errors.As(err, &sErr) && sErr.Code < 500) {
			return model.Predictions{}, &BadInputError{fmt.Errorf("%s %s: %w", who, p.Info().Name, err)}
		}
		if _, isFile := p.(*model.PredictionsFile); isFile {
			return model.Predictions{}, &BadInputError{fmt.Errorf("%s: %w", who, err)}
		}
		return model.Predictions{}, fmt.Errorf("%s %s: %w", who, p.Info().Name, err)
	}
	if preds.Rows != f.Rows {
		return model.Predictions{}, bad("%s %s: %d predictions for %d holdout rows", who, p.Info().Name, preds.Rows, f.Rows)
	}
	return preds, nil
}
