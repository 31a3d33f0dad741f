package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/format"
	"github.com/spf13/cobra"

	"github.com/modelgate/modelgate/internal/oversight"
)

func init() { register(newPolicyCmd) }

func newPolicyCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Test, evaluate and format Rego policy bundles",
		Long: "The promotion and authorization policies are a Rego bundle: the default one is\n" +
			"embedded in the binary; a folder replaces it (policy.bundle in modelgate.yaml).",
	}
	cmd.AddCommand(newPolicyTestCmd(), newPolicyEvalCmd(), newPolicyFmtCmd())
	return cmd
}

type policyTestFlags struct {
	coverage  bool
	threshold float64
	jsonOut   bool
	verbose   bool
	run       string
	timeout   time.Duration
}

func newPolicyTestCmd() *cobra.Command {
	var f policyTestFlags
	cmd := &cobra.Command{
		Use:   "test [DIR]",
		Short: "Run a bundle's _test.rego tests (the embedded bundle when DIR is omitted)",
		Long: "Runs the bundle's tests with OPA's tester. Exit 0 when every test passes (and\n" +
			"coverage reaches --threshold), 1 when a test fails or coverage is too low,\n" +
			"2 when the bundle does not parse or compile.",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := ""
			if len(args) == 1 {
				dir = args[0]
			}
			return runPolicyTest(cmd.Context(), cmd.OutOrStdout(), dir, f)
		},
	}
	cmd.Flags().BoolVar(&f.coverage, "coverage", false, "report test coverage of the policy files")
	cmd.Flags().Float64Var(&f.threshold, "threshold", 0, "fail when coverage is below this percentage (implies --coverage)")
	cmd.Flags().BoolVar(&f.jsonOut, "json", false, "print the report as JSON")
	cmd.Flags().BoolVarP(&f.verbose, "verbose", "v", false, "list every test, not only failures")
	cmd.Flags().StringVar(&f.run, "run", "", "only run tests whose name matches this regular expression")
	cmd.Flags().DurationVar(&f.timeout, "timeout", 5*time.Second, "time limit per test")
	return cmd
}

func loadPolicyBundle(dir string) (*oversight.Bundle, error) {
	fsys, source, err := oversight.BundleFS(dir)
	if err != nil {
		return nil, usageErr(err)
	}
	b, err := oversight.LoadBundle(fsys, source)
	if err != nil {
		return nil, usageErr(err)
	}
	return b, nil
}

func runPolicyTest(ctx context.Context, w io.Writer, dir string, f policyTestFlags) error {
	if f.threshold < 0 || f.threshold > 100 {
		return usageErr(fmt.Errorf("--threshold must be between 0 and 100, got %v", f.threshold))
	}
	if f.threshold > 0 {
		f.coverage = true
	}
	b, err := loadPolicyBundle(dir)
	if err != nil {
		return err
	}
	rep, err := b.RunTests(ctx, oversight.TestParams{Coverage: f.coverage, Timeout: f.timeout, Filter: f.run})
	if err != nil {
		return usageErr(err)
	}
	lowCoverage := rep.Coverage != nil && *rep.Coverage < f.threshold
	if f.jsonOut {
		out := struct {
			oversight.TestReport
			Threshold float64 `json:"threshold,omitempty"`
		}{rep, f.threshold}
		if err := policyWriteJSON(w, out); err != nil {
			return err
		}
	} else {
		printPolicyTests(w, b.Source, rep, f)
	}
	switch {
	case len(rep.Tests) == 0:
		return checkFailed(fmt.Errorf("bundle %s has no tests (rules named test_* in _test.rego files)", b.Source))
	case !rep.OK():
		return failSilently(1)
	case lowCoverage:
		if f.jsonOut {
			return failSilently(1)
		}
		return checkFailed(fmt.Errorf("coverage %.1f%% is below the threshold %.1f%%", *rep.Coverage, f.threshold))
	}
	return nil
}

func printPolicyTests(w io.Writer, source string, rep oversight.TestReport, f policyTestFlags) {
	for _, t := range rep.Tests {
		switch {
		case t.Skip:
			if f.verbose {
				fmt.Fprintf(w, "SKIP  %s.%s (%s:%d)\n", t.Package, t.Name, t.File, t.Row)
			}
		case t.Pass:
			if f.verbose {
				fmt.Fprintf(w, "PASS  %s.%s (%s)\n", t.Package, t.Name, t.Duration.Round(time.Microsecond))
			}
		default:
			fmt.Fprintf(w, "FAIL  %s.%s (%s:%d)\n      %s\n", t.Package, t.Name, t.File, t.Row, t.Error)
			for _, line := range strings.Split(strings.TrimSpace(t.Output), "\n") {
				if line != "" {
					fmt.Fprintf(w, "      | %s\n", line)
				}
			}
		}
	}
	fmt.Fprintf(w, "%s (revision %s)\n", source, shortRevision(rep.Revision))
	status := "PASS"
	if !rep.OK() {
		status = "FAIL"
	}
	fmt.Fprintf(w, "%s: %d/%d passed", status, rep.Passed, len(rep.Tests))
	if rep.Skipped > 0 {
		fmt.Fprintf(w, ", %d skipped", rep.Skipped)
	}
	fmt.Fprintln(w)
	if rep.Coverage != nil {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "FILE\tCOVERAGE\tNOT COVERED (lines)")
		for _, fc := range rep.Files {
			var ranges []string
			for _, r := range fc.NotCovered {
				if r[0] == r[1] {
					ranges = append(ranges, fmt.Sprint(r[0]))
				} else {
					ranges = append(ranges, fmt.Sprintf("%d-%d", r[0], r[1]))
				}
			}
			fmt.Fprintf(tw, "%s\t%.1f%%\t%s\n", fc.File, fc.Coverage, strings.Join(ranges, ","))
		}
		fmt.Fprintf(tw, "total\t%.1f%%\t\n", *rep.Coverage)
		tw.Flush()
	}
}

func shortRevision(r string) string {
	r = strings.TrimPrefix(r, "sha256:")
	if len(r) > 12 {
		return r[:12]
	}
	return r
}

type policyEvalFlags struct {
	input   string
	bundle  string
	query   string
	timeout time.Duration
}

func newPolicyEvalCmd() *cobra.Command {
	var f policyEvalFlags
	cmd := &cobra.Command{
		Use:   "eval --input FILE [--bundle DIR] [--query Q]",
		Short: "Evaluate a policy query against an input document",
		Long: "Evaluates --query (default data.modelgate.promotion.decision) with the JSON in\n" +
			"--input (\"-\" for stdin) and prints the result as JSON. For the promotion\n" +
			"decision the answer is checked like the pipeline checks it, and the exit code\n" +
			"is 1 when it denies; for other queries, 1 when the result is undefined or false.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPolicyEval(cmd.Context(), cmd.InOrStdin(), cmd.OutOrStdout(), f)
		},
	}
	cmd.Flags().StringVar(&f.input, "input", "", "JSON input document, or - for stdin (required)")
	cmd.Flags().StringVar(&f.bundle, "bundle", "", "policy folder (default: the embedded bundle)")
	cmd.Flags().StringVar(&f.query, "query", oversight.PromotionQuery, "Rego query to evaluate")
	cmd.Flags().DurationVar(&f.timeout, "timeout", 5*time.Second, "evaluation time limit")
	cmd.Flags().Bool("json", true, "print JSON (always on; accepted for symmetry with other commands)")
	return cmd
}

func runPolicyEval(ctx context.Context, stdin io.Reader, w io.Writer, f policyEvalFlags) error {
	if f.input == "" {
		return usageErr(errors.New("--input is required (a JSON file, or - for stdin)"))
	}
	var raw []byte
	var err error
	if f.input == "-" {
		raw, err = io.ReadAll(io.LimitReader(stdin, 64<<20))
	} else {
		raw, err = os.ReadFile(f.input)
	}
	if err != nil {
		return usageErr(fmt.Errorf("read input: %w", err))
	}
	input, err := decodePolicyInput(f.input, raw)
	if err != nil {
		return usageErr(err)
	}
	b, err := loadPolicyBundle(f.bundle)
	if err != nil {
		return err
	}
	val, defined, err := oversight.EvalQuery(ctx, b, f.query, input, f.timeout)
	if err != nil {
		return usageErr(err)
	}
	if strings.TrimSpace(f.query) == oversight.PromotionQuery {
		if !defined {
			return checkFailed(fmt.Errorf("%s is undefined for this input: the pipeline would deny (%s)", f.query, oversight.CodeUndefined))
		}
		d, err := oversight.ParseDecision(val)
		if err != nil {
			return checkFailed(fmt.Errorf("%s has the wrong shape (the pipeline would deny with %s): %w", f.query, oversight.CodeWrongShape, err))
		}
		d.PolicyRevision = b.Revision
		d.EvaluatedAt = time.Now().UTC()
		if err := policyWriteJSON(w, d); err != nil {
			return err
		}
		if !d.Allow {
			return failSilently(1)
		}
		return nil
	}
	if !defined {
		fmt.Fprintln(w, "undefined")
		return failSilently(1)
	}
	if err := policyWriteJSON(w, val); err != nil {
		return err
	}
	if v, ok := val.(bool); ok && !v {
		return failSilently(1)
	}
	return nil
}

// decodePolicyInput parses the input document, naming line and column of
// a syntax error.
func decodePolicyInput(name string, raw []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			line, col := lineCol(raw, se.Offset)
			return nil, fmt.Errorf("input %s: line %d, column %d: %w", name, line, col, err)
		}
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("input %s: the JSON document is empty or ends early", name)
		}
		return nil, fmt.Errorf("input %s: %w", name, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("input %s: more than one JSON document", name)
	}
	return v, nil
}

func lineCol(b []byte, off int64) (int, int) {
	if off > int64(len(b)) {
		off = int64(len(b))
	}
	line, col := 1, 1
	for _, c := range b[:off] {
		if c == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return line, col
}

type policyFmtFlags struct {
	check bool
}

func newPolicyFmtCmd() *cobra.Command {
	var f policyFmtFlags
	cmd := &cobra.Command{
		Use:   "fmt [--check] [DIR]",
		Short: "Format the .rego files of a folder (default: the current folder) in place",
		Long: "Rewrites every .rego file under DIR in OPA's canonical format (Rego v1).\n" +
			"With --check nothing is written: the files that need formatting are listed and\n" +
			"the exit code is 1 when there are any. A file that does not parse exits 2.",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := "."
			if len(args) == 1 {
				dir = args[0]
			}
			return runPolicyFmt(cmd.OutOrStdout(), dir, f)
		},
	}
	cmd.Flags().BoolVar(&f.check, "check", false, "list unformatted files and exit 1 instead of rewriting them")
	return cmd
}

func runPolicyFmt(w io.Writer, dir string, f policyFmtFlags) error {
	st, err := os.Stat(dir)
	if err != nil {
		return usageErr(fmt.Errorf("policy fmt: %w", err))
	}
	var files []string
	if st.IsDir() {
		err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && p != dir && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			if !d.IsDir() && strings.HasSuffix(p, ".rego") {
				files = append(files, p)
			}
			return nil
		})
		if err != nil {
			return usageErr(fmt.Errorf("policy fmt: %w", err))
		}
	} else {
		files = []string{dir}
	}
	sort.Strings(files)
	if len(files) == 0 {
		return usageErr(fmt.Errorf("policy fmt: no .rego files under %s", dir))
	}
	var changed []string
	for _, p := range files {
		src, err := os.ReadFile(p)
		if err != nil {
			return usageErr(fmt.Errorf("read %s: %w", p, err))
		}
		out, err := format.SourceWithOpts(p, src, format.Opts{RegoVersion: ast.RegoV1, ParserOptions: &ast.ParserOptions{RegoVersion: ast.RegoV1}})
		if err != nil {
			return usageErr(fmt.Errorf("format %s: %w", p, err))
		}
		if bytes.Equal(src, out) {
			continue
		}
		changed = append(changed, p)
		if !f.check {
			if err := os.WriteFile(p, out, 0o644); err != nil {
				return fmt.Errorf("write %s: %w", p, err)
			}
		}
	}
	for _, p := range changed {
		fmt.Fprintln(w, p)
	}
	if f.check && len(changed) > 0 {
		return checkFailed(fmt.Errorf("%d file(s) need formatting; run modelgate policy fmt %s", len(changed), dir))
	}
	return nil
}

func policyWriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
