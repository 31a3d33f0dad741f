package scan

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/charmbracelet/log"

	"github.com/modelgate/modelgate/tools/scan/pickle"
)

// Verdicts of a file.
const (
	Safe    = "safe"
	Unsafe  = "unsafe"
	Invalid = "invalid"
)

// Severities of a finding (the same words as agents.Severity).
const (
	Critical = "critical"
	High     = "high"
	Medium   = "medium"
	Low      = "low"
	Info     = "info"
)

// Finding is one problem in one file.
type Finding struct {
	Severity string `json:"severity"`
	Code     string `json:"code"`
	Message  string `json:"message"`
	Location string `json:"location"` // "offset 37", "archive/data.pkl offset 37", "tensor \"w\"", "line 3"
	// Module and Name are set for pickle imports (not part of the CLI JSON).
	Module string `json:"-"`
	Name   string `json:"-"`
	Offset int64  `json:"-"`
	// reason marks the finding that made the file invalid: it is graded
	// high for policies but does not make the file unsafe.
	reason bool
}

// Reason reports whether the finding is why the file is invalid.
func (f Finding) Reason() bool { return f.reason }

// Result is the scan of one file.
type Result struct {
	Path     string    `json:"path"`
	Format   string    `json:"format"`
	SHA256   string    `json:"sha256"`
	Size     int64     `json:"size"`
	Verdict  string    `json:"verdict"`
	Findings []Finding `json:"findings"`
	// external lists data files an ONNX model references (relative to
	// the model's folder), so that Paths can recognise them.
	external []string
}

// Summary counts verdicts.
type Summary struct {
	Safe    int `json:"safe"`
	Unsafe  int `json:"unsafe"`
	Invalid int `json:"invalid"`
}

// Report is the scan of several paths.
type Report struct {
	Files   []Result `json:"files"`
	Summary Summary  `json:"summary"`
	// AllowExtensions lists the user's additions to the pickle allowlist
	// that were in force: they win over every rule, so a reviewer must
	// see them next to the verdicts they produced.
	AllowExtensions []string `json:"allow_extensions,omitempty"`
}

// OK reports whether every file is safe.
func (r Report) OK() bool { return r.Summary.Unsafe == 0 && r.Summary.Invalid == 0 }

// Options configures a scan. The zero value scans with the default
// allowlist and limits.
type Options struct {
	Policy       *pickle.Policy // nil: pickle.Default
	AllowUnknown bool           // unknown binary formats are safe (with an info finding) instead of invalid
	MaxSize      int64          // bytes per file; 0 means no limit
	MaxMembers   int            // entries per archive; 0 means DefaultMaxMembers
	MaxRatio     int64          // compression ratio per archive member; 0 means DefaultMaxRatio
	Secrets      *bool          // look for secrets in configs and metadata; nil means yes
	Logger       *log.Logger
}

// Defaults for archive limits. A PyTorch checkpoint holds one member per
// tensor storage, so thousands are normal; ten thousand is a zip bomb's
// count, not a model's.
const (
	DefaultMaxMembers = 5000
	DefaultMaxRatio   = 200
)

func (o Options) policy() *pickle.Policy {
	if o.Policy == nil {
		return pickle.Default
	}
	return o.Policy
}

func (o Options) maxMembers() int {
	if o.MaxMembers <= 0 {
		return DefaultMaxMembers
	}
	return o.MaxMembers
}

func (o Options) maxRatio() int64 {
	if o.MaxRatio <= 0 {
		return DefaultMaxRatio
	}
	return o.MaxRatio
}

func (o Options) secrets() bool { return o.Secrets == nil || *o.Secrets }

func (o Options) log() *log.Logger {
	if o.Logger != nil {
		return o.Logger
	}
	return log.Default()
}

// File scans one file. The error is for files that cannot be read at
// all (missing, a folder, permission); a malformed file is a Result with
// verdict invalid.
func File(ctx context.Context, path string, o Options) (Result, error) {
	res := Result{Path: path, Findings: []Finding{}}
	f, err := os.Open(path)
	if err != nil {
		return res, fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return res, fmt.Errorf("stat %s: %w", path, err)
	}
	if st.IsDir() {
		return res, fmt.Errorf("scan %s: is a folder (use Paths)", path)
	}
	res.Size = st.Size()
	if o.MaxSize > 0 && res.Size > o.MaxSize {
		res.Format = "unknown"
		res.add(Finding{Severity: High, Code: "scan.size", reason: true, Message: fmt.Sprintf("file is %d bytes, over the limit of %d", res.Size, o.MaxSize)})
		res.Verdict = Invalid
		// the digest still identifies the file in the manifest
		res.SHA256, err = hashFile(ctx, f, res.Size)
		return res, err
	}
	// Hash on its own reader while the format is parsed: the two read
	// the same pages, and on two cores hashing hides behind parsing.
	type hashOut struct {
		sum string
		err error
	}
	hc := make(chan hashOut, 1)
	go func() {
		s, err := hashFile(ctx, f, res.Size)
		hc <- hashOut{s, err}
	}()
	sc := &scanner{ctx: ctx, o: o, res: &res}
	invalid := sc.scanFile(f, res.Size)
	h := <-hc
	if h.err != nil {
		return res, h.err
	}
	res.SHA256 = h.sum
	if err := ctx.Err(); err != nil {
		return res, err
	}
	res.Verdict = verdict(res.Findings, invalid)
	sort.SliceStable(res.Findings, func(i, j int) bool {
		return rank(res.Findings[i].Severity) > rank(res.Findings[j].Severity)
	})
	o.log().Debug("scanned", "path", path, "format", res.Format, "verdict", res.Verdict, "findings", len(res.Findings))
	return res, nil
}

// verdict: unsafe wins over invalid because a pickle runs its REDUCEs
// before the loader notices that the stream is cut short.
func verdict(fs []Finding, invalid bool) string {
	for _, f := range fs {
		if f.Severity == Critical || f.Severity == High {
			if !f.reason {
				return Unsafe
			}
		}
	}
	if invalid {
		return Invalid
	}
	return Safe
}

func rank(s string) int { return pickle.Severity(s).Rank() }

const bufSize = 1 << 20

// bufFor sizes a read buffer: large files stream in 1 MiB reads, small
// ones do not pay for zeroing a megabyte.
func bufFor(size int64) int {
	return int(max(min(size, bufSize), 4096))
}

func hashFile(ctx context.Context, f io.ReaderAt, size int64) (string, error) {
	h := sha256.New()
	buf := make([]byte, bufFor(size))
	var off int64
	for off < size {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		n, err := f.ReadAt(buf[:min(int64(len(buf)), size-off)], off)
		h.Write(buf[:n])
		off += int64(n)
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return "", fmt.Errorf("hash at offset %d: %w", off, err)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func (r *Result) add(f Finding) { r.Findings = append(r.Findings, f) }

// Reader scans content held by r (size bytes) as File scans a file;
// path only names it in the result. It is what the fuzz targets drive.
func Reader(ctx context.Context, path string, r io.ReaderAt, size int64, o Options) (Result, error) {
	res := Result{Path: path, Size: size, Findings: []Finding{}}
	sum, err := hashFile(ctx, r, size)
	if err != nil {
		return res, err
	}
	res.SHA256 = sum
	sc := &scanner{ctx: ctx, o: o, res: &res}
	res.Verdict = verdict(res.Findings, sc.scanFile(r, size))
	return res, nil
}

// Paths scans files and folders (recursively, in lexical order). Paths
// in the report are as given, joined with the relative path inside a
// folder. Symbolic links inside folders are reported, not followed: a
// link can point outside the artifact.
func Paths(ctx context.Context, paths []string, o Options) (Report, error) {
	rep := Report{Files: []Result{}}
	if ext := o.policy().Extensions(); len(ext) > 0 {
		rep.AllowExtensions = ext
	}
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return rep, fmt.Errorf("scan %s: %w", p, err)
		}
		// A root given as a link to a folder (models/current -> v3) is
		// walked where it points; links inside it are still reported.
		root := p
		if lst, err := os.Lstat(p); err == nil && lst.Mode()&fs.ModeSymlink != 0 && st.IsDir() {
			if root, err = filepath.EvalSymlinks(p); err != nil {
				return rep, fmt.Errorf("scan %s: %w", p, err)
			}
		}
		if !st.IsDir() {
			r, err := File(ctx, p, o)
			if err != nil {
				return rep, err
			}
			rep.addResult(r)
			continue
		}
		start := len(rep.Files)
		err = filepath.WalkDir(root, func(walked string, d fs.DirEntry, err error) error {
			if err != nil {
				return fmt.Errorf("walk %s: %w", walked, err)
			}
			path := walked
			if root != p {
				rel, _ := filepath.Rel(root, walked)
				path = filepath.Join(p, rel)
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			if d.Type()&fs.ModeSymlink != 0 {
				rep.addResult(Result{Path: path, Format: "symlink", Verdict: Unsafe, Findings: []Finding{{
					Severity: High, Code: "scan.symlink", Location: path,
					Message: "symbolic link inside the artifact; it can point anywhere on the machine that loads it"}}})
				return nil
			}
			if d.IsDir() || !d.Type().IsRegular() {
				return nil
			}
			r, err := File(ctx, walked, o)
			if err != nil {
				return err
			}
			r.Path = path
			rep.addResult(r)
			return nil
		})
		if err != nil {
			return rep, err
		}
		rep.resolveExternal(start)
	}
	return rep, nil
}

// resolveExternal marks the raw tensor files that ONNX models of the
// same folder tree reference as external data: they have no format of
// their own and would otherwise be unknown, hence invalid.
func (rep *Report) resolveExternal(start int) {
	byPath := map[string]int{}
	for i := start; i < len(rep.Files); i++ {
		byPath[filepath.Clean(rep.Files[i].Path)] = i
	}
	for i := start; i < len(rep.Files); i++ {
		for _, loc := range rep.Files[i].external {
			j, ok := byPath[filepath.Join(filepath.Dir(rep.Files[i].Path), filepath.FromSlash(loc))]
			if !ok || rep.Files[j].Format != "unknown" || rep.Files[j].Verdict != Invalid {
				continue
			}
			d := &rep.Files[j]
			rep.Summary.Invalid--
			rep.Summary.Safe++
			d.Format, d.Verdict = "onnx-external-data", Safe
			d.Findings = []Finding{{Severity: Info, Code: "scan.onnx.external_data",
				Message: "raw tensor data referenced by " + rep.Files[i].Path}}
		}
	}
}

func (rep *Report) addResult(r Result) {
	rep.Files = append(rep.Files, r)
	switch r.Verdict {
	case Safe:
		rep.Summary.Safe++
	case Unsafe:
		rep.Summary.Unsafe++
	default:
		rep.Summary.Invalid++
	}
}
