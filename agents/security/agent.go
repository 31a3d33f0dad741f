package security

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/charmbracelet/log"

	"github.com/modelgate/modelgate/agents"
	"github.com/modelgate/modelgate/internal/config"
	"github.com/modelgate/modelgate/tools/scan"
	"github.com/modelgate/modelgate/tools/scan/pickle"
	"github.com/modelgate/modelgate/tools/sign"
)

// Stage is the pipeline stage this agent serves.
const Stage = "scan"

// Options configures the agent. The zero value is ready to use.
type Options struct {
	Logger *log.Logger // used when the task carries none
}

// Agent scans a candidate's artifact, checks its digest and signature,
// and reports. It never decides promotion: the policy reads its metrics
// and findings.
type Agent struct {
	o Options
}

// New returns a security agent.
func New(o Options) *Agent { return &Agent{o: o} }

// Name is the agent's name in reports and policies.
func (a *Agent) Name() string { return "security" }

var _ agents.Agent = (*Agent)(nil)

// Details is the agent's structured result, in Report.Details.
type Details struct {
	Scan           scan.Report `json:"scan"`
	ManifestDigest string      `json:"manifest_digest,omitempty"`
	Signature      *SigResult  `json:"signature,omitempty"`
}

// SigResult says what signature verification found.
type SigResult struct {
	Required bool     `json:"required"`
	Path     string   `json:"path"`
	KeyID    string   `json:"key_id,omitempty"`
	Verified bool     `json:"verified"`
	Problems []string `json:"problems,omitempty"`
}

// Run scans task.Candidate.ArtifactPath (a file or a folder). It returns
// an error only when it cannot do its work: the artifact or the public
// key cannot be read, or the security config is unusable.
func (a *Agent) Run(ctx context.Context, task agents.Task) (agents.Report, error) {
	lg := task.Logger
	if lg == nil {
		lg = a.o.Logger
	}
	if lg == nil {
		lg = log.Default()
	}
	stage := task.Stage
	if stage == "" {
		stage = Stage
	}
	rep := agents.Report{Agent: a.Name(), Stage: stage, Verdict: agents.Pass, Metrics: map[string]float64{}, Findings: []agents.Finding{}}
	var cfg config.Security
	if task.Config != nil {
		cfg = task.Config.Security
	}
	root := task.Candidate.ArtifactPath
	if root == "" {
		rep.Verdict = agents.Warn
		rep.Findings = append(rep.Findings, finding(agents.Low, "scan.no_artifact", "",
			"the candidate is only an endpoint: there is no artifact to scan, digest or verify", nil))
		rep.Metrics["scan.files"] = 0
		rep.Summary = "Nothing scanned: the candidate is served at " + nonEmpty(task.Candidate.Endpoint, "an endpoint") + " and has no artifact file."
		return rep, nil
	}
	if _, err := os.Stat(root); err != nil {
		return rep, fmt.Errorf("security agent: artifact: %w", err)
	}
	pol, err := pickle.NewPolicy(pickle.PolicyParams{Allow: cfg.Allow, Deny: cfg.Deny})
	if err != nil {
		return rep, fmt.Errorf("security agent: security config: %w", err)
	}
	secrets := cfg.ScanSecrets()
	opts := scan.Options{Policy: pol, AllowUnknown: cfg.AllowUnknownFormats, MaxMembers: cfg.MaxArchiveMembers,
		Secrets: &secrets, Logger: lg}
	lg.Info("scanning artifact", "path", root)
	sr, err := scan.Paths(ctx, []string{root}, opts)
	if err != nil {
		return rep, fmt.Errorf("security agent: %w", err)
	}
	det := Details{Scan: sr}
	a.fileFindings(&rep, sr)
	rep.Metrics["scan.allow.extensions"] = float64(len(sr.AllowExtensions))
	for _, e := range sr.AllowExtensions {
		// an extension wins over every rule, the denylist included: the
		// report says so once per entry, whether or not a file used it
		rep.Findings = append(rep.Findings, finding(agents.Info, "scan.allow.extension", root,
			"security.allow adds "+e+" to the pickle allowlist; imports of it are not flagged", map[string]any{"global": e}))
	}

	sigPath := ""
	if cfg.RequireSignature || cfg.PublicKey != "" {
		sigPath = task.Path(cfg.Signature)
		if sigPath == "" && task.Config != nil && task.Config.Train == nil && task.Config.Candidate.Artifact != "" {
			// Beside the file the config named: the artifact itself is
			// judged from the run's snapshot, where no signature lies.
			sigPath = sign.DefaultSignaturePath(task.Path(task.Config.Candidate.Artifact))
		}
		if sigPath == "" {
			sigPath = sign.DefaultSignaturePath(root)
		}
	}
	m, err := manifestOf(root, sr, sigPath)
	if err != nil {
		rep.Findings = append(rep.Findings, finding(agents.High, "scan.manifest", root, "no manifest: "+err.Error(), nil))
	} else {
		det.ManifestDigest = m.Digest()
		rep.Metrics["scan.bytes"] = float64(m.Size())
		a.checkSize(&rep, cfg, m, root)
		a.checkDigest(&rep, task.Candidate.Digest, root, m)
		if sigPath != "" {
			res, err := a.checkSignature(&rep, task, cfg, sigPath, m)
			if err != nil {
				return rep, err
			}
			det.Signature = res
		}
	}
	a.finish(&rep, sr, det, task)
	lg.Info("scan finished", "verdict", rep.Verdict, "files", len(sr.Files), "unsafe", sr.Summary.Unsafe, "invalid", sr.Summary.Invalid)
	return rep, nil
}

func (a *Agent) fileFindings(rep *agents.Report, sr scan.Report) {
	for _, f := range sr.Files {
		for _, fd := range f.Findings {
			ev := map[string]any{"format": f.Format, "sha256": f.SHA256, "verdict": f.Verdict}
			if fd.Location != "" {
				ev["location"] = fd.Location
			}
			if fd.Module != "" || fd.Name != "" {
				ev["module"], ev["name"], ev["offset"] = fd.Module, fd.Name, fd.Offset
			}
			rep.Findings = append(rep.Findings, finding(agents.Severity(fd.Severity), fd.Code, f.Path, fd.Message, ev))
		}
	}
}

// manifestOf reuses the scan's digests instead of hashing twice.
func manifestOf(root string, sr scan.Report, sigPath string) (sign.Manifest, error) {
	st, err := os.Stat(root)
	if err != nil {
		return sign.Manifest{}, err
	}
	sigAbs, _ := filepath.Abs(sigPath)
	var entries []sign.Entry
	for _, f := range sr.Files {
		if f.Format == "symlink" {
			return sign.Manifest{}, fmt.Errorf("%s is a symbolic link", f.Path)
		}
		if abs, _ := filepath.Abs(f.Path); sigPath != "" && abs == sigAbs {
			continue
		}
		rel := filepath.Base(f.Path)
		if st.IsDir() {
			if rel, err = filepath.Rel(root, f.Path); err != nil {
				return sign.Manifest{}, err
			}
		}
		entries = append(entries, sign.Entry{Path: filepath.ToSlash(rel), SHA256: f.SHA256, Size: f.Size})
	}
	return sign.NewManifest(entries)
}

func (a *Agent) checkSize(rep *agents.Report, cfg config.Security, m sign.Manifest, root string) {
	if cfg.MaxSize > 0 && m.Size() > int64(cfg.MaxSize) {
		rep.Findings = append(rep.Findings, finding(agents.High, "scan.size", root,
			fmt.Sprintf("artifact is %d bytes, over security.max_size of %d", m.Size(), int64(cfg.MaxSize)),
			map[string]any{"size": m.Size(), "max_size": int64(cfg.MaxSize)}))
	}
}

// checkDigest compares the digest the coordinator recorded when the
// candidate was trained or registered: a file's SHA-256, or a folder's
// manifest digest.
func (a *Agent) checkDigest(rep *agents.Report, want, root string, m sign.Manifest) {
	if want == "" {
		return
	}
	got := []string{m.Digest()}
	if len(m.Files) == 1 {
		if st, err := os.Stat(root); err == nil && !st.IsDir() {
			got = []string{"sha256:" + m.Files[0].SHA256}
		}
	}
	match := false
	for _, g := range got {
		match = match || strings.EqualFold(strings.TrimPrefix(want, "sha256:"), strings.TrimPrefix(g, "sha256:"))
	}
	if !match {
		rep.Findings = append(rep.Findings, finding(agents.Critical, "scan.digest", root,
			"the artifact is not the one recorded for this candidate (digest differs)",
			map[string]any{"want": want, "got": got[0]}))
	}
	rep.Metrics["scan.digest.match"] = boolMetric(match)
}

func (a *Agent) checkSignature(rep *agents.Report, task agents.Task, cfg config.Security, sigPath string, m sign.Manifest) (*SigResult, error) {
	res := &SigResult{Required: cfg.RequireSignature, Path: sigPath}
	rep.Metrics["scan.signature.required"] = boolMetric(cfg.RequireSignature)
	rep.Metrics["scan.signature.verified"] = 0
	sev := agents.Critical
	if !cfg.RequireSignature {
		sev = agents.High
	}
	if cfg.PublicKey == "" {
		return nil, errors.New("security agent: security.require_signature needs security.public_key")
	}
	pub, err := sign.LoadPublicKey(task.Path(cfg.PublicKey))
	if err != nil {
		return nil, fmt.Errorf("security agent: %w", err)
	}
	res.KeyID = sign.KeyID(pub)
	signed, err := sign.ReadSigned(sigPath)
	if err != nil {
		if !cfg.RequireSignature && errors.Is(err, os.ErrNotExist) {
			delete(rep.Metrics, "scan.signature.verified")
			return nil, nil // nothing to verify and nothing required
		}
		res.Problems = []string{err.Error()}
		rep.Findings = append(rep.Findings, finding(sev, "scan.signature", sigPath,
			"the artifact has no usable signature: "+err.Error(), map[string]any{"key_id": res.KeyID}))
		return res, nil
	}
	if err := sign.Verify(signed, pub, m); err != nil {
		var ve *sign.VerifyError
		if errors.As(err, &ve) {
			res.Problems = ve.Problems
		}
		rep.Findings = append(rep.Findings, finding(sev, "scan.signature", sigPath, err.Error(),
			map[string]any{"key_id": res.KeyID, "problems": res.Problems}))
		return res, nil
	}
	res.Verified = true
	rep.Metrics["scan.signature.verified"] = 1
	rep.Findings = append(rep.Findings, finding(agents.Info, "scan.signature.ok", sigPath,
		fmt.Sprintf("signature by key %s verified over %d file(s)", res.KeyID, len(m.Files)), map[string]any{"key_id": res.KeyID}))
	return res, nil
}

func (a *Agent) finish(rep *agents.Report, sr scan.Report, det Details, task agents.Task) {
	rep.Metrics["scan.files"] = float64(len(sr.Files))
	rep.Metrics["scan.safe"] = float64(sr.Summary.Safe)
	rep.Metrics["scan.unsafe"] = float64(sr.Summary.Unsafe)
	rep.Metrics["scan.invalid"] = float64(sr.Summary.Invalid)
	counts := map[agents.Severity]int{}
	for _, f := range rep.Findings {
		counts[f.Severity]++
	}
	for _, s := range []agents.Severity{agents.Critical, agents.High, agents.Medium, agents.Low, agents.Info} {
		rep.Metrics["scan.findings."+string(s)] = float64(counts[s])
	}
	switch {
	case sr.Summary.Unsafe > 0 || sr.Summary.Invalid > 0 || counts[agents.Critical] > 0 || counts[agents.High] > 0:
		rep.Verdict = agents.Fail
	case counts[agents.Medium] > 0 || counts[agents.Low] > 0:
		rep.Verdict = agents.Warn
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Scanned %d file(s): %d safe, %d unsafe, %d invalid; %d critical and %d high finding(s).",
		len(sr.Files), sr.Summary.Safe, sr.Summary.Unsafe, sr.Summary.Invalid, counts[agents.Critical], counts[agents.High])
	for _, f := range rep.Findings {
		if f.Severity == agents.Critical || f.Severity == agents.High {
			fmt.Fprintf(&b, " First: %s in %s: %s.", f.Code, f.Subject, strings.TrimSuffix(f.Message, "."))
			break
		}
	}
	if det.Signature != nil {
		if det.Signature.Verified {
			fmt.Fprintf(&b, " Signature verified (key %s).", det.Signature.KeyID)
		} else {
			b.WriteString(" Signature NOT verified.")
		}
	}
	if det.ManifestDigest != "" {
		fmt.Fprintf(&b, " Manifest %s.", det.ManifestDigest)
	}
	rep.Summary = b.String()
	if raw, err := json.Marshal(det); err == nil {
		rep.Details = raw
	}
	if task.WorkDir != "" {
		if ref, err := writeArtifact(task.WorkDir, "scan-report.json", det); err == nil {
			rep.Artifacts = append(rep.Artifacts, ref)
		} else {
			task.Log().Warn("could not write the scan report", "err", err)
		}
	}
}

func writeArtifact(dir, name string, v any) (agents.ArtifactRef, error) {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return agents.ArtifactRef{}, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return agents.ArtifactRef{}, err
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		return agents.ArtifactRef{}, err
	}
	s := sha256.Sum256(data)
	return agents.ArtifactRef{Name: name, Path: p, SHA256: hex.EncodeToString(s[:]), Size: int64(len(data)), MediaType: "application/json"}, nil
}

// finding builds an agents.Finding with a stable ID (same problem, same
// ID across runs) so that reviewers can track it.
func finding(sev agents.Severity, code, subject, msg string, ev map[string]any) agents.Finding {
	loc, _ := ev["location"].(string)
	h := sha256.Sum256([]byte(code + "\x00" + subject + "\x00" + loc + "\x00" + msg))
	return agents.Finding{ID: "scan-" + hex.EncodeToString(h[:6]), Severity: sev, Code: code, Message: msg, Subject: subject, Evidence: ev}
}

func boolMetric(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func nonEmpty(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
