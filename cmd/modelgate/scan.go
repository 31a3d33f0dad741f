package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/modelgate/modelgate/internal/config"
	"github.com/modelgate/modelgate/tools/scan"
	"github.com/modelgate/modelgate/tools/scan/pickle"
)

func init() { register(newScanCmd) }

type scanFlags struct {
	json         bool
	allow        []string
	deny         []string
	allowUnknown bool
	maxSize      string
	maxMembers   int
	noSecrets    bool
}

func newScanCmd() *cobra.Command {
	var f scanFlags
	cmd := &cobra.Command{
		Use:   "scan PATH...",
		Short: "Scan model artifacts for code execution, malformed structure and leaked secrets",
		Long: `Scan model files and folders (recursively). Formats are recognised by content:
pickle (protocols 0-5), joblib, PyTorch zip and legacy checkpoints, numpy .npy/.npz,
safetensors, ONNX, Keras (.keras, .h5), GGUF, XGBoost JSON, JSON and text configs.

Pickles are analysed by an opcode walker, never loaded. Every import outside the
exact allowlist of globals real model files use (generated from scikit-learn, xgboost,
pandas, numpy and scipy) is at least high; code-executing globals, and re-exports that
resolve to them, are critical.

Exit code: 0 all files safe, 1 any file unsafe or invalid, 2 bad usage or unreadable path.`,
		Example: `  modelgate scan model.pt
  modelgate scan ./model-dir --json
  modelgate scan model.pkl --allow mypkg.features.Scaler --allow mypkg.models.Ranker`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runScan(cmd, args, f)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&f.json, "json", false, "print the report as JSON")
	fl.StringArrayVar(&f.allow, "allow", nil, "allow one pickle global by its exact name, module.qualname (repeatable; listed in the report)")
	fl.StringArrayVar(&f.deny, "deny", nil, "grade a pickle global critical, module.name or module.* (repeatable)")
	fl.BoolVar(&f.allowUnknown, "allow-unknown", false, "accept files whose format is not recognised instead of marking them invalid")
	fl.StringVar(&f.maxSize, "max-size", "", "largest file accepted, e.g. 20GB (default: no limit)")
	fl.IntVar(&f.maxMembers, "max-members", scan.DefaultMaxMembers, "most members accepted in one archive")
	fl.BoolVar(&f.noSecrets, "no-secrets", false, "do not look for credentials in configs and metadata")
	return cmd
}

func runScan(cmd *cobra.Command, args []string, f scanFlags) error {
	pol, err := pickle.NewPolicy(pickle.PolicyParams{Allow: f.allow, Deny: f.deny})
	if err != nil {
		return usageErr(err)
	}
	o := scan.Options{Policy: pol, AllowUnknown: f.allowUnknown, MaxMembers: f.maxMembers}
	if f.maxMembers <= 0 {
		return usageErr(fmt.Errorf("--max-members must be positive, got %d", f.maxMembers))
	}
	if f.maxSize != "" {
		n, err := config.ParseByteSize(f.maxSize)
		if err != nil {
			return usageErr(fmt.Errorf("--max-size: %w", err))
		}
		o.MaxSize = int64(n)
	}
	if f.noSecrets {
		no := false
		o.Secrets = &no
	}
	for _, p := range args {
		if _, err := os.Stat(p); err != nil {
			return usageErr(fmt.Errorf("scan: %w", err))
		}
	}
	rep, err := scan.Paths(cmd.Context(), args, o)
	if err != nil {
		return usageErr(err)
	}
	out := cmd.OutOrStdout()
	if f.json {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return fmt.Errorf("write report: %w", err)
		}
	} else {
		printScan(out, rep)
	}
	if !rep.OK() {
		return failSilently(1)
	}
	return nil
}

func printScan(w io.Writer, rep scan.Report) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VERDICT\tFORMAT\tSIZE\tSHA256\tPATH")
	for _, r := range rep.Files {
		sum := r.SHA256
		if len(sum) > 12 {
			sum = sum[:12]
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", r.Verdict, r.Format, r.Size, sum, r.Path)
	}
	tw.Flush()
	for _, r := range rep.Files {
		if len(r.Findings) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s (%s):\n", r.Path, r.Verdict)
		for _, fd := range r.Findings {
			at := ""
			if fd.Location != "" {
				at = " at " + fd.Location
			}
			fmt.Fprintf(w, "  %-8s %s%s: %s\n", fd.Severity, fd.Code, at, fd.Message)
		}
	}
	for _, e := range rep.AllowExtensions {
		fmt.Fprintf(w, "\nallowlist extended by --allow: %s", e)
	}
	fmt.Fprintf(w, "\n%d safe, %d unsafe, %d invalid\n", rep.Summary.Safe, rep.Summary.Unsafe, rep.Summary.Invalid)
}
