package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
	"text/tabwriter"

	"github.com/charmbracelet/log"
	"github.com/spf13/cobra"

	"github.com/modelgate/modelgate/internal/config"
	"github.com/modelgate/modelgate/tools/dataset"
	"github.com/modelgate/modelgate/tools/drift"
)

func init() { register(newDriftCmd) }

type driftFlags struct {
	reference, current string
	columns, exclude   []string
	tests              []string
	json               bool
	html               string
	stream             bool
	memoryBudget       string
	correction         string
	share              float64
	delimiter          string
	maxSize            string
	failOn             string
}

func newDriftCmd() *cobra.Command {
	var f driftFlags
	cmd := &cobra.Command{
		Use:   "drift --reference REF --current CUR",
		Short: "Compare current data with reference data, column by column",
		Long: `Compare two datasets (CSV or Parquet, told apart by content) column by column.

Each column gets the test Evidently would choose: numeric columns KS (reference <= 1000
rows) or Wasserstein distance normalised by the reference std; categorical columns
chi-square, or a Z-test for two categories (<= 1000 rows), or Jensen-Shannon distance.
ks_statistic, ks_pvalue (as scipy.stats.ks_2samp computes them), wasserstein and psi are
always reported for numeric columns. The dataset has drifted when the share of drifted
columns reaches --share.

--stream reads both files once each in bounded memory, with KLL sketches for numeric
columns (documented error bound) and exact counts for categories; use it for files that
do not fit in memory.

Exit code: 0 no dataset drift, 1 dataset drift (or any column with --fail-on column),
2 bad usage or unreadable input.`,
		Example: `  modelgate drift --reference train.csv --current today.csv
  modelgate drift --reference train.csv --current today.csv --columns age,income --json
  modelgate drift --reference train.parquet --current today.csv --html drift.html --correction bh
  modelgate drift --reference big.csv --current big2.csv --stream --memory-budget 256MiB`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runDrift(cmd, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.reference, "reference", "", "reference dataset (training data), CSV or Parquet")
	fl.StringVar(&f.current, "current", "", "current dataset to compare, CSV or Parquet")
	fl.StringSliceVar(&f.columns, "columns", nil, "compare only these columns (comma-separated)")
	fl.StringSliceVar(&f.exclude, "exclude", nil, "leave these columns out (comma-separated)")
	fl.StringArrayVar(&f.tests, "test", nil, "per-column test and threshold, COLUMN=TEST[:THRESHOLD] with TEST one of ks, wasserstein, psi, chisquare, z, jensenshannon (repeatable)")
	fl.BoolVar(&f.json, "json", false, "print the result as JSON")
	fl.StringVar(&f.html, "html", "", "also write an HTML report with a histogram per drifted column to this file")
	fl.BoolVar(&f.stream, "stream", false, "bounded-memory single pass over CSV files (sketch-based statistics)")
	fl.StringVar(&f.memoryBudget, "memory-budget", "256MiB", "memory budget for --stream")
	fl.StringVar(&f.correction, "correction", "", `multiple-testing correction of p-values: "bh" (Benjamini-Hochberg) or empty`)
	fl.Float64Var(&f.share, "share", 0.5, "dataset drift when at least this share of columns drifted")
	fl.StringVar(&f.delimiter, "delimiter", ",", "CSV field delimiter")
	fl.StringVar(&f.maxSize, "max-size", "1GiB", "largest file read into memory (peak memory is about 2.5 bytes per byte of CSV); use --stream above it")
	fl.StringVar(&f.failOn, "fail-on", "dataset", "exit 1 on dataset drift (dataset) or on any drifted column (column)")
	return cmd
}

func driftOptions(f driftFlags) (drift.Options, error) {
	o := drift.Options{Columns: f.columns, Exclude: f.exclude, Share: f.share, Correction: f.correction,
		Histograms: f.html != "", PerColumn: map[string]drift.ColumnOptions{}}
	if f.share <= 0 || f.share > 1 {
		return o, fmt.Errorf("--share must be in (0, 1], got %g", f.share)
	}
	for _, t := range f.tests {
		col, spec, ok := strings.Cut(t, "=")
		if !ok || col == "" || spec == "" {
			return o, fmt.Errorf("--test %q: want COLUMN=TEST[:THRESHOLD]", t)
		}
		name, thr, hasThr := strings.Cut(spec, ":")
		co := drift.ColumnOptions{Test: drift.Test(name)}
		if hasThr {
			if _, err := fmt.Sscanf(thr, "%g", &co.Threshold); err != nil || co.Threshold <= 0 {
				return o, fmt.Errorf("--test %q: threshold %q is not a positive number", t, thr)
			}
		}
		o.PerColumn[col] = co
	}
	return o, o.Check()
}

func delimiterRune(s string) (rune, error) {
	if s == `\t` || s == "tab" {
		return '\t', nil
	}
	r := []rune(s)
	if len(r) != 1 {
		return 0, fmt.Errorf("--delimiter must be one character, got %q", s)
	}
	return r[0], nil
}

func runDrift(cmd *cobra.Command, f driftFlags) error {
	if f.reference == "" || f.current == "" {
		return usageErr(errors.New("both --reference and --current are required"))
	}
	if f.failOn != "dataset" && f.failOn != "column" {
		return usageErr(fmt.Errorf("--fail-on must be dataset or column, got %q", f.failOn))
	}
	o, err := driftOptions(f)
	if err != nil {
		return usageErr(err)
	}
	delim, err := delimiterRune(f.delimiter)
	if err != nil {
		return usageErr(err)
	}
	var res *drift.Result
	if f.stream {
		budget, err := config.ParseByteSize(f.memoryBudget)
		if err != nil {
			return usageErr(fmt.Errorf("--memory-budget: %w", err))
		}
		res, err = drift.CompareStream(f.reference, f.current, drift.StreamOptions{Options: o, MemoryBudget: int64(budget), Delimiter: delim})
		if err != nil {
			return usageErr(err)
		}
	} else {
		// Columns are pointer-free float slices, so collecting often costs
		// little CPU and keeps the peak near the live data (two frames).
		defer debug.SetGCPercent(debug.SetGCPercent(25))
		maxSize, err := config.ParseByteSize(f.maxSize)
		if err != nil {
			return usageErr(fmt.Errorf("--max-size: %w", err))
		}
		ro := dataset.Options{Delimiter: delim, MaxBytes: int64(maxSize)}
		if len(f.columns) > 0 {
			ro.Columns = f.columns // parse only what is compared
		}
		ref, err := dataset.Read(f.reference, ro)
		if err != nil {
			return usageErr(fmt.Errorf("reference: %w", err))
		}
		cur, err := dataset.Read(f.current, ro)
		if err != nil {
			return usageErr(fmt.Errorf("current: %w", err))
		}
		log.Debug("datasets read", "reference_rows", ref.Rows, "current_rows", cur.Rows)
		res, err = drift.Compare(ref, cur, o)
		if err != nil {
			return usageErr(err)
		}
	}
	if f.html != "" {
		var b bytes.Buffer
		if err := drift.WriteHTML(&b, res, drift.ReportMeta{Reference: f.reference, Current: f.current}); err != nil {
			return err
		}
		if err := os.WriteFile(f.html, b.Bytes(), 0o644); err != nil {
			return usageErr(fmt.Errorf("write --html report: %w", err))
		}
	}
	out := cmd.OutOrStdout()
	if f.json {
		if err := writeDriftJSON(out, res); err != nil {
			return err
		}
	} else {
		printDriftTable(out, res)
	}
	if res.DatasetDrift || (f.failOn == "column" && len(res.DriftedColumns) > 0) {
		return failSilently(1)
	}
	return nil
}

func writeDriftJSON(w io.Writer, res *drift.Result) error {
	// Histograms belong to the HTML report; the JSON keeps the contract's shape.
	for _, c := range res.Columns {
		c.Histogram = nil
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(res)
}

func printDriftTable(w io.Writer, res *drift.Result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "COLUMN\tTYPE\tTEST\tSTATISTIC\tP-VALUE\tTHRESHOLD\tDRIFT\tMISSING REF\tMISSING CUR")
	for _, name := range res.Order {
		c := res.Columns[name]
		p := "-"
		if c.PValue != nil {
			p = fmtG(*c.PValue)
			if c.PValueAdjusted != nil {
				p += " (adj " + fmtG(*c.PValueAdjusted) + ")"
			}
		}
		mark := "no"
		if c.Drifted {
			mark = "DRIFT"
		}
		stat := fmtG(c.Statistic)
		if c.Test == drift.TestNone {
			stat, mark = "-", mark+" ("+c.Note+")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.1f%%\t%.1f%%\n", name, c.Type, c.Test, stat, p, fmtG(c.Threshold), mark,
			c.NullFractionReference*100, c.NullFractionCurrent*100)
	}
	tw.Flush()
	verdict := "no dataset drift"
	if res.DatasetDrift {
		verdict = "DATASET DRIFT"
	}
	fmt.Fprintf(w, "\n%d of %d columns drifted (%.1f%%, threshold %.0f%%): %s\n", len(res.DriftedColumns), len(res.Order),
		res.DriftShare*100, res.ShareThreshold*100, verdict)
}

func fmtG(v float64) string {
	if v != 0 && (v < 1e-4 && v > -1e-4) {
		return fmt.Sprintf("%.3g", v)
	}
	return fmt.Sprintf("%.4g", v)
}
