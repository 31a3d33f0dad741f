#!/usr/bin/python3
"""Regenerate allowlist.tsv, the exact pickle allowlist embedded in the scanner.

    /usr/bin/python3 tools/scan/pickle/gen_allowlist.py   # writes tools/scan/pickle/allowlist.tsv

It walks the installed scikit-learn, xgboost, pandas, numpy and scipy (the
versions go into the header) and writes four kinds of rows, tab-separated:

    allow  MODULE  QUALNAME  KIND            a global real model files may import
    alias  MODULE  NAME      TMODULE TQUAL   MODULE.NAME is really TMODULE.TQUAL (TQUAL empty: a module)
    danger MODULE  QUALNAME  REASON          a library function that reaches code execution, files or network
    deny   MODULE  *|NAME    SOURCE          a known-dangerous module or name (fickling, modelscan, ours)

What is allowed, and why each kind is safe to allow:
  * class: classes defined in the libraries' model, array and frame modules.
    Unpickling makes instances through cls.__new__ (copyreg, NEWOBJ) and
    calls __setstate__; constructors only store parameters. Modules that
    read or write files, reach the network or exist for testing are left
    out, and so are the few classes whose constructor opens a file.
  * reconstructor: every function global that the real objects of
    testdata/scan/gen_models.py use when pickled at protocols 0-5 and with
    joblib, i.e. what pickles of real estimators actually need.
  * score-function: scikit-learn's metric, kernel and feature-scoring
    functions, which estimators hold as parameters (make_scorer,
    SelectKBest(score_func=...)).
  * ufunc: numpy's universal functions (pure arithmetic), which estimators
    hold as parameters (FunctionTransformer(func=np.log1p)).
  * builtin / stdlib: containers, scalars and pure builtins (fickling's
    SAFE_BUILTINS less the ones that call their argument), ABCs.
  * manual: PyTorch and LightGBM rebuilders, from the existing reviewed list
    (the libraries are not installed here, so they cannot be walked).
An allow row is never written for a global that is also a danger row:
the generator stops instead, so that a reviewer looks at it.
"""
import builtins
import contextlib
import importlib
import inspect
import io
import os
import pickle
import pickletools
import pkgutil
import re
import sys
import types
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "testdata", "scan"))
import gen_models  # noqa: E402  (the same objects the Go test scans)

LIBS = ["sklearn", "xgboost", "pandas", "numpy", "scipy"]

# Modules never imported: test suites (they need pytest and define
# nothing a model holds) and build helpers.
SKIP_IMPORT = re.compile(r"(^|\.)(tests?|conftest|_build_utils|setup|__main__|f2py|distutils|_pyinstaller)(\.|$)")

# Modules whose classes are not allowed: they read or write files, reach
# the network, run code, or exist for testing and plotting.
NO_CLASSES = re.compile(
    r"(^|\.)(_?testing|_testutils|io|datasets|externals|_show_versions|plotting|computation|clipboard|"
    r"_datasource|npyio|_iotools|ctypeslib|_lib\._ccallback|tracker|rabit|collective|dask|spark|callback|"
    r"_config|_print_versions|api\.extensions|_decorators|_exceptions|tseries\.holiday|util)(\.|$)")
NO_CLASS_NAMES = {
    "numpy.memmap", "numpy.core.memmap.memmap",  # opens, and with mode w+ truncates, a file
    "xgboost.core.DMatrix", "xgboost.core.DeviceQuantileDMatrix", "xgboost.core.QuantileDMatrix",  # read files by path
    "xgboost.core.DataIter", "xgboost.core._ProxyDMatrix",
    "pandas.core.generic.NDFrame",  # fine, but real pickles name DataFrame/Series
}

# Modules that run code, start processes, touch files, or reach the
# network. A function of the libraries that refers to one of them (or to
# a function defined in one) is a danger row; a global in them is critical.
CRITICAL_MODULES = [
    # the list
    "os", "posix", "nt", "subprocess", "shutil", "importlib", "urllib", "socket", "ctypes", "pickle", "marshal",
    "runpy", "code",
    # modelscan (settings.py, CRITICAL and HIGH)
    "runpy", "sys", "pty", "_pickle", "bdb", "pdb", "asyncio", "webbrowser", "httplib", "requests.api",
    "aiohttp.client",
    # fickling (fickle.py UNSAFE_IMPORTS, analysis.py UnsafeImportsML)
    "__builtins__", "commands", "multiprocessing", "_posixsubprocess", "codeop", "types", "doctest",
    "_interpreters", "_xxsubinterpreters", "_frozen_importlib", "_frozen_importlib_external", "_imp", "imp",
    "pkgutil", "zipimport", "gc", "site", "unittest", "inspect", "test", "_operator", "operator", "functools",
    "cProfile", "profile", "timeit", "trace", "ssl", "http", "urllib2", "requests", "aiohttp", "smtplib",
    "imaplib", "ftplib", "poplib", "telnetlib", "nntplib", "_ctypes", "dill", "cloudpickle", "joblib", "tempfile",
    "filecmp", "distutils", "pydoc", "pexpect", "pipes", "venv", "ensurepip", "pip", "idlelib", "lib2to3",
    "socketserver", "xmlrpc", "signal", "_signal", "threading", "_thread", "atexit", "sqlite3", "_sqlite3",
    "fileinput", "glob", "platform", "linecache", "difflib", "compileall", "py_compile", "mmap", "select",
    "selectors", "logging", "syslog", "tarfile", "zipfile", "shelve", "uuid", "_osx_support", "_aix_support",
    "torch.hub", "torch._dynamo", "torch._inductor", "torch.jit", "torch.compile", "numpy.f2py", "numpy.distutils",
    # ours (the scanner's earlier list)
    "cPickle", "_socket", "thread", "new", "io", "_io", "fcntl", "resource", "popen2", "setuptools", "sysconfig",
    "dbm", "jinja2", "mako", "numpy.testing", "numpy.lib.npyio", "torch._C", "torch.ops", "torch.package",
    "tensorflow.io", "tensorflow.python.io_ops", "pandas.io.pickle", "urllib3", "httpx", "websocket",
]
CRITICAL_NAMES = [
    ("builtins", n) for n in ("eval", "exec", "compile", "open", "__import__", "breakpoint", "getattr", "setattr",
                              "delattr", "globals", "locals", "vars", "input", "exit", "quit", "help", "memoryview",
                              "type", "super", "classmethod", "staticmethod", "property", "apply", "execfile",
                              "file", "reload", "raw_input")
] + [
    ("torch", "load"), ("torch", "compile"), ("torch.storage", "_load_from_bytes"), ("torch.serialization", "load"),
    ("torch.utils._config_module", "ConfigModule"), ("torch.distributed.elastic.rendezvous.api", "basichandlers"),
    ("numpy.testing._private.utils", "runstring"), ("numpy", "load"), ("joblib", "load"), ("pandas", "read_pickle"),
    ("yaml", "load"), ("yaml", "unsafe_load"), ("yaml", "full_load"),
]
# Builtins that a library function may use without becoming a danger row
# only matter when they run code or open files.
DANGER_BUILTINS = {"eval", "exec", "compile", "open", "__import__", "breakpoint", "input"}
# For the danger analysis only: modules a function may refer to without
# being flagged, although they are critical as pickle globals. sys and
# friends are everywhere (sys.maxsize, functools.wraps) and do not, by
# being referred to, run code, touch files or reach the network.
ANALYSIS_IGNORES = {"sys", "inspect", "functools", "operator", "_operator", "types", "threading", "_thread",
                    "logging", "gc", "warnings", "platform", "atexit", "signal", "linecache", "difflib", "uuid", "io",
                    "_io", "joblib", "select", "selectors", "mmap", "site", "codeop", "test", "unittest"}

PURE_BUILTINS = ["set", "frozenset", "dict", "list", "tuple", "bytearray", "bytes", "str", "int", "float", "complex",
                 "bool", "slice", "range", "object", "len", "abs", "sum", "min", "max", "round", "pow", "divmod",
                 "sorted", "reversed", "enumerate", "zip", "iter", "next", "all", "any", "hash", "repr", "ascii", "bin",
                 "hex", "oct", "ord", "chr", "isinstance", "issubclass", "callable", "format", "NotImplemented",
                 "Ellipsis"]
STDLIB_ALLOW = [
    ("copyreg", "_reconstructor"), ("copyreg", "__newobj__"), ("copyreg", "__newobj_ex__"), ("_codecs", "encode"),
    ("collections", "OrderedDict"), ("collections", "defaultdict"), ("collections", "deque"), ("collections", "Counter"),
    ("collections", "namedtuple"),
    ("datetime", "datetime"), ("datetime", "date"), ("datetime", "time"), ("datetime", "timedelta"),
    ("datetime", "timezone"), ("datetime", "tzinfo"), ("decimal", "Decimal"), ("fractions", "Fraction"),
    ("__future__", "_Feature"), ("__future__", "annotations"), ("enum", "Enum"), ("re", "_compile"),
    ("zoneinfo", "ZoneInfo"), ("zoneinfo._common", "load_data"),
]
MANUAL = """
torch._utils _rebuild_tensor _rebuild_tensor_v2 _rebuild_tensor_v3 _rebuild_parameter _rebuild_parameter_with_state
torch._utils _rebuild_sparse_tensor _rebuild_qtensor _rebuild_device_tensor_from_numpy _rebuild_meta_tensor_no_storage
torch._utils _rebuild_wrapper_subclass _rebuild_nested_tensor
torch._tensor _rebuild_from_type _rebuild_from_type_v2
torch.nn.parameter Parameter
torch Tensor Size device FloatStorage DoubleStorage HalfStorage BFloat16Storage LongStorage IntStorage ShortStorage
torch CharStorage ByteStorage BoolStorage ComplexFloatStorage ComplexDoubleStorage QInt8Storage QUInt8Storage
torch QInt32Storage QUInt4x2Storage QUInt2x4Storage float32 float64 float16 bfloat16 int64 int32 int16 int8 uint8
torch bool complex64 complex128 strided sparse_coo per_tensor_affine per_channel_affine
torch.storage UntypedStorage TypedStorage _TypedStorage _UntypedStorage
torch.serialization _get_layout
torch.nn.modules.linear Linear Identity Bilinear
torch.nn.modules.conv Conv1d Conv2d Conv3d ConvTranspose1d ConvTranspose2d ConvTranspose3d
torch.nn.modules.container Sequential ModuleList ModuleDict ParameterList ParameterDict
torch.nn.modules.activation ReLU GELU Sigmoid Tanh Softmax LogSoftmax LeakyReLU SiLU MultiheadAttention
torch.nn.modules.normalization LayerNorm GroupNorm
torch.nn.modules.batchnorm BatchNorm1d BatchNorm2d BatchNorm3d
torch.nn.modules.dropout Dropout
torch.nn.modules.sparse Embedding EmbeddingBag
torch.nn.modules.pooling MaxPool2d AvgPool2d AdaptiveAvgPool2d
torch.nn.modules.flatten Flatten
torch.nn.modules.rnn LSTM GRU RNN
torch.nn.modules.transformer Transformer TransformerEncoder TransformerEncoderLayer TransformerDecoder TransformerDecoderLayer
lightgbm.sklearn LGBMClassifier LGBMRegressor LGBMRanker LGBMModel
lightgbm.basic Booster
joblib.numpy_pickle NumpyArrayWrapper
joblib.numpy_pickle_utils _ensure_native_byte_order
"""


def critical_module(mod):
    return any(mod == m or mod.startswith(m + ".") for m in CRITICAL_MODULES)


def qualname_of(obj):
    try:
        mod = getattr(obj, "__module__", None)
        qual = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
    except Exception:  # lazy modules (xgboost.compat) import on attribute access
        return None
    if isinstance(obj, types.ModuleType):
        return obj.__name__, ""
    if not isinstance(mod, str) or not isinstance(qual, str):
        return None
    return mod, qual


def resolves(mod, qual, obj):
    """True when importing mod and walking qual yields obj, i.e. the
    name pickle would write is real."""
    try:
        m = sys.modules.get(mod) or importlib.import_module(mod)
        cur = m
        for part in qual.split("."):
            cur = getattr(cur, part)
        return cur is obj
    except Exception:
        return False


def import_all():
    mods = {}
    # some modules print when imported; keep the table clean
    with warnings.catch_warnings(), contextlib.redirect_stdout(sys.stderr):
        warnings.simplefilter("ignore")
        for lib in LIBS:
            top = importlib.import_module(lib)
            mods[lib] = top
            for info in pkgutil.walk_packages(top.__path__, lib + "."):
                if SKIP_IMPORT.search(info.name):
                    continue
                try:
                    mods[info.name] = importlib.import_module(info.name)
                except BaseException as e:  # optional dependencies (matplotlib, pyarrow, dask) are absent
                    print(f"# skipped {info.name}: {type(e).__name__}", file=sys.stderr)
    return mods


def code_names(code):
    names = set(code.co_names)
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            names |= code_names(c)
    return names


def direct_danger(fn):
    """Why fn is dangerous by what it refers to, or ''."""
    code = getattr(fn, "__code__", None)
    if code is None:
        return ""
    g = getattr(fn, "__globals__", {})
    for n in sorted(code_names(code)):
        if n in g:
            obj = g[n]
        elif n in DANGER_BUILTINS and hasattr(builtins, n):
            return f"calls builtins.{n}"
        else:
            continue
        if isinstance(obj, types.ModuleType):
            if critical_module(obj.__name__) and obj.__name__.split(".")[0] not in ANALYSIS_IGNORES:
                return f"uses the module {obj.__name__}"
            continue
        q = qualname_of(obj)
        # resolves(): Cython objects claim modules they do not live in
        if (q and callable(obj) and critical_module(q[0]) and q[0].split(".")[0] not in ANALYSIS_IGNORES
                and resolves(q[0], q[1], obj)):
            return f"calls {q[0]}.{q[1]}"
        if any(obj is f for f in (eval, exec, compile, open, __import__)):
            return f"calls builtins.{obj.__name__}"
    return ""


def main():
    mods = import_all()
    allow = {}   # (mod, qual) -> kind
    alias = {}   # (mod, name) -> (tmod, tqual)
    danger = {}  # (mod, qual) -> reason
    funcs = {}   # (mod, qual) -> function, for the transitive pass

    for mname, m in sorted(mods.items()):
        for name, obj in sorted(vars(m).items(), key=lambda kv: kv[0]):
            if name.startswith("__") and name.endswith("__"):
                continue
            q = qualname_of(obj)
            if isinstance(obj, np_ufunc):
                q = (getattr(obj, "__module__", None) or ufunc_home(obj), obj.__name__)
            if q is None:
                continue
            if q == (mname, name):
                if isinstance(obj, type):
                    full = f"{mname}.{name}"
                    if not NO_CLASSES.search(mname) and full not in NO_CLASS_NAMES:
                        allow[q] = "class"
                elif isinstance(obj, types.FunctionType):
                    funcs[q] = obj
                continue
            if q[1] and not resolves(q[0], q[1], obj):
                continue
            alias[(mname, name)] = q

    # ufuncs pickle by the module numpy keeps them in (numpy.core._multiarray_umath)
    umath = importlib.import_module("numpy.core._multiarray_umath")
    for name, obj in vars(umath).items():
        if isinstance(obj, np_ufunc):
            allow[("numpy.core._multiarray_umath", name)] = "ufunc"

    # functions that refer to dangerous modules, then the library
    # functions that call those (a fixed point: wrappers of wrappers)
    for q, fn in funcs.items():
        why = direct_danger(fn)
        if why:
            danger[q] = why
    changed = True
    while changed:
        changed = False
        for q, fn in funcs.items():
            if q in danger:
                continue
            g = fn.__globals__
            for n in code_names(fn.__code__):
                obj = g.get(n)
                t = qualname_of(obj) if callable(obj) else None
                if t in danger:
                    danger[q] = f"calls {t[0]}.{t[1]}, which {danger[t]}"
                    changed = True
                    break

    # reconstructors: what real objects' pickles use
    observed = observed_globals()
    for (mod, qual) in sorted(observed):
        if (mod, qual) in allow:
            continue
        obj = lookup(mod, qual)
        if isinstance(obj, type):
            allow[(mod, qual)] = "class"
        elif isinstance(obj, np_ufunc):
            allow[(mod, qual)] = "ufunc"
        else:
            allow[(mod, qual)] = "reconstructor"

    import sklearn.metrics
    import sklearn.metrics.pairwise
    import sklearn.feature_selection
    for modobj, names in ((sklearn.metrics, sklearn.metrics.__all__),
                          (sklearn.metrics.pairwise, list(sklearn.metrics.pairwise.PAIRWISE_KERNEL_FUNCTIONS.values())
                           + list(sklearn.metrics.pairwise.PAIRWISE_DISTANCE_FUNCTIONS.values())),
                          (sklearn.feature_selection, ["chi2", "f_classif", "f_regression", "r_regression",
                                                       "mutual_info_classif", "mutual_info_regression"])):
        for n in names:
            fn = getattr(modobj, n) if isinstance(n, str) else n
            if isinstance(fn, types.FunctionType):
                q = qualname_of(fn)
                if resolves(q[0], q[1], fn) and q not in allow:
                    allow[q] = "score-function"

    for n in PURE_BUILTINS:
        allow[("builtins", n)] = "builtin"
    for mod, n in STDLIB_ALLOW:
        allow[(mod, n)] = "stdlib"
    import collections.abc
    for n in collections.abc.__all__:
        allow[("collections.abc", n)] = "stdlib"
        allow[("_collections_abc", n)] = "stdlib"
    for line in MANUAL.strip().splitlines():
        mod, *names = line.split()
        for n in names:
            allow.setdefault((mod, n), "manual")

    # Python 2 spellings that the unpickler maps (fix_imports, protocol < 3)
    import _compat_pickle
    for (m, n), (tm, tn) in _compat_pickle.NAME_MAPPING.items():
        alias[(m, n)] = (tm, tn)
    for m, tm in _compat_pickle.IMPORT_MAPPING.items():
        alias[(m, "")] = (tm, "")

    clash = sorted(set(allow) & set(danger))
    if clash:
        for q in clash:
            print(f"REVIEW: {q[0]}.{q[1]} is allowed ({allow[q]}) but {danger[q]}", file=sys.stderr)
        sys.exit(1)
    for (mod, qual), kind in list(allow.items()):
        # joblib is on fickling's list, but its files need the array wrapper
        if critical_module(mod) and not (mod in ("joblib.numpy_pickle", "joblib.numpy_pickle_utils") or kind in ("stdlib", "builtin", "manual")):
            print(f"REVIEW: {mod}.{qual} is allowed ({kind}) but its module is critical", file=sys.stderr)
            sys.exit(1)

    # aliases are kept when they lead somewhere the scanner judges:
    # an allowed or dangerous global, a critical module, or a module
    # (so that dotted names can walk through it)
    def keep(t):
        return t in allow or t in danger or critical_module(t[0]) or t[1] == "" or t[0] in ("builtins",)
    alias = {k: v for k, v in alias.items() if keep(v)}

    out = open(os.path.join(HERE, "allowlist.tsv"), "w")
    v = gen_models.versions()
    out.write("# modelgate pickle allowlist, generated by tools/scan/pickle/gen_allowlist.py; do not edit by hand.\n")
    out.write("# " + " ".join(f"{k}={v[k]}" for k in sorted(v)) + "\n")
    out.write(f"# {len(allow)} allow, {len(alias)} alias, {len(danger)} danger, "
              f"{len(CRITICAL_MODULES) + len(CRITICAL_NAMES)} deny rows\n")
    for (mod, qual), kind in sorted(allow.items()):
        out.write(f"allow\t{mod}\t{qual}\t{kind}\n")
    for (mod, name), (tm, tq) in sorted(alias.items()):
        out.write(f"alias\t{mod}\t{name}\t{tm}\t{tq}\n")
    for (mod, qual), why in sorted(danger.items()):
        out.write(f"danger\t{mod}\t{qual}\t{why}\n")
    for mod in sorted(set(CRITICAL_MODULES)):
        out.write(f"deny\t{mod}\t*\tcode execution, processes, files or network\n")
    for mod, n in sorted(set(CRITICAL_NAMES)):
        out.write(f"deny\t{mod}\t{n}\tcode execution, processes, files or network\n")
    out.close()


import numpy as _np  # noqa: E402
np_ufunc = _np.ufunc


def ufunc_home(u):
    return "numpy.core._multiarray_umath"


def lookup(mod, qual):
    try:
        cur = importlib.import_module(mod)
        for p in qual.split("."):
            cur = getattr(cur, p)
        return cur
    except Exception:
        return None


def observed_globals():
    """Every global the corpus objects' pickles import, at protocols 0-5
    and through joblib (which adds its own wrapper)."""
    import joblib
    seen = set()
    objs = gen_models.benign_objects()
    flat = [o for d in objs.values() for o in d.values()]
    streams = [pickle.dumps(o, protocol=p) for o in flat for p in range(6)]
    for o in flat:
        b = io.BytesIO()
        joblib.dump(o, b)
        streams.append(b.getvalue())
    for data in streams:
        seen |= globals_in(data)
    return seen


def globals_in(data):
    """The (module, name) pairs a pickle stream imports, following
    STACK_GLOBAL's two preceding string pushes; joblib's raw array bytes
    after a NumpyArrayWrapper end the walk, so only complete pickles count."""
    out = set()
    strings = []
    f = io.BytesIO(data)
    while f.tell() < len(data):
        try:
            for op, arg, _ in pickletools.genops(f):
                if op.name in ("GLOBAL", "INST"):
                    mod, name = arg.split(" ", 1)
                    out.add((mod, name))
                elif op.name == "STACK_GLOBAL":
                    out.add((strings[-2], strings[-1]))
                elif isinstance(arg, str):
                    strings.append(arg)
                elif op.name in ("BINGET", "LONG_BINGET", "GET", "MEMOIZE", "BINPUT", "LONG_BINPUT", "PUT"):
                    pass
        except Exception:
            break
        if f.read(1) == b"":
            break
        f.seek(-1, 1)
    return out


if __name__ == "__main__":
    main()
