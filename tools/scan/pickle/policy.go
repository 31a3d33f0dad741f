package pickle

import (
	"fmt"
	"slices"
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

// DefaultAllow lists the globals a pickle may import without a finding.
// An entry is "module.name" (exact) or "module.*" (any attribute of the
// module or of its sub-modules, with the restrictions of Policy.Check).
// It covers what numpy, scikit-learn, PyTorch state dicts, XGBoost and
// LightGBM's scikit-learn wrappers, SciPy sparse matrices and joblib
// write; everything else is a high finding.
var DefaultAllow = []string{
	// builtin containers and scalars, and the protocol's own helpers
	"builtins.set", "builtins.frozenset", "builtins.dict", "builtins.list", "builtins.tuple",
	"builtins.bytearray", "builtins.bytes", "builtins.str", "builtins.int", "builtins.float",
	"builtins.complex", "builtins.bool", "builtins.slice", "builtins.range", "builtins.object",
	"__builtin__.set", "__builtin__.frozenset", "__builtin__.dict", "__builtin__.list", "__builtin__.tuple",
	"__builtin__.bytearray", "__builtin__.str", "__builtin__.unicode", "__builtin__.int", "__builtin__.long",
	"__builtin__.float", "__builtin__.complex", "__builtin__.bool", "__builtin__.slice", "__builtin__.object",
	"copyreg._reconstructor", "copy_reg._reconstructor", "copyreg.__newobj__", "copyreg.__newobj_ex__",
	"_codecs.encode",
	"collections.OrderedDict", "collections.defaultdict", "collections.deque", "collections.Counter",
	"datetime.datetime", "datetime.date", "datetime.time", "datetime.timedelta", "datetime.timezone",
	"decimal.Decimal", "fractions.Fraction", "uuid.UUID",
	// numpy arrays, scalars, dtypes, random state
	"numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct",
	"numpy.core.multiarray.scalar", "numpy._core.multiarray.scalar",
	"numpy.core.numeric._frombuffer", "numpy._core.numeric._frombuffer",
	"numpy.ndarray", "numpy.dtype", "numpy.ma.core._mareconstruct", "numpy.ma.core.MaskedArray",
	"numpy.random._pickle.__randomstate_ctor", "numpy.random._pickle.__generator_ctor",
	"numpy.random._pickle.__bit_generator_ctor", "numpy.random.mtrand.RandomState",
	"numpy.random._mt19937.MT19937", "numpy.random._pcg64.PCG64", "numpy.random.bit_generator.SeedSequence",
	"numpy.bool_", "numpy.int8", "numpy.int16", "numpy.int32", "numpy.int64", "numpy.uint8", "numpy.uint16",
	"numpy.uint32", "numpy.uint64", "numpy.float16", "numpy.float32", "numpy.float64", "numpy.complex64",
	"numpy.complex128", "numpy.str_", "numpy.bytes_", "numpy.longlong", "numpy.ulonglong",
	"numpy.dtypes.Float64DType", "numpy.dtypes.Float32DType", "numpy.dtypes.Int64DType", "numpy.dtypes.Int32DType",
	// PyTorch tensors, parameters, storages, dtypes
	"torch._utils._rebuild_tensor", "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor_v3",
	"torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state",
	"torch._utils._rebuild_sparse_tensor", "torch._utils._rebuild_qtensor",
	"torch._utils._rebuild_device_tensor_from_numpy", "torch._utils._rebuild_meta_tensor_no_storage",
	"torch._utils._rebuild_wrapper_subclass", "torch._utils._rebuild_nested_tensor",
	"torch._tensor._rebuild_from_type", "torch._tensor._rebuild_from_type_v2",
	"torch.nn.parameter.Parameter", "torch.Tensor", "torch.Size", "torch.device", "torch.storage.UntypedStorage",
	"torch.storage.TypedStorage", "torch.storage._TypedStorage", "torch.storage._UntypedStorage",
	"torch.FloatStorage", "torch.DoubleStorage", "torch.HalfStorage", "torch.BFloat16Storage", "torch.LongStorage",
	"torch.IntStorage", "torch.ShortStorage", "torch.CharStorage", "torch.ByteStorage", "torch.BoolStorage",
	"torch.ComplexFloatStorage", "torch.ComplexDoubleStorage", "torch.QInt8Storage", "torch.QUInt8Storage",
	"torch.QInt32Storage", "torch.QUInt4x2Storage", "torch.QUInt2x4Storage",
	"torch.float32", "torch.float64", "torch.float16", "torch.bfloat16", "torch.int64", "torch.int32",
	"torch.int16", "torch.int8", "torch.uint8", "torch.bool", "torch.complex64", "torch.complex128",
	"torch.strided", "torch.sparse_coo", "torch.per_tensor_affine", "torch.per_channel_affine",
	"torch.serialization._get_layout",
	"torch.nn.modules.*",
	// scikit-learn and friends
	"sklearn.*", "scipy.sparse.*", "xgboost.sklearn.*", "xgboost.core.Booster", "lightgbm.sklearn.*",
	"lightgbm.basic.Booster", "joblib.numpy_pickle.NumpyArrayWrapper",
	// pandas frames, series, indexes and their blocks (not pandas.core.computation: eval)
	"pandas._libs.*", "pandas.core.arrays.*", "pandas.core.dtypes.*", "pandas.core.indexes.*",
	"pandas.core.internals.*", "pandas.core.frame.DataFrame", "pandas.core.series.Series", "joblib.numpy_pickle_utils._ensure_native_byte_order",
}

// DefaultDeny lists the globals that make a pickle critical: code
// execution, process, file-system, network-shell and import machinery.
// "module.*" matches the module and its sub-modules. It merges the
// lists of ProtectAI's modelscan and Trail of Bits' fickling.
var DefaultDeny = []string{
	"builtins.eval", "builtins.exec", "builtins.compile", "builtins.getattr", "builtins.setattr",
	"builtins.delattr", "builtins.__import__", "builtins.open", "builtins.breakpoint", "builtins.input",
	"builtins.globals", "builtins.locals", "builtins.vars", "builtins.exit", "builtins.quit", "builtins.help",
	"builtins.memoryview", "builtins.type", "builtins.super", "builtins.classmethod", "builtins.staticmethod",
	"builtins.property",
	"__builtin__.eval", "__builtin__.exec", "__builtin__.execfile", "__builtin__.compile", "__builtin__.getattr",
	"__builtin__.setattr", "__builtin__.delattr", "__builtin__.__import__", "__builtin__.open", "__builtin__.file",
	"__builtin__.apply", "__builtin__.input", "__builtin__.raw_input", "__builtin__.globals", "__builtin__.locals",
	"__builtin__.vars", "__builtin__.reload", "__builtin__.type",
	"__builtins__.*",
	"os.*", "posix.*", "nt.*", "subprocess.*", "_posixsubprocess.*", "sys.*", "pty.*", "runpy.*", "socket.*",
	"_socket.*", "shutil.*", "pickle.*", "_pickle.*", "cPickle.*", "dill.*", "cloudpickle.*", "importlib.*",
	"imp.*", "zipimport.*", "pkgutil.*", "marshal.*", "ctypes.*", "_ctypes.*", "asyncio.*", "code.*", "codeop.*",
	"commands.*", "popen2.*", "platform.*", "multiprocessing.*", "threading.*", "_thread.*", "thread.*",
	"signal.*", "pdb.*", "bdb.*", "timeit.*", "cProfile.*", "profile.*", "trace.*", "doctest.*", "pydoc.*",
	"types.*", "new.*", "gc.*", "inspect.*", "linecache.*", "io.*", "_io.*", "fcntl.*", "resource.*", "tempfile.*",
	"glob.*", "webbrowser.*", "ensurepip.*", "pip.*", "setuptools.*", "distutils.*", "venv.*", "sysconfig.*",
	"operator.attrgetter", "operator.methodcaller", "operator.getitem", "operator.setitem", "operator.delitem",
	"functools.partial", "functools.partialmethod", "functools.reduce",
	"numpy.testing.*", "numpy.load", "numpy.f2py.*", "numpy.distutils.*", "numpy.lib.npyio.*",
	"torch.load", "torch.hub.*", "torch.jit.*", "torch.serialization.load", "torch.storage._load_from_bytes",
	"torch._C.*", "torch.ops.*", "torch.package.*", "joblib.load", "joblib.numpy_pickle.load",
	"keras.*.Lambda", "tensorflow.io.*", "tensorflow.python.io_ops.*",
	"pandas.read_pickle", "pandas.io.pickle.*", "yaml.load", "yaml.unsafe_load", "yaml.full_load",
	"jinja2.*", "mako.*", "shelve.*", "dbm.*",
}

// NetworkModules are graded high rather than critical when not allowed:
// they reach the network or a browser but do not run code by themselves.
var NetworkModules = []string{
	"http.*", "httplib.*", "urllib.*", "urllib2.*", "urllib3.*", "requests.*", "aiohttp.*", "httpx.*",
	"ftplib.*", "smtplib.*", "telnetlib.*", "xmlrpc.*", "xmlrpclib.*", "poplib.*", "imaplib.*", "nntplib.*",
	"ssl.*", "websocket.*",
}

// dangerousNames are attribute names that, reached through an allowed
// module prefix ("sklearn.utils.validation.partial" is functools.partial
// re-exported), make a call as dangerous as the original.
var dangerousNames = map[string]bool{
	"eval": true, "exec": true, "compile": true, "getattr": true, "setattr": true, "delattr": true,
	"open": true, "system": true, "popen": true, "Popen": true, "run": true, "call": true,
	"check_call": true, "check_output": true, "partial": true, "attrgetter": true, "methodcaller": true,
	"import_module": true, "loads": true, "load": true, "spawn": true, "execv": true, "execve": true,
	"execl": true, "execvp": true, "spawnv": true, "spawnl": true, "breakpoint": true, "input": true,
	"globals": true, "locals": true, "vars": true, "apply": true, "reduce": true, "rmtree": true,
	"remove": true, "unlink": true, "fork": true, "kill": true, "urlopen": true, "get": true, "post": true,
	"import_string": true, "runpy": true, "os": true, "sys": true, "subprocess": true, "builtins": true,
	"pickle": true, "shutil": true, "importlib": true, "socket": true, "ctypes": true, "type": true,
}

// Policy decides what each imported global is worth. Build it once with
// NewPolicy and share it: it is read-only.
type Policy struct {
	userExact   map[string]bool // user's exact allow entries: they win over the denylist
	allowExact  map[string]bool
	allowPrefix []string
	denyExact   map[string]bool
	denyPrefix  []string
	denyGlob    [][2]string // "keras.*.Lambda": module prefix, name
	netPrefix   []string
	trusted     []string // module prefixes trusted in this context (WithTrusted)
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

// PolicyParams extends the defaults. Entries are "module.name" or "module.*".
type PolicyParams struct {
	Allow []string // allowed in addition to DefaultAllow; an exact entry wins over the denylist, a prefix does not
	Deny  []string // critical in addition to DefaultDeny
	// NoDefaults drops DefaultAllow (the denylist always stays).
	NoDefaults bool
}

// ValidateEntry checks one allow/deny entry and says what is wrong with it.
func ValidateEntry(e string) error {
	if e == "" {
		return fmt.Errorf("empty entry")
	}
	if strings.ContainsAny(e, " \t\n/\\") {
		return fmt.Errorf("%q: want module.name or module.*, without spaces or slashes", e)
	}
	mod, name := split(e)
	if mod == "" || name == "" {
		return fmt.Errorf("%q: want module.name or module.* (a bare module name would allow nothing)", e)
	}
	return nil
}

// NewPolicy compiles the allow and deny lists.
func NewPolicy(p PolicyParams) (*Policy, error) {
	pol := &Policy{userExact: map[string]bool{}, allowExact: map[string]bool{}, denyExact: map[string]bool{}}
	for _, e := range p.Allow {
		if !strings.HasSuffix(e, ".*") {
			pol.userExact[e] = true
		}
	}
	allow := p.Allow
	if !p.NoDefaults {
		allow = append(slices.Clone(DefaultAllow), p.Allow...)
	}
	for _, e := range allow {
		if err := ValidateEntry(e); err != nil {
			return nil, fmt.Errorf("allow list: %w", err)
		}
		if m, ok := strings.CutSuffix(e, ".*"); ok {
			pol.allowPrefix = append(pol.allowPrefix, m)
		} else {
			pol.allowExact[e] = true
		}
	}
	for _, e := range append(slices.Clone(DefaultDeny), p.Deny...) {
		if err := ValidateEntry(e); err != nil {
			return nil, fmt.Errorf("deny list: %w", err)
		}
		switch {
		case strings.Contains(e, ".*."):
			m, n, _ := strings.Cut(e, ".*.")
			pol.denyGlob = append(pol.denyGlob, [2]string{m, n})
		case strings.HasSuffix(e, ".*"):
			pol.denyPrefix = append(pol.denyPrefix, strings.TrimSuffix(e, ".*"))
		default:
			pol.denyExact[e] = true
		}
	}
	for _, e := range NetworkModules {
		pol.netPrefix = append(pol.netPrefix, strings.TrimSuffix(e, ".*"))
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

// Default is the policy with the default lists.
var Default = MustPolicy(PolicyParams{})

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

// Check grades one import. It returns Info and an empty reason when the
// global is allowed. Python resolves a dotted name by walking attributes
// (protocol 4 and later), so every segment of module and name is checked:
// "sklearn.utils._testing" + "os.system" reaches os.system.
func (p *Policy) Check(module, name string) (Severity, string) {
	full := module + "." + name
	if p.userExact[full] {
		return Info, ""
	}
	if underPrefix(module, p.trusted) && !strings.Contains(name, ".") && !strings.HasPrefix(name, "__") && !dangerousNames[name] {
		return Info, ""
	}
	if module == "" || name == "" {
		return Critical, "empty module or name"
	}
	if p.denyExact[full] || underPrefix(module, p.denyPrefix) || underPrefix(full, p.denyPrefix) {
		return Critical, "on the denylist of code-executing globals"
	}
	if p.allowExact[full] {
		return Info, ""
	}
	// __builtin__/builtins aliases: "builtins" covers both spellings.
	for _, g := range p.denyGlob {
		if (module == g[0] || strings.HasPrefix(module, g[0]+".")) && name == g[1] {
			return Critical, "on the denylist of code-executing globals"
		}
	}
	segs := append(strings.Split(module, "."), strings.Split(name, ".")...)
	for _, s := range segs {
		if s == "" {
			return Critical, "malformed dotted name"
		}
		if strings.HasPrefix(s, "__") && strings.HasSuffix(s, "__") && len(s) > 4 {
			return Critical, fmt.Sprintf("reaches the dunder attribute %s, a known way around allowlists", s)
		}
	}
	nameSegs := strings.Split(name, ".")
	for _, s := range nameSegs {
		if underPrefix(s, p.denyPrefix) {
			return Critical, fmt.Sprintf("the name walks into the denylisted module %s", s)
		}
	}
	if underPrefix(module, p.netPrefix) {
		return High, "reaches the network or a browser"
	}
	if underPrefix(module, p.allowPrefix) {
		if len(nameSegs) > 1 {
			return High, "dotted name under an allowed module prefix; only direct attributes are allowed"
		}
		if dangerousNames[name] || strings.HasPrefix(name, "exec") || strings.HasPrefix(name, "spawn") {
			return Critical, fmt.Sprintf("%q under an allowed prefix is a re-exported dangerous function", name)
		}
		return Info, ""
	}
	if dangerousNames[name] {
		return Critical, fmt.Sprintf("%q is a code-executing or file-system function name", name)
	}
	return High, "not on the allowlist of known-safe ML globals"
}
