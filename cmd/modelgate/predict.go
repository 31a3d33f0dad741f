package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/modelgate/modelgate/tools/dataset"
	"github.com/modelgate/modelgate/tools/model"
)

func init() { register(newPredictCmd) }

type predictFlags struct {
	model, data, out, label string
	missing                 string
	threads                 int
	allTrees                bool
}

func newPredictCmd() *cobra.Command {
	var f predictFlags
	cmd := &cobra.Command{
		Use:   "predict --model M.json --data X.csv [-o OUT.csv]",
		Short: "Score a CSV or Parquet file with an XGBoost JSON model, natively",
		Long: `Score every row of a CSV or Parquet file with an XGBoost JSON model, computed
natively in float32 exactly as XGBoost does. Features are matched to columns
by name; a model trained without names takes every column except --label.

Output (CSV, %.9g): row,score for binary models (probability of class 1),
row,prediction for regression, row,p0,...,pK for multiclass.

Missing values: empty fields and NaN always; also the value the sklearn
wrapper recorded (XGBClassifier(missing=0.0)), or --missing V for a model
trained with xgb.train on DMatrix(missing=V), which records nothing. A model
that records best_iteration (early stopping) is scored with the trees up to
it, as the wrapper's predict_proba does, unless --all-trees. Which missing
value and trees were used is printed on stderr.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPredict(cmd, f)
		},
	}
	cmd.Flags().StringVar(&f.model, "model", "", "XGBoost JSON model file (required)")
	cmd.Flags().StringVar(&f.data, "data", "", "CSV or Parquet file to score (required)")
	cmd.Flags().StringVarP(&f.out, "output", "o", "", "write predictions here instead of stdout")
	cmd.Flags().StringVar(&f.label, "label", "target", "column to leave out when the model does not name its features")
	cmd.Flags().IntVar(&f.threads, "threads", 0, "goroutines for inference (default: all cores)")
	addInferenceFlags(cmd, &f.missing, &f.allTrees)
	return cmd
}

func runPredict(cmd *cobra.Command, f predictFlags) error {
	if f.model == "" || f.data == "" {
		return usageErr(fmt.Errorf("predict needs --model and --data"))
	}
	m, err := model.LoadXGBoostFile(f.model)
	if err != nil {
		return usageErr(err)
	}
	m.SetThreads(f.threads)
	if err := applyInferenceFlags(m, f.missing, f.allTrees); err != nil {
		return usageErr(err)
	}
	// stdout is the predictions; say on stderr how they were made.
	fmt.Fprintf(cmd.ErrOrStderr(), "%s: %s\n", f.model, m.Inference())
	frame, err := dataset.Read(f.data, dataset.Options{})
	if err != nil {
		return usageErr(err)
	}
	features := m.Info().Features
	if len(features) == 0 {
		features = model.FeatureColumns(frame, f.label)
	}
	b, err := model.BatchFromFrame(frame, features)
	if err != nil {
		return usageErr(err)
	}
	p, err := m.Predict(cmd.Context(), b)
	if err != nil {
		return usageErr(fmt.Errorf("%s: %w", f.data, err))
	}
	var w io.Writer = cmd.OutOrStdout()
	var file *os.File
	if f.out != "" {
		file, err = os.Create(f.out)
		if err != nil {
			return usageErr(fmt.Errorf("create output: %w", err))
		}
		w = file
	}
	if err := writePredictions(w, p); err != nil {
		if file != nil {
			file.Close()
		}
		return fmt.Errorf("write predictions: %w", err)
	}
	if file != nil {
		if err := file.Close(); err != nil {
			return fmt.Errorf("write predictions: %w", err)
		}
	}
	return nil
}

// writePredictions writes the CSV contract of `modelgate predict`.
func writePredictions(w io.Writer, p model.Predictions) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	switch p.Kind {
	case model.Multiclass:
		bw.WriteString("row")
		for k := 0; k < p.Classes; k++ {
			bw.WriteString(",p" + strconv.Itoa(k))
		}
		bw.WriteByte('\n')
	case model.Regression:
		bw.WriteString("row,prediction\n")
	default:
		bw.WriteString("row,score\n")
	}
	buf := make([]byte, 0, 64)
	for i := 0; i < p.Rows; i++ {
		buf = strconv.AppendInt(buf[:0], int64(i), 10)
		for _, v := range p.Row(i) {
			buf = append(buf, ',')
			buf = strconv.AppendFloat(buf, v, 'g', 9, 64)
		}
		buf = append(buf, '\n')
		if _, err := bw.Write(buf); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// addInferenceFlags adds --missing and --all-trees, shared by predict and serve.
func addInferenceFlags(cmd *cobra.Command, missing *string, allTrees *bool) {
	cmd.Flags().StringVar(missing, "missing", "", "value the model treats as missing besides NaN (xgb.train's DMatrix(missing=V)); default: what the model records")
	cmd.Flags().BoolVar(allTrees, "all-trees", false, "use every tree of a model that records best_iteration, not only those up to it")
}

func applyInferenceFlags(m *model.XGBoost, missing string, allTrees bool) error {
	if missing != "" {
		v, err := parseMissingFlag(missing)
		if err != nil {
			return err
		}
		m.SetMissing(v)
	}
	m.UseAllTrees(allTrees)
	return nil
}

// parseMissingFlag reads --missing as Python spells the values people
// pass to DMatrix(missing=...): a number, nan, inf or -inf.
func parseMissingFlag(s string) (float64, error) {
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		return 0, fmt.Errorf("--missing %q is not a number (want e.g. 0, -999, nan)", s)
	}
	return v, nil
}
