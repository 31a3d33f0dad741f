package pickle

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Severity grades a finding; the values match agents.Severity.
type Severity string

const (
	Info     Severity = "info"
	Low      Severity = "low"
	Medium   Severity = "medium"
	High     Severity = "high"
	Critical Severity = "critical"
)

// Rank orders severities so that the worst of several can be taken.
func (s Severity) Rank() int {
	switch s {
	case Critical:
		return 4
	case High:
		return 3
	case Medium:
		return 2
	case Low:
		return 1
	}
	return 0
}

// ExtensionReason is the reason Check gives for a global that only the
// user's allowlist extension allows: the walker reports it as an info
// finding, so that every use of an extension is visible in the report.
const ExtensionReason = "allowed by the configuration's allowlist extension"

// dangerousNames are names that must not pass under a trusted
// (TorchScript) prefix: there the allowlist is not exact, so names of
// code-executing functions stay critical in case a Python unpickler
// rather than TorchScript's resolves them.
var dangerousNames = map[string]bool{
	"eval": true, "exec": true, "compile": true, "getattr": true, "setattr": true, "delattr": true,
	"open": true, "system": true, "popen": true, "Popen": true, "run": true, "call": true,
	"check_call": true, "check_output": true, "partial": true, "attrgetter": true, "methodcaller": true,
	"import_module": true, "loads": true, "load": true, "breakpoint": true, "input": true,
	"globals": true, "locals": true, "vars": true, "apply": true, "reduce": true, "rmtree": true,
	"remove": true, "unlink": true, "fork": true, "kill": true, "urlopen": true, "urlretrieve": true,
	"os": true, "sys": true, "subprocess": true, "builtins": true, "pickle": true, "shutil": true,
	"importlib": true, "socket": true, "ctypes": true, "type": true,
}

// Policy decides what each imported global is worth. Build it once with
// NewPolicy and share it: it is read-only.
//
// The allowlist is exact (module and qualified name, from allowlist.tsv):
// a prefix allowlist with a name denylist cannot be made safe, because
// the libraries re-export and wrap functions that run code.
type Policy struct {
	noDefaults bool
	userAllow  map[string]bool // exact "module.qualname" entries
	userDeny   map[string]bool
	denyPrefix []string // user "module.*" deny entries
	trusted    []string // module prefixes trusted in this context (WithTrusted)
}

// WithTrusted returns a copy of p that allows plain attributes of the
// given module prefixes before any other rule. TorchScript archives need
// it: their pickles name "__torch__.*" classes and "torch.jit._pickle.*"
// helpers, which TorchScript's own C++ unpickler resolves to compiled
// TorchScript, not to Python imports.
func (p *Policy) WithTrusted(prefixes ...string) *Policy {
	q := *p
	q.trusted = append(slices.Clone(p.trusted), prefixes...)
	return &q
}

// PolicyParams extends the defaults.
type PolicyParams struct {
	// Allow adds exact "module.qualname" globals to the allowlist. They
	// win over every other rule, so each is listed in the scan report.
	Allow []string
	Deny  []string // critical in addition to the table's deny rows; "module.name" or "module.*"
	// NoDefaults drops the generated allow rows (deny, danger and alias
	// rows stay).
	NoDefaults bool
}

// ValidateEntry checks one deny entry ("module.name" or "module.*").
func ValidateEntry(e string) error {
	if e == "" {
		return fmt.Errorf("empty entry")
	}
	if strings.ContainsAny(e, " \t\n/\\") {
		return fmt.Errorf("%q: want module.name or module.*, without spaces or slashes", e)
	}
	mod, name := split(e)
	if mod == "" || name == "" {
		return fmt.Errorf("%q: want module.name or module.* (a bare module name would match nothing)", e)
	}
	return nil
}

// ValidateAllowEntry checks one allowlist extension: exact names only,
// because a wildcard would let in whatever the module re-exports.
func ValidateAllowEntry(e string) error {
	if err := ValidateEntry(e); err != nil {
		return err
	}
	if strings.Contains(e, "*") {
		return fmt.Errorf("%q: allowlist extensions are exact names (mypkg.models.Ranker); a wildcard would also allow what the module re-exports", e)
	}
	return nil
}

// NewPolicy compiles the extensions over the embedded table.
func NewPolicy(p PolicyParams) (*Policy, error) {
	pol := &Policy{noDefaults: p.NoDefaults, userAllow: map[string]bool{}, userDeny: map[string]bool{}}
	for _, e := range p.Allow {
		if err := ValidateAllowEntry(e); err != nil {
			return nil, fmt.Errorf("allow list: %w", err)
		}
		pol.userAllow[e] = true
	}
	for _, e := range p.Deny {
		if err := ValidateEntry(e); err != nil {
			return nil, fmt.Errorf("deny list: %w", err)
		}
		if m, ok := strings.CutSuffix(e, ".*"); ok {
			pol.denyPrefix = append(pol.denyPrefix, m)
		} else {
			pol.userDeny[e] = true
		}
	}
	return pol, nil
}

// MustPolicy is NewPolicy for lists known to be valid.
func MustPolicy(p PolicyParams) *Policy {
	pol, err := NewPolicy(p)
	if err != nil {
		panic(err)
	}
	return pol
}

// Default is the policy with the embedded table and no extensions.
var Default = MustPolicy(PolicyParams{})

// Extensions lists the user's allowlist extensions, sorted.
func (p *Policy) Extensions() []string {
	out := make([]string, 0, len(p.userAllow))
	for e := range p.userAllow {
		out = append(out, e)
	}
	sort.Strings(out)
	return out
}

// TableHeader returns the generator's header lines of the embedded
// allowlist (generator, library versions, row counts).
func TableHeader() []string { return slices.Clone(defaultTable().header) }

// Allowed reports whether module.qualname is an allow row, and its kind.
func Allowed(module, qualname string) (kind string, ok bool) {
	kind, ok = defaultTable().allow[ref{module, qualname}]
	return kind, ok
}

func split(e string) (mod, name string) {
	i := strings.LastIndexByte(e, '.')
	if i < 0 {
		return "", ""
	}
	return e[:i], e[i+1:]
}

func underPrefix(mod string, prefixes []string) bool {
	for _, p := range prefixes {
		if mod == p || strings.HasPrefix(mod, p+".") {
			return true
		}
	}
	return false
}

func (p *Policy) t() *table { return defaultTable() }

func isDunder(s string) bool {
	return len(s) > 4 && strings.HasPrefix(s, "__") && strings.HasSuffix(s, "__")
}

// Check grades one import. It returns Info and an empty reason when the
// global is allowed (ExtensionReason when only a user extension allows
// it). The global is judged by what it resolves to through the table's
// aliases, and the name as written is checked too: a user's deny entry
// or a known-dangerous name holds whatever the spelling.
func (p *Policy) Check(module, name string) (Severity, string) {
	full := module + "." + name
	if p.userAllow[full] {
		return Info, ExtensionReason
	}
	if underPrefix(module, p.trusted) && !strings.Contains(name, ".") && !isDunder(name) {
		if dangerousNames[name] || strings.HasPrefix(name, "exec") || strings.HasPrefix(name, "spawn") {
			return Critical, fmt.Sprintf("%q under a TorchScript prefix names a code-executing function", name)
		}
		return Info, ""
	}
	if module == "" || name == "" {
		return Critical, "empty module or name"
	}
	for _, s := range append(strings.Split(module, "."), strings.Split(name, ".")...) {
		if s == "" {
			return Critical, "malformed dotted name"
		}
	}
	r := p.t().resolve(module, name)
	lit := ref{module, name}
	if sev, why := p.userDenied(lit); sev != "" {
		return sev, why
	}
	if r != lit {
		if sev, why := p.userDenied(r); sev != "" {
			return sev, why
		}
		if p.userAllow[r.String()] {
			return Info, ExtensionReason
		}
	}
	sev, why := p.judge(r)
	if r != lit {
		if sev == Info {
			return Info, ""
		}
		return sev, fmt.Sprintf("resolves to %s, which is %s", r, why)
	}
	return sev, why
}

func (p *Policy) userDenied(r ref) (Severity, string) {
	if p.userDeny[r.String()] || underPrefix(r.mod, p.denyPrefix) || underPrefix(r.String(), p.denyPrefix) {
		return Critical, "on the configuration's denylist"
	}
	return "", ""
}

// judge grades a resolved global. Order matters: known-dangerous names
// and functions first, then the exact allowlist (which names a few
// harmless members of critical modules, builtins.dict or joblib's
// array wrapper), then critical modules, then dunder walks.
func (p *Policy) judge(r ref) (Severity, string) {
	if why, ok := p.t().denyName[r]; ok {
		return Critical, "on the denylist of code-executing globals (" + why + ")"
	}
	if first, _, _ := strings.Cut(r.qual, "."); first != r.qual {
		if why, ok := p.t().denyName[ref{r.mod, first}]; ok {
			return Critical, "reaches a denylisted global (" + why + ")"
		}
	}
	if why, ok := p.t().danger[r]; ok {
		return Critical, "a library function that " + why
	}
	if !p.noDefaults {
		if _, ok := p.t().allow[r]; ok {
			return Info, ""
		}
	}
	if p.t().deniedModule(r.mod) {
		return Critical, "in a module on the denylist (code execution, processes, files or network)"
	}
	if r.qual == "" {
		return High, "resolves to a module object, which only getattr-style gadgets need"
	}
	for _, s := range strings.Split(r.qual, ".") {
		if isDunder(s) {
			return Critical, fmt.Sprintf("reaches the dunder attribute %s, a known way around allowlists", s)
		}
		if p.t().deniedModule(s) {
			return Critical, fmt.Sprintf("the name walks into the denylisted module %s", s)
		}
	}
	for _, s := range strings.Split(r.mod, ".") {
		if isDunder(s) {
			return Critical, fmt.Sprintf("imports from the dunder module %s, a known way around allowlists", s)
		}
	}
	if strings.Contains(r.qual, ".") {
		return High, "a dotted name that is not on the exact allowlist (attributes of allowed classes are not allowed)"
	}
	return High, "not on the exact allowlist of globals real model files use"
}
