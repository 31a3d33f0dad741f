package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/modelgate/modelgate/internal/config"
	"github.com/modelgate/modelgate/tools/dataset"
	"github.com/modelgate/modelgate/tools/validate"
)

func init() { register(newValidateCmd) }

type validateFlags struct {
	reference, data, schema, writeSchema string
	label, environment, delimiter        string
	maxSize                              string
	json                                 bool
}

func newValidateCmd() *cobra.Command {
	var f validateFlags
	cmd := &cobra.Command{
		Use:   "validate --reference REF --data DATA",
		Short: "Check a dataset against a schema inferred from reference data (or given)",
		Long: `Check a dataset (CSV or Parquet) against a schema: required and unexpected columns,
types, completeness, value ranges, allowed categories (rare new values warn, common ones
fail), uniqueness, row counts, label presence and class balance.

The schema comes from --schema, or is inferred from --reference as TFDV's infer_schema
does; --write-schema saves the inferred schema as YAML to edit and reuse. In the serving
environment the label may be absent.

Exit code: 0 valid (warnings allowed), 1 failed checks, 2 bad usage or unreadable input.`,
		Example: `  modelgate validate --reference train.csv --data holdout.csv
  modelgate validate --reference train.csv --data holdout.csv --write-schema schema.yaml
  modelgate validate --schema schema.yaml --data today.csv --environment serving --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runValidate(cmd, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.reference, "reference", "", "reference dataset to infer the schema from")
	fl.StringVar(&f.data, "data", "", "dataset to validate")
	fl.StringVar(&f.schema, "schema", "", "schema YAML (instead of inferring one)")
	fl.StringVar(&f.writeSchema, "write-schema", "", "write the inferred schema to this YAML file")
	fl.StringVar(&f.label, "label", "", `label column (default "target" when the reference has one)`)
	fl.StringVar(&f.environment, "environment", validate.Training, "training or serving (the label may be absent when serving)")
	fl.StringVar(&f.delimiter, "delimiter", ",", "CSV field delimiter")
	fl.StringVar(&f.maxSize, "max-size", "1GiB", "largest file read (peak memory is about 2.5 bytes per byte of CSV)")
	fl.BoolVar(&f.json, "json", false, "print the report as JSON")
	return cmd
}

func runValidate(cmd *cobra.Command, f validateFlags) error {
	if f.data == "" && f.writeSchema == "" {
		return usageErr(errors.New("--data is required (or --write-schema with --reference to only infer)"))
	}
	if f.schema == "" && f.reference == "" {
		return usageErr(errors.New("give --reference to infer a schema from, or --schema"))
	}
	if f.environment != validate.Training && f.environment != validate.Serving {
		return usageErr(fmt.Errorf("--environment must be training or serving, got %q", f.environment))
	}
	delim, err := delimiterRune(f.delimiter)
	if err != nil {
		return usageErr(err)
	}
	maxSize, err := config.ParseByteSize(f.maxSize)
	if err != nil {
		return usageErr(fmt.Errorf("--max-size: %w", err))
	}
	base := dataset.Options{Delimiter: delim, MaxBytes: int64(maxSize)}
	var s *validate.Schema
	if f.schema != "" {
		if s, err = validate.Load(f.schema); err != nil {
			return usageErr(err)
		}
	} else {
		ref, err := dataset.Read(f.reference, base)
		if err != nil {
			return usageErr(fmt.Errorf("reference: %w", err))
		}
		label := f.label
		if label == "" {
			if _, ok := ref.Col("target"); ok {
				label = "target"
			}
		} else if _, ok := ref.Col(label); !ok {
			return usageErr(fmt.Errorf("--label %q is not a column of the reference %s", label, f.reference))
		}
		s = validate.Infer(ref, validate.InferOptions{Label: label})
	}
	if f.writeSchema != "" {
		if err := s.Write(f.writeSchema); err != nil {
			return usageErr(err)
		}
		if f.data == "" {
			fmt.Fprintf(cmd.OutOrStdout(), "schema with %d columns written to %s\n", len(s.Columns), f.writeSchema)
			return nil
		}
	}
	ro := s.ReadOptions()
	ro.Delimiter, ro.MaxBytes = base.Delimiter, base.MaxBytes
	data, err := dataset.Read(f.data, ro)
	if err != nil {
		return usageErr(fmt.Errorf("data: %w", err))
	}
	rep := validate.Validate(data, s, validate.Options{Environment: f.environment})
	out := cmd.OutOrStdout()
	if f.json {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		printValidation(out, rep)
	}
	if !rep.Valid {
		return failSilently(1)
	}
	return nil
}

func printValidation(w io.Writer, r *validate.Report) {
	if len(r.Findings) > 0 {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "SEVERITY\tRULE\tCOLUMN\tMESSAGE\tROWS")
		for _, f := range r.Findings {
			rows := ""
			for i, n := range f.Rows {
				if i > 0 {
					rows += ","
				}
				rows += fmt.Sprint(n)
			}
			// Cells are cut to a width: tabwriter pads every row to the
			// widest cell, and one 400 KB column name made 27 MB of
			// spaces. --json keeps them whole.
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", f.Severity, f.Rule, clip(f.Column, 48), clip(f.Message, 160), clip(rows, 48))
		}
		tw.Flush()
		fmt.Fprintln(w)
	}
	verdict := "VALID"
	if !r.Valid {
		verdict = "INVALID"
	}
	fmt.Fprintf(w, "%s: %s (%s): %d rows, %d checks, %d failed, %d warnings\n", verdict, r.Source, r.Environment, r.Rows, r.Checks, r.Failures, r.Warnings)
}

// clip shortens s to at most n runes, ending in "…" when it cut, and
// keeps it on one line.
func clip(s string, n int) string {
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i] + "…"
	}
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
