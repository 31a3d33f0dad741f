package main

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	"github.com/spf13/cobra"

	"github.com/modelgate/modelgate/internal/audit"
	"github.com/modelgate/modelgate/internal/store"
	"github.com/modelgate/modelgate/internal/store/sqlite"
)

func init() { register(newAuditCmd) }

// auditDefaultDataDir is where `modelgate server` keeps its state.
const auditDefaultDataDir = "./modelgate-data"

func newAuditCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Verify or export the tamper-evident audit trail",
		Long: `Every run transition, decision and approval is appended to a hash chain
(SHA-256, RFC 8785 canonical JSON) with Ed25519-signed checkpoints.
"audit verify" recomputes the chain and checks the signatures against the
database's checkpoints, the checkpoint log beside it and any checkpoint you
saved; "audit checkpoint" prints (or saves) the current signed head; "audit
export" writes the trail as JSON Lines that "audit verify --file" checks anywhere.`,
	}
	cmd.AddCommand(newAuditVerifyCmd(), newAuditCheckpointCmd(), newAuditExportCmd())
	return cmd
}

type auditVerifyFlags struct {
	dataDir       string
	file          string
	publicKey     string
	checkpointLog string
	saved         []string
	interval      time.Duration
	json          bool
}

func newAuditVerifyCmd() *cobra.Command {
	var f auditVerifyFlags
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Check the audit trail's hash chain and signed checkpoints",
		Long: `Recompute the hash chain from seq 1, check that no seq is missing, check
every checkpoint's Ed25519 signature and hash, and name the first bad entry.

Checkpoints are also kept outside the database: the checkpoint log
(DATA-DIR/audit-checkpoints.log, or a witness's copy given with
--checkpoint-log) must agree with the database's, and every checkpoint in it
must match the chain. --checkpoint FILE checks a checkpoint saved earlier
with "modelgate audit checkpoint -o FILE": its head must still be a prefix
of the chain. Entries after the last checkpoint may span at most one and a
half --interval (the server signs every minute by default).

Exit status: 0 intact, 1 tampered (the first bad entry is named), 2 the
trail, a checkpoint file or the key could not be read.`,
		Example: `  modelgate audit verify
  modelgate audit verify --data-dir /var/lib/modelgate --json
  modelgate audit verify --checkpoint ~/modelgate-head-2026-05-01.json
  modelgate audit verify --checkpoint-log /mnt/witness/audit-checkpoints.log
  modelgate audit verify --file audit.jsonl --public-key audit.key.pub`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runAuditVerify(cmd.Context(), cmd, f)
		},
	}
	cmd.Flags().StringVar(&f.dataDir, "data-dir", auditDefaultDataDir, "modelgate data directory (modelgate.db, audit.key.pub)")
	cmd.Flags().StringVar(&f.file, "file", "", "verify an export file (written by modelgate audit export) instead of the database")
	cmd.Flags().StringVar(&f.publicKey, "public-key", "", "Ed25519 public key (PEM, raw, hex or base64); default DATA-DIR/audit.key.pub")
	cmd.Flags().StringVar(&f.checkpointLog, "checkpoint-log", "", "checkpoint log to compare with the database (a witness's copy, say); default DATA-DIR/"+audit.CheckpointLogFileName)
	cmd.Flags().StringArrayVar(&f.saved, "checkpoint", nil, "a checkpoint saved earlier (modelgate audit checkpoint -o FILE) that the chain must still extend; repeatable")
	cmd.Flags().DurationVar(&f.interval, "interval", time.Minute, "the server's checkpoint interval; entries after the last checkpoint may span 1.5 of it (0 = do not check)")
	cmd.Flags().BoolVar(&f.json, "json", false, "print the report as JSON")
	return cmd
}

// readSaved reads the --checkpoint files.
func readSaved(paths []string) ([]store.Checkpoint, error) {
	var out []store.Checkpoint
	for _, p := range paths {
		cps, err := audit.ReadCheckpointFile(p)
		if err != nil {
			return nil, usageErr(err)
		}
		if len(cps) == 0 {
			return nil, usageErr(fmt.Errorf("checkpoints %s: the file holds no checkpoint", p))
		}
		out = append(out, cps...)
	}
	return out, nil
}

// readCheckpointLog reads the checkpoint log; a missing default log is an
// empty one (Verify then reports it missing when the database has
// checkpoints), a missing log named on the command line is a usage error.
func readCheckpointLog(path string, named bool) ([]store.Checkpoint, error) {
	cps, err := audit.ReadCheckpointFile(path)
	if errors.Is(err, fs.ErrNotExist) && !named {
		return nil, nil
	}
	if err != nil {
		return nil, usageErr(err)
	}
	return cps, nil
}

func auditPublicKey(cmd *cobra.Command, flagValue, dataDir string) (ed25519.PublicKey, error) {
	path := flagValue
	if path == "" {
		path = filepath.Join(dataDir, audit.KeyFileName+".pub")
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			if cmd.Flags().Changed("file") {
				return nil, usageErr(fmt.Errorf("--file needs --public-key (no %s)", path))
			}
			return nil, usageErr(fmt.Errorf("no public key at %s; pass --public-key", path))
		}
	}
	pub, err := audit.LoadPublicKey(path)
	if err != nil {
		return nil, usageErr(err)
	}
	return pub, nil
}

// openAuditStore opens the data dir's database, refusing to create one:
// verifying or exporting a trail that is not there is a usage error.
func openAuditStore(ctx context.Context, dataDir string) (*sqlite.Store, error) {
	path := filepath.Join(dataDir, sqlite.FileName)
	if _, err := os.Stat(path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, usageErr(fmt.Errorf("no modelgate data at %s (%s is missing); pass --data-dir", dataDir, sqlite.FileName))
		}
		return nil, usageErr(fmt.Errorf("read %s: %w", path, err))
	}
	st, err := sqlite.Open(ctx, sqlite.Options{Path: path})
	if err != nil {
		return nil, usageErr(err)
	}
	return st, nil
}

func runAuditVerify(ctx context.Context, cmd *cobra.Command, f auditVerifyFlags) error {
	if ctx == nil {
		ctx = context.Background()
	}
	// Verify streams, so its live heap stays at a few MB; collecting less
	// often saves about a sixth of its CPU on a million entries.
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	if f.interval < 0 {
		return usageErr(fmt.Errorf("--interval must be >= 0, got %s", f.interval))
	}
	saved, err := readSaved(f.saved)
	if err != nil {
		return err
	}
	var (
		rep    audit.VerifyReport
		source string
	)
	if f.file != "" {
		pub, err := auditPublicKey(cmd, f.publicKey, f.dataDir)
		if err != nil {
			return err
		}
		x, err := audit.OpenExport(f.file)
		if err != nil {
			return usageErr(err)
		}
		p := audit.VerifyParams{PublicKey: pub, Saved: saved, CheckpointInterval: f.interval}
		if f.checkpointLog != "" {
			if p.LogCheckpoints, err = readCheckpointLog(f.checkpointLog, true); err != nil {
				return err
			}
			p.CheckLog = true
		}
		if rep, err = x.VerifyWith(ctx, p); err != nil {
			return usageErr(err)
		}
		source = f.file
	} else {
		rep, source, err = verifyDataDir(ctx, cmd, f, saved)
		if err != nil {
			return err
		}
	}
	out := cmd.OutOrStdout()
	if f.json {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return fmt.Errorf("write report: %w", err)
		}
	} else {
		printAuditReport(out, source, rep)
	}
	if !rep.Intact {
		return failSilently(1)
	}
	return nil
}

// verifyDataDir verifies the trail in a data dir's database against its
// checkpoints, the checkpoint log and the saved checkpoints.
func verifyDataDir(ctx context.Context, cmd *cobra.Command, f auditVerifyFlags, saved []store.Checkpoint) (audit.VerifyReport, string, error) {
	st, err := openAuditStore(ctx, f.dataDir)
	if err != nil {
		return audit.VerifyReport{}, "", err
	}
	defer st.Close()
	pub, err := auditPublicKey(cmd, f.publicKey, f.dataDir)
	if err != nil {
		return audit.VerifyReport{}, "", err
	}
	logPath := f.checkpointLog
	if logPath == "" {
		logPath = filepath.Join(f.dataDir, audit.CheckpointLogFileName)
	}
	logged, err := readCheckpointLog(logPath, f.checkpointLog != "")
	if err != nil {
		return audit.VerifyReport{}, "", err
	}
	rep, err := audit.Verify(ctx, audit.VerifyParams{Store: st, PublicKey: pub, CheckLog: true, LogCheckpoints: logged,
		Saved: saved, CheckpointInterval: f.interval})
	if err != nil {
		return audit.VerifyReport{}, "", usageErr(err)
	}
	return rep, st.Path(), nil
}

func printAuditReport(w io.Writer, source string, rep audit.VerifyReport) {
	span := "empty"
	if rep.Entries > 0 {
		span = fmt.Sprintf("seq %d..%d", rep.FirstSeq, rep.LastSeq)
	}
	if rep.Intact {
		fmt.Fprintf(w, "audit trail intact: %d entries (%s) in %s\n", rep.Entries, span, source)
	} else {
		fmt.Fprintf(w, "audit trail TAMPERED: %d entries (%s) in %s\n", rep.Entries, span, source)
		fmt.Fprintf(w, "first bad entry: seq %d: %s: %s\n", rep.FirstBad.Seq, rep.FirstBad.Kind, rep.FirstBad.Message)
	}
	if rep.Partial {
		fmt.Fprintf(w, "partial export: entries before seq %d were not checked\n", rep.FirstSeq)
	}
	if rep.HeadHash != "" {
		fmt.Fprintf(w, "head hash: %s\n", rep.HeadHash)
	}
	fmt.Fprintf(w, "checkpoints: %d of %d verified with key %s", rep.CheckpointsVerified, rep.Checkpoints, rep.KeyID)
	if rep.LastSignedSeq > 0 {
		fmt.Fprintf(w, ", last signed at seq %d", rep.LastSignedSeq)
	}
	fmt.Fprintln(w)
	if rep.LogCheckpoints > 0 {
		fmt.Fprintf(w, "checkpoint log: %d of %d match the chain\n", rep.LogCheckpointsVerified, rep.LogCheckpoints)
	}
	if rep.SavedCheckpoints > 0 {
		fmt.Fprintf(w, "saved checkpoints: %d of %d are a prefix of the chain\n", rep.SavedCheckpointsVerified, rep.SavedCheckpoints)
	}
	if rep.Unsigned > 0 {
		fmt.Fprintf(w, "warning: the last %d entries are not covered by a signed checkpoint yet; deleting them would go unnoticed\n", rep.Unsigned)
	}
	if len(rep.Problems) > 1 {
		fmt.Fprintf(w, "problems (%d%s):\n", len(rep.Problems), map[bool]string{true: ", list truncated"}[rep.ProblemsTruncated])
		for _, p := range rep.Problems {
			fmt.Fprintf(w, "  seq %-8d %-22s %s\n", p.Seq, p.Kind, p.Message)
		}
	}
}

type auditExportFlags struct {
	dataDir string
	out     string
	since   int64
}

func newAuditExportCmd() *cobra.Command {
	var f auditExportFlags
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Write the audit trail as JSON Lines (entries, then signed checkpoints)",
		Long: `Write a consistent snapshot of the trail: a header line, one {"entry":...}
line per entry in seq order, then one {"checkpoint":...} line per signed
checkpoint. "modelgate audit verify --file" checks the result with the public
key alone. With --since SEQ only later entries are written; the header carries
the hash of entry SEQ so that the chain can still be checked.`,
		Example: `  modelgate audit export -o audit.jsonl
  modelgate audit export --since 100000 > recent.jsonl`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runAuditExport(cmd.Context(), cmd, f)
		},
	}
	cmd.Flags().StringVar(&f.dataDir, "data-dir", auditDefaultDataDir, "modelgate data directory (modelgate.db)")
	cmd.Flags().StringVarP(&f.out, "output", "o", "-", "output file; - for stdout")
	cmd.Flags().Int64Var(&f.since, "since", 0, "export only entries with seq greater than this")
	return cmd
}

func runAuditExport(ctx context.Context, cmd *cobra.Command, f auditExportFlags) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if f.since < 0 {
		return usageErr(fmt.Errorf("--since must be >= 0, got %d", f.since))
	}
	st, err := openAuditStore(ctx, f.dataDir)
	if err != nil {
		return err
	}
	defer st.Close()

	w := cmd.OutOrStdout()
	var file *os.File
	if f.out != "-" && f.out != "" {
		// Write next to the target and rename, so that a failed export never
		// leaves a truncated file that looks like a cut trail.
		file, err = os.CreateTemp(filepath.Dir(f.out), "."+filepath.Base(f.out)+".*")
		if err != nil {
			return usageErr(fmt.Errorf("create %s: %w", f.out, err))
		}
		defer func() {
			if file != nil {
				_ = file.Close()
				_ = os.Remove(file.Name())
			}
		}()
		w = file
	}
	sum, err := audit.Export(ctx, w, audit.ExportParams{Store: st, Since: f.since})
	if err != nil {
		if errors.Is(err, audit.ErrBadSince) {
			return usageErr(err)
		}
		return err
	}
	if file != nil {
		if err := file.Close(); err != nil {
			return fmt.Errorf("write %s: %w", f.out, err)
		}
		if err := os.Rename(file.Name(), f.out); err != nil {
			return fmt.Errorf("write %s: %w", f.out, err)
		}
		file = nil
		fmt.Fprintf(cmd.ErrOrStderr(), "exported %d entries and %d checkpoints (up to seq %d) to %s\n",
			sum.Entries, sum.Checkpoints, sum.HeadSeq, f.out)
	}
	return nil
}

type auditCheckpointFlags struct {
	dataDir   string
	publicKey string
	out       string
}

func newAuditCheckpointCmd() *cobra.Command {
	var f auditCheckpointFlags
	cmd := &cobra.Command{
		Use:   "checkpoint",
		Short: "Print or save the current signed head of the audit trail",
		Long: `Verify the trail (as "audit verify" does), then print its newest signed
checkpoint as one JSON line: {"seq","hash","time","key_id","signature"}.
Keep it somewhere the server cannot write (a ticket, a repository, e-mail):
"modelgate audit verify --checkpoint FILE" later proves that the chain still
extends it, even against someone who rewrote the database and its log.

Exit status: 0 printed, 1 the trail is not intact or has no checkpoint yet,
2 the trail or key could not be read.`,
		Example: `  modelgate audit checkpoint
  modelgate audit checkpoint -o head-$(date +%F).json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runAuditCheckpoint(cmd.Context(), cmd, f)
		},
	}
	cmd.Flags().StringVar(&f.dataDir, "data-dir", auditDefaultDataDir, "modelgate data directory (modelgate.db, audit.key.pub, audit-checkpoints.log)")
	cmd.Flags().StringVar(&f.publicKey, "public-key", "", "Ed25519 public key; default DATA-DIR/audit.key.pub")
	cmd.Flags().StringVarP(&f.out, "output", "o", "-", "file to save the checkpoint to; - for stdout")
	return cmd
}

func runAuditCheckpoint(ctx context.Context, cmd *cobra.Command, f auditCheckpointFlags) error {
	if ctx == nil {
		ctx = context.Background()
	}
	rep, source, err := verifyDataDir(ctx, cmd, auditVerifyFlags{dataDir: f.dataDir, publicKey: f.publicKey, interval: time.Minute}, nil)
	if err != nil {
		return err
	}
	if !rep.Intact {
		// Saving the head of a trail that does not verify would make a
		// forged chain look vouched for.
		printAuditReport(cmd.ErrOrStderr(), source, rep)
		return failSilently(1)
	}
	if rep.LastSignedSeq == 0 {
		fmt.Fprintf(cmd.ErrOrStderr(), "the audit trail in %s has no signed checkpoint yet\n", source)
		return failSilently(1)
	}
	st, err := openAuditStore(ctx, f.dataDir)
	if err != nil {
		return err
	}
	defer st.Close()
	cps, err := st.AuditCheckpointList(ctx)
	if err != nil {
		return fmt.Errorf("read checkpoints: %w", err)
	}
	var head *store.Checkpoint
	for i := range cps {
		if cps[i].Seq == rep.LastSignedSeq {
			head = &cps[i]
		}
	}
	if head == nil {
		return fmt.Errorf("checkpoint at seq %d verified but is gone from %s: the database changed while it was read", rep.LastSignedSeq, source)
	}
	line, err := audit.MarshalCheckpoint(*head)
	if err != nil {
		return err
	}
	if f.out == "-" || f.out == "" {
		if _, err := cmd.OutOrStdout().Write(line); err != nil {
			return fmt.Errorf("write checkpoint: %w", err)
		}
	} else if err := writeFileAtomic(f.out, line); err != nil {
		return err
	}
	msg := fmt.Sprintf("signed head: seq %d, hash %s, signed %s with key %s", head.Seq, head.Hash, head.Time.Format(time.RFC3339), head.KeyID)
	if rep.Unsigned > 0 {
		msg += fmt.Sprintf(" (%d newer entries are not signed yet)", rep.Unsigned)
	}
	if f.out != "-" && f.out != "" {
		msg += "; saved to " + f.out
	}
	fmt.Fprintln(cmd.ErrOrStderr(), msg)
	return nil
}

// writeFileAtomic writes b to path through a temp file and a rename, so
// that a failed write never leaves half a checkpoint behind.
func writeFileAtomic(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return usageErr(fmt.Errorf("create %s: %w", path, err))
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
