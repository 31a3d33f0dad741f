package oversight

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/cover"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/tester"
	"gopkg.in/yaml.v3"

	"github.com/modelgate/modelgate/policies"
)

// Queries the engine prepares. A bundle must define both rules.
const (
	PromotionQuery = "data.modelgate.promotion.decision"
	AuthzQuery     = "data.modelgate.authz.allow"
)

// maxBundleFile bounds each file we read so that a stray large file in a
// policy folder cannot exhaust memory.
const maxBundleFile = 8 << 20

// Bundle is a parsed, compiled policy bundle: its modules, its data
// document and its revision (the hash of its files).
type Bundle struct {
	Source   string // folder, or "embedded"
	Revision string // "sha256:<hex>" over the sorted file names and contents
	Modules  map[string]*ast.Module
	Raw      map[string][]byte // file name -> source, for fmt and coverage
	Data     map[string]any
	Compiler *ast.Compiler // policy modules only (tests excluded)
}

// IsTestFile reports whether a bundle file holds tests rather than policy.
func IsTestFile(name string) bool { return strings.HasSuffix(name, "_test.rego") }

// BundleFS returns the file system of a bundle folder, or the embedded
// default bundle when dir is empty.
func BundleFS(dir string) (fs.FS, string, error) {
	if dir == "" {
		return policies.FS, "embedded", nil
	}
	st, err := os.Stat(dir)
	if err != nil {
		return nil, dir, fmt.Errorf("policy bundle %s: %w", dir, err)
	}
	if !st.IsDir() {
		return nil, dir, fmt.Errorf("policy bundle %s: not a folder", dir)
	}
	return os.DirFS(dir), dir, nil
}

// bundleFiles lists the files of a bundle that matter: *.rego anywhere and
// data.json / data.yaml anywhere (placed under data at their folder's path,
// as OPA does). Hidden folders are skipped.
func bundleFiles(fsys fs.FS) (map[string][]byte, error) {
	files := map[string][]byte{}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != "." && strings.HasPrefix(d.Name(), ".") {
				return fs.SkipDir
			}
			return nil
		}
		base := path.Base(p)
		if !strings.HasSuffix(base, ".rego") && base != "data.json" && base != "data.yaml" && base != "data.yml" {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return fmt.Errorf("stat %s: %w", p, err)
		}
		if info.Size() > maxBundleFile {
			return fmt.Errorf("%s: %d bytes is larger than the %d-byte limit for a policy file", p, info.Size(), maxBundleFile)
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return fmt.Errorf("read %s: %w", p, err)
		}
		files[p] = b
		return nil
	})
	return files, err
}

// revision hashes file names and contents in name order, with lengths so
// that moving bytes between files changes the hash.
func revision(files map[string][]byte) string {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		fmt.Fprintf(h, "%d:%s\n%d:", len(n), n, len(files[n]))
		h.Write(files[n])
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// BundleRevision hashes a bundle's files without compiling them; Watch uses
// it to notice a change cheaply.
func BundleRevision(fsys fs.FS) (string, error) {
	files, err := bundleFiles(fsys)
	if err != nil {
		return "", err
	}
	return revision(files), nil
}

// LoadBundle reads, parses and compiles a bundle. Errors name the file and
// line at fault.
func LoadBundle(fsys fs.FS, source string) (*Bundle, error) {
	files, err := bundleFiles(fsys)
	if err != nil {
		return nil, fmt.Errorf("load policy bundle %s: %w", source, err)
	}
	b := &Bundle{Source: source, Revision: revision(files), Modules: map[string]*ast.Module{}, Raw: map[string][]byte{}, Data: map[string]any{}}
	popts := ast.ParserOptions{RegoVersion: ast.RegoV1, ProcessAnnotation: true}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		src := files[name]
		if strings.HasSuffix(name, ".rego") {
			m, err := ast.ParseModuleWithOpts(name, string(src), popts)
			if err != nil {
				return nil, fmt.Errorf("load policy bundle %s: %w", source, err)
			}
			if m == nil {
				return nil, fmt.Errorf("load policy bundle %s: %s: empty module (no package)", source, name)
			}
			b.Modules[name] = m
			b.Raw[name] = src
			continue
		}
		if err := mergeDataFile(b.Data, name, src); err != nil {
			return nil, fmt.Errorf("load policy bundle %s: %w", source, err)
		}
	}
	if len(b.Modules) == 0 {
		return nil, fmt.Errorf("load policy bundle %s: no .rego files", source)
	}
	policy := map[string]*ast.Module{}
	for n, m := range b.Modules {
		if !IsTestFile(n) {
			policy[n] = m
		}
	}
	// Compile everything once to report errors in tests too, then keep a
	// compiler of the policy modules alone for evaluation.
	all := ast.NewCompiler().WithEnablePrintStatements(false)
	if all.Compile(b.Modules); all.Failed() {
		return nil, fmt.Errorf("compile policy bundle %s: %w", source, all.Errors)
	}
	c := ast.NewCompiler().WithEnablePrintStatements(false)
	if c.Compile(policy); c.Failed() {
		return nil, fmt.Errorf("compile policy bundle %s: %w", source, c.Errors)
	}
	b.Compiler = c
	return b, nil
}

// mergeDataFile places a data file's document under data at its folder's
// path: policies/fraud/data.json lands at data.fraud.
func mergeDataFile(root map[string]any, name string, src []byte) error {
	var doc any
	if strings.HasSuffix(name, ".json") {
		dec := json.NewDecoder(bytes.NewReader(src))
		dec.UseNumber()
		if err := dec.Decode(&doc); err != nil {
			return fmt.Errorf("%s: invalid JSON: %w", name, err)
		}
	} else {
		if err := yaml.Unmarshal(src, &doc); err != nil {
			return fmt.Errorf("%s: invalid YAML: %w", name, err)
		}
	}
	obj, ok := doc.(map[string]any)
	if !ok {
		return fmt.Errorf("%s: the top level must be an object", name)
	}
	node := root
	if dir := path.Dir(name); dir != "." {
		for _, part := range strings.Split(dir, "/") {
			next, ok := node[part].(map[string]any)
			if !ok {
				next = map[string]any{}
				node[part] = next
			}
			node = next
		}
	}
	for k, v := range obj {
		if _, dup := node[k]; dup {
			return fmt.Errorf("%s: key %q is already defined by another data file", name, k)
		}
		node[k] = v
	}
	return nil
}

// store returns a fresh in-memory store holding the bundle's data.
func (b *Bundle) store() storage.Store {
	return inmem.NewFromObjectWithOpts(b.Data, inmem.OptRoundTripOnWrite(true))
}

// hasRule reports whether the compiled policy defines the rule a query names.
func (b *Bundle) hasRule(query string) bool {
	return len(b.Compiler.GetRulesExact(ast.MustParseRef(query))) > 0
}

// TestParams configures a run of a bundle's own tests.
type TestParams struct {
	Coverage bool
	Timeout  time.Duration // per test; default 5s
	Filter   string        // regexp on test names
}

// TestCase is one test's outcome.
type TestCase struct {
	Package  string        `json:"package"`
	Name     string        `json:"name"`
	File     string        `json:"file"`
	Row      int           `json:"row"`
	Pass     bool          `json:"pass"`
	Skip     bool          `json:"skip,omitempty"`
	Error    string        `json:"error,omitempty"`
	Output   string        `json:"output,omitempty"`
	Duration time.Duration `json:"duration_ns"`
}

// FileCoverage is the coverage of one policy file.
type FileCoverage struct {
	File       string   `json:"file"`
	Coverage   float64  `json:"coverage"` // percent
	NotCovered [][2]int `json:"not_covered,omitempty"`
}

// TestReport is the outcome of a bundle's tests.
type TestReport struct {
	Revision string         `json:"revision"`
	Tests    []TestCase     `json:"tests"`
	Passed   int            `json:"passed"`
	Failed   int            `json:"failed"`
	Skipped  int            `json:"skipped"`
	Coverage *float64       `json:"coverage,omitempty"` // percent, when asked for
	Files    []FileCoverage `json:"files,omitempty"`
}

// OK reports whether every test passed.
func (r TestReport) OK() bool { return r.Failed == 0 }

// RunTests runs the bundle's _test.rego rules with OPA's tester.
func (b *Bundle) RunTests(ctx context.Context, p TestParams) (TestReport, error) {
	rep := TestReport{Revision: b.Revision, Tests: []TestCase{}}
	if p.Timeout <= 0 {
		p.Timeout = 5 * time.Second
	}
	st := b.store()
	var cov *cover.Cover
	runner := tester.NewRunner().
		SetStore(st).
		SetModules(b.Modules).
		CapturePrintOutput(true).
		SetTimeout(p.Timeout).
		SetDefaultRegoVersion(ast.RegoV1).
		Filter(p.Filter)
	if p.Coverage {
		cov = cover.New()
		runner = runner.SetCoverageQueryTracer(cov)
	}
	err := storage.Txn(ctx, st, storage.WriteParams, func(txn storage.Transaction) error {
		ch, err := runner.RunTests(ctx, txn)
		if err != nil {
			return err
		}
		for r := range ch {
			tc := TestCase{Package: r.Package, Name: r.Name, Pass: r.Pass(), Skip: r.Skip, Duration: r.Duration, Output: string(r.Output)}
			if r.Location != nil {
				tc.File, tc.Row = r.Location.File, r.Location.Row
			}
			if r.Error != nil {
				tc.Error = r.Error.Error()
			} else if r.Fail {
				tc.Error = "test failed"
				if r.FailedAt != nil && r.FailedAt.Location != nil {
					tc.Error = fmt.Sprintf("test failed at %s:%d: %s", r.FailedAt.Location.File, r.FailedAt.Location.Row, r.FailedAt.String())
				}
			}
			switch {
			case r.Skip:
				rep.Skipped++
			case tc.Pass:
				rep.Passed++
			default:
				rep.Failed++
			}
			rep.Tests = append(rep.Tests, tc)
		}
		return nil
	})
	if err != nil {
		var astErrs ast.Errors
		if errors.As(err, &astErrs) {
			return rep, fmt.Errorf("compile tests of %s: %w", b.Source, err)
		}
		return rep, fmt.Errorf("run tests of %s: %w", b.Source, err)
	}
	if err := ctx.Err(); err != nil {
		return rep, fmt.Errorf("run tests of %s: %w", b.Source, err)
	}
	if cov != nil {
		policy := map[string]*ast.Module{}
		for n, m := range b.Modules {
			if !IsTestFile(n) {
				policy[n] = m
			}
		}
		cr := cov.Report(policy)
		pct := cr.Coverage
		rep.Coverage = &pct
		for name, fr := range cr.Files {
			fc := FileCoverage{File: name, Coverage: fr.Coverage}
			for _, nc := range fr.NotCovered {
				fc.NotCovered = append(fc.NotCovered, [2]int{nc.Start.Row, nc.End.Row})
			}
			rep.Files = append(rep.Files, fc)
		}
		sort.Slice(rep.Files, func(i, j int) bool { return rep.Files[i].File < rep.Files[j].File })
	}
	sort.SliceStable(rep.Tests, func(i, j int) bool {
		if rep.Tests[i].File != rep.Tests[j].File {
			return rep.Tests[i].File < rep.Tests[j].File
		}
		return rep.Tests[i].Row < rep.Tests[j].Row
	})
	return rep, nil
}

// FailureSummary lists the failing tests in one line each, for errors.
func (r TestReport) FailureSummary() string {
	var lines []string
	for _, t := range r.Tests {
		if !t.Pass && !t.Skip {
			line := fmt.Sprintf("%s.%s (%s:%d): %s", t.Package, t.Name, t.File, t.Row, t.Error)
			if out := strings.TrimSpace(t.Output); out != "" {
				line += " [output: " + out + "]"
			}
			lines = append(lines, line)
		}
	}
	return strings.Join(lines, "; ")
}
