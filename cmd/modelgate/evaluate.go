package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/modelgate/modelgate/agents/evaluation"
	"github.com/modelgate/modelgate/internal/config"
	"github.com/modelgate/modelgate/tools/compare"
	"github.com/modelgate/modelgate/tools/dataset"
	"github.com/modelgate/modelgate/tools/model"
)

func init() { register(newEvaluateCmd) }

type evaluateFlags struct {
	data, label, candidate, baseline, task string
	config, html                           string
	threshold                              float64
	resamples                              int
	seed                                   int64
	asJSON                                 bool
	missing                                string
	allTrees                               bool
}

func newEvaluateCmd() *cobra.Command {
	var f evaluateFlags
	cmd := &cobra.Command{
		Use:   "evaluate --data HOLDOUT --label target --candidate M|PREDS|URL [--baseline M|PREDS|URL]",
		Short: "Compare a candidate model with production on a labelled holdout",
		Long: `Score a labelled holdout with the candidate and (optionally) the baseline in
production, compute the metrics, and compare them with paired bootstrap
confidence intervals, DeLong's test (roc_auc) and McNemar's test (accuracy).

A model is an XGBoost JSON file (scored natively), a predictions file (CSV or
Parquet: row,score / row,prediction / row,p0..pK, in holdout order), or a V2
endpoint URL (http://HOST/v2/models/NAME).

Thresholds, cost matrix and slices come from --config (the evaluation section
of modelgate.yaml). Without thresholds the task's primary metric (roc_auc,
log_loss, rmse) must not get significantly worse.

Exit codes: 0 no regression, 1 regressed or below a floor, 2 bad input.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runEvaluate(cmd, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.data, "data", "", "labelled holdout, CSV or Parquet (default: data.holdout of --config)")
	fl.StringVar(&f.label, "label", "", "label column (default: label of --config, else target)")
	fl.StringVar(&f.candidate, "candidate", "", "candidate: model JSON, predictions file or V2 URL (required)")
	fl.StringVar(&f.baseline, "baseline", "", "production model to compare with: model JSON, predictions file or V2 URL")
	fl.StringVar(&f.task, "task", "", "binary, multiclass or regression (default: task of --config, else the candidate's output)")
	fl.Float64Var(&f.threshold, "threshold", 0, "decision threshold for binary scores (default: evaluation.threshold, else 0.5)")
	fl.IntVar(&f.resamples, "resamples", 0, "bootstrap resamples (default: evaluation.resamples, else 1000)")
	fl.Int64Var(&f.seed, "seed", 0, "bootstrap seed (default: evaluation.seed, else 1)")
	fl.StringVar(&f.config, "config", "", "modelgate.yaml whose evaluation section sets thresholds, cost and slices")
	fl.StringVar(&f.html, "html", "", "also write an HTML report (curves, calibration, slice deltas) here")
	fl.BoolVar(&f.asJSON, "json", false, "print the comparison as JSON")
	fl.StringVar(&f.missing, "missing", "", "value an XGBoost candidate treats as missing besides NaN (xgb.train's DMatrix(missing=V); default: candidate.missing, else what the model records)")
	fl.BoolVar(&f.allTrees, "all-trees", false, "score XGBoost models that record best_iteration with every tree, not only those up to best_iteration")
	return cmd
}

func runEvaluate(cmd *cobra.Command, f evaluateFlags) error {
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	ev := config.Evaluation{}
	label, task, data := "target", f.task, f.data
	var candMissing, baseMissing *float64
	if f.config != "" {
		cfg, err := config.Load(f.config)
		if err != nil {
			return usageErr(err)
		}
		ev = cfg.Evaluation
		candMissing = cfg.Candidate.Missing
		if cfg.Baseline != nil {
			baseMissing = cfg.Baseline.Missing
		}
		base := filepath.Dir(f.config)
		if cfg.Label != "" {
			label = cfg.Label
		}
		if task == "" && cfg.Task != "llm" {
			task = cfg.Task
		}
		if data == "" {
			data = config.Resolve(base, cfg.Data.Holdout)
		}
	} else {
		probe := config.Pipeline{Evaluation: ev}
		probe.SetDefaults()
		ev = probe.Evaluation
	}
	if f.label != "" {
		label = f.label
	}
	if f.threshold != 0 {
		if !(f.threshold > 0 && f.threshold < 1) {
			return usageErr(fmt.Errorf("--threshold %g must be strictly between 0 and 1", f.threshold))
		}
		ev.Threshold = f.threshold
	}
	if f.resamples != 0 {
		if f.resamples < 1 || f.resamples > 100000 {
			return usageErr(fmt.Errorf("--resamples %d must be between 1 and 100000", f.resamples))
		}
		ev.Resamples = f.resamples
	}
	if f.seed != 0 {
		ev.Seed = f.seed
	}
	switch task {
	case "", "binary", "multiclass", "regression":
	default:
		return usageErr(fmt.Errorf("--task %q: want binary, multiclass or regression", task))
	}
	if data == "" || f.candidate == "" {
		return usageErr(errors.New("evaluate needs --data (or --config with data.holdout) and --candidate"))
	}
	if len(ev.Thresholds) > 0 && task != "" {
		for k := range ev.Thresholds {
			if known := config.EvaluationMetrics[task]; len(known) > 0 && !slices.Contains(known, k) {
				return usageErr(fmt.Errorf("threshold on %q: not a %s metric", k, task))
			}
		}
	}
	kind := map[string]model.Kind{"binary": model.Binary, "multiclass": model.Multiclass, "regression": model.Regression}[task]
	if f.missing != "" {
		v, err := parseMissingFlag(f.missing)
		if err != nil {
			return usageErr(err)
		}
		candMissing = &v
	}
	cand, err := model.Open(f.candidate, model.OpenOptions{Kind: kind, Missing: candMissing, AllTrees: f.allTrees})
	if err != nil {
		return usageErr(fmt.Errorf("--candidate: %w", err))
	}
	var base model.Predictor
	if f.baseline != "" {
		if base, err = model.Open(f.baseline, model.OpenOptions{Kind: kind, Missing: baseMissing, AllTrees: f.allTrees}); err != nil {
			return usageErr(fmt.Errorf("--baseline: %w", err))
		}
	}
	// The models are opened first so that the holdout is read for only
	// the columns they and the evaluation use.
	frame, err := evaluation.ReadHoldout(data, dataset.Options{}, evaluation.HoldoutColumns(label, ev, cand, base))
	if err != nil {
		return usageErr(err)
	}
	out, err := evaluation.Evaluate(ctx, evaluation.Input{Holdout: frame, Label: label, Task: task, Candidate: cand, Baseline: base, Config: ev})
	if err != nil {
		return usageErr(err)
	}
	if f.html != "" {
		if err := writeHTMLFile(f.html, out); err != nil {
			return usageErr(fmt.Errorf("--html: %w", err))
		}
	}
	w := cmd.OutOrStdout()
	if f.asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out.Result); err != nil {
			return err
		}
	} else {
		printEvaluation(w, out)
	}
	if !out.Result.Passed {
		return failSilently(1)
	}
	return nil
}

func writeHTMLFile(path string, out *evaluation.Outcome) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := evaluation.WriteHTML(f, out); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func printEvaluation(w io.Writer, out *evaluation.Outcome) {
	r := out.Result
	fmt.Fprintf(w, "%s task, %d rows of %s", r.Task, r.Rows, out.SourceFile)
	if r.Task == "binary" {
		fmt.Fprintf(w, ", threshold %g", r.Threshold)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if r.Baseline != nil {
		fmt.Fprintf(tw, "metric\tcandidate\tbaseline\tdelta\t%.0f%% interval\tp-value\tverdict\n", r.Confidence*100)
	} else {
		fmt.Fprintln(tw, "metric\tcandidate")
	}
	for _, k := range compare.Metrics(r.Task, r.Cost != nil) {
		cv := cell(r.Candidate.Values[k])
		if r.Baseline == nil {
			fmt.Fprintf(tw, "%s\t%s\n", k, cv)
			continue
		}
		c := r.Comparison[k]
		name := k
		if c.Guarded {
			name += " *"
		}
		ci, p := "", ""
		if c.CILow != nil {
			ci = fmt.Sprintf("[%+.4f, %+.4f]", *c.CILow, *c.CIHigh)
		}
		if c.PValue != nil {
			p = fmt.Sprintf("%.3g %s", *c.PValue, c.Test)
		}
		d := ""
		if c.Delta != nil {
			d = fmt.Sprintf("%+.4f", *c.Delta)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", name, cv, cell(r.Baseline.Values[k]), d, ci, p, c.Verdict)
	}
	tw.Flush()
	if cm := r.Candidate.Confusion; cm != nil {
		fmt.Fprintf(w, "candidate confusion matrix: tn %g fp %g fn %g tp %g\n", cm.TN, cm.FP, cm.FN, cm.TP)
	}
	if c := r.Cost; c != nil {
		fmt.Fprintf(w, "cost per 1,000 decisions: candidate %.2f", c.CandidatePer1000)
		if c.BaselinePer1000 != nil {
			fmt.Fprintf(w, ", baseline %.2f", *c.BaselinePer1000)
		}
		fmt.Fprintf(w, "; candidate's cost-minimising threshold %.4g (%.2f)\n", c.CandidateOptimalThreshold, c.CandidateOptimalPer1000)
	}
	for _, fl := range r.Floors {
		state := "met"
		if !fl.Passed {
			state = "MISSED"
		}
		fmt.Fprintf(w, "floor %s: %s\n", fl.Metric, state)
	}
	if len(r.Slices) > 0 {
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "slice\trows\tverdict\tguarded deltas")
		for _, s := range r.Slices {
			var parts []string
			for _, k := range slices.Sorted(maps.Keys(s.Comparison)) {
				c := s.Comparison[k]
				if c.Guarded && c.Delta != nil {
					p := fmt.Sprintf("%s %+.4f", k, *c.Delta)
					if c.CILow != nil {
						p += fmt.Sprintf(" [%+.4f, %+.4f]", *c.CILow, *c.CIHigh)
					}
					parts = append(parts, p)
				}
			}
			fmt.Fprintf(tw, "%s=%s\t%d\t%s\t%s\n", s.Column, s.Value, s.Rows, s.Verdict, strings.Join(parts, "; "))
		}
		tw.Flush()
	}
	for _, u := range r.Undefined {
		fmt.Fprintf(w, "undefined: %s for %s: %s\n", u.Metric, u.Subject, u.Reason)
	}
	for _, who := range []string{"candidate", "baseline"} {
		if inf, ok := r.Inference[who]; ok {
			fmt.Fprintf(w, "%s scored with %s\n", who, inf)
		}
	}
	if r.Passed {
		fmt.Fprintf(w, "verdict: %s\n", r.Verdict)
	} else {
		fmt.Fprintf(w, "verdict: %s (FAILED)\n", r.Verdict)
		for _, reason := range r.Reasons {
			fmt.Fprintf(w, "  - %s\n", reason)
		}
	}
}

func cell(v float64) string {
	if math.IsNaN(v) {
		return "undefined"
	}
	return fmt.Sprintf("%.4f", v)
}
