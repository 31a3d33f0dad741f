#!/usr/bin/python3
"""Regenerate the scanner's regression corpus (testdata/scan).

Run with Debian's Python, whose scikit-learn, xgboost, pandas, numpy, scipy
and joblib are the versions the allowlist was generated from:

    /usr/bin/python3 testdata/scan/gen_models.py

real/ holds real objects pickled by the real libraries: every estimator
that sklearn.utils.all_estimators() lists (fitted on a tiny data set, so
that fitted attributes are in the pickle too), xgboost's scikit-learn
wrappers, pandas frames and numpy arrays, at pickle protocols 0-5 and
through joblib (plain, zlib, gzip). The Go test asserts they all scan safe.

bypass/ holds hand-built files, one per bypass class the scanner must
catch; expected.json says which severity and finding each must produce.
The payloads only name `echo`; nothing here must ever be unpickled.

benign_objects() is imported by tools/scan/pickle/gen_allowlist.py, which
pickles the same objects to learn which reconstructors real models use.
"""
import gzip
import io
import json
import os
import pickle
import shutil
import struct
import sys
import warnings
import zipfile
import zlib

import joblib
import numpy as np
import pandas as pd
import scipy.sparse as sp
import sklearn
import xgboost
from sklearn.base import ClassifierMixin, ClusterMixin, RegressorMixin, TransformerMixin, OutlierMixin
from sklearn.utils import all_estimators

HERE = os.path.dirname(os.path.abspath(__file__))
RNG = np.random.RandomState(0)

# Meta-estimators need an inner estimator; these are the ones a real
# pipeline would use, kept tiny.
def _inner(kind):
    from sklearn.linear_model import LogisticRegression, Ridge
    return LogisticRegression(max_iter=200) if kind == "classifier" else Ridge()


def _construct(name, cls):
    """Builds an estimator with defaults, shrinking the ensembles so that
    the corpus stays small."""
    import inspect
    params = inspect.signature(cls.__init__).parameters
    kind = "classifier" if issubclass(cls, ClassifierMixin) or name in ("GridSearchCV", "RandomizedSearchCV",
                                                                            "HalvingGridSearchCV", "HalvingRandomSearchCV",
                                                                            "Pipeline", "SelfTrainingClassifier") else "regressor"
    kw = {}
    if "estimator" in params and params["estimator"].default is inspect.Parameter.empty:
        kw["estimator"] = _inner(kind)
    if "base_estimator" in params and params["base_estimator"].default is inspect.Parameter.empty:
        kw["base_estimator"] = _inner(kind)
    if "estimators" in params:
        from sklearn.linear_model import LogisticRegression, Ridge
        from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor
        kw["estimators"] = ([("lr", LogisticRegression(max_iter=200)), ("dt", DecisionTreeClassifier(max_depth=2))]
                            if kind == "classifier" else [("r", Ridge()), ("dt", DecisionTreeRegressor(max_depth=2))])
    if name == "GridSearchCV":
        kw["param_grid"] = {"C": [0.1, 1.0]}
    if name == "RandomizedSearchCV":
        from scipy.stats import loguniform
        kw["param_distributions"] = {"C": loguniform(0.01, 10)}
        kw["n_iter"] = 2
    if name in ("HalvingGridSearchCV",):
        kw["param_grid"] = {"C": [0.1, 1.0]}
    if name in ("HalvingRandomSearchCV",):
        kw["param_distributions"] = {"C": [0.1, 1.0]}
    if name == "ColumnTransformer":
        from sklearn.preprocessing import StandardScaler
        kw["transformers"] = [("s", StandardScaler(), [0, 1])]
    if name == "FeatureUnion":
        from sklearn.decomposition import PCA
        from sklearn.preprocessing import StandardScaler
        kw["transformer_list"] = [("s", StandardScaler()), ("p", PCA(n_components=2))]
    if name == "Pipeline":
        from sklearn.preprocessing import StandardScaler
        from sklearn.linear_model import LogisticRegression
        kw["steps"] = [("s", StandardScaler()), ("lr", LogisticRegression(max_iter=200))]
    if name == "SparseCoder":
        kw["dictionary"] = RNG.rand(3, 4)
    if name == "SelectKBest":
        kw["k"] = 2
    if name in ("GaussianRandomProjection", "SparseRandomProjection"):
        kw["n_components"] = 2
    if name == "SpectralBiclustering":
        kw["n_best"] = 2
    if name == "FunctionTransformer":
        kw["func"] = np.log1p
        kw["inverse_func"] = np.expm1
    for k, v in (("n_estimators", 3), ("max_iter", 20), ("n_components", 2)):
        if k in params and k not in kw and isinstance(params[k].default, int) and params[k].default > v:
            kw[k] = v
    return cls(**kw)


def _fit(name, est):
    Xc = np.abs(RNG.rand(40, 4)) + 0.1
    yc = np.array([0, 1] * 20)
    yr = Xc @ np.array([1.0, -2.0, 0.5, 3.0])
    if name in ("MultiOutputClassifier", "ClassifierChain"):
        return est.fit(Xc, np.c_[yc, 1 - yc])
    if name in ("MultiOutputRegressor", "RegressorChain", "MultiTaskLasso", "MultiTaskElasticNet",
                "MultiTaskLassoCV", "MultiTaskElasticNetCV", "CCA", "PLSCanonical", "PLSRegression", "PLSSVD"):
        return est.fit(Xc, np.c_[yr, -yr])
    if name == "KernelCenterer":
        return est.fit(Xc @ Xc.T)
    if name in ("GammaRegressor", "PoissonRegressor", "TweedieRegressor"):
        return est.fit(Xc, np.abs(yr) + 1)
    if name in ("Pipeline", "SelfTrainingClassifier") or name.endswith("SearchCV"):
        return est.fit(Xc, yc)
    if name in ("IsotonicRegression",):
        return est.fit(Xc[:, 0], yr)
    if name in ("LabelBinarizer", "LabelEncoder", "MultiLabelBinarizer"):
        return est.fit([[0, 1], [1]] if name == "MultiLabelBinarizer" else yc)
    if name in ("DictVectorizer", "FeatureHasher"):
        return est.fit([{"a": 1.0, "b": 2.0}, {"a": 3.0}])
    if name in ("CountVectorizer", "TfidfVectorizer", "HashingVectorizer"):
        return est.fit(["a model file", "another model file"])
    if name == "TfidfTransformer":
        return est.fit(np.array([[1, 0, 2], [0, 1, 1]]))
    if isinstance(est, (ClassifierMixin,)):
        return est.fit(Xc, yc)
    if isinstance(est, RegressorMixin):
        return est.fit(Xc, yr)
    return est.fit(Xc, yc) if _needs_y(name) else est.fit(Xc)


def _needs_y(name):
    return name in ("SelectKBest", "SelectPercentile", "SelectFpr", "SelectFdr", "SelectFwe", "GenericUnivariateSelect",
                    "RFE", "RFECV", "SelectFromModel", "SequentialFeatureSelector", "LinearDiscriminantAnalysis",
                    "NeighborhoodComponentsAnalysis", "TargetEncoder")


def sklearn_estimators():
    """Every scikit-learn estimator that can be built with defaults (plus
    the inner estimators meta-estimators need), fitted. Returns
    {name: estimator}; estimators that cannot be fitted on the tiny data
    set are reported on stderr and left out."""
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, cls in all_estimators():
            try:
                out[name] = _fit(name, _construct(name, cls))
            except Exception as e:  # the corpus is a sample: report, do not stop
                print(f"skip {name}: {type(e).__name__}: {e}", file=sys.stderr)
    return out


def xgboost_models():
    X = RNG.rand(60, 4)
    y = (X[:, 0] > 0.5).astype(int)
    kw = dict(n_estimators=3, max_depth=2)
    return {
        "XGBClassifier": xgboost.XGBClassifier(**kw).fit(X, y),
        "XGBRegressor": xgboost.XGBRegressor(**kw).fit(X, X[:, 1]),
        "XGBRanker": xgboost.XGBRanker(**kw).fit(X, y, qid=np.repeat([0, 1, 2], 20)),
        "XGBRFClassifier": xgboost.XGBRFClassifier(**kw).fit(X, y),
        "XGBRFRegressor": xgboost.XGBRFRegressor(**kw).fit(X, X[:, 1]),
        "Booster": xgboost.train({"max_depth": 2}, xgboost.DMatrix(X, label=y), num_boost_round=2),
    }


def pandas_objects():
    idx = pd.date_range("2024-01-01", periods=4, freq="D", tz="UTC")
    df = pd.DataFrame({
        "f": [1.5, 2.5, np.nan, 4.0], "i": pd.array([1, None, 3, 4], dtype="Int64"),
        "s": ["a", "b", None, "d"], "c": pd.Categorical(["x", "y", "x", "z"]),
        "t": idx, "td": pd.to_timedelta([1, 2, 3, 4], unit="s"), "b": [True, False, True, False],
        "p": pd.period_range("2024-01", periods=4, freq="M"), "str": pd.array(["u", "v", "w", None], dtype="string"),
        "bool": pd.array([True, None, False, True], dtype="boolean"), "iv": pd.interval_range(0, 4),
    })
    mi = pd.MultiIndex.from_product([["a", "b"], [1, 2]], names=["k", "n"])
    return {
        "frame": df, "series": pd.Series([1.0, 2.0], index=["a", "b"], name="x"),
        "multiindex": pd.DataFrame({"v": range(4)}, index=mi), "sparse": pd.DataFrame({"s": pd.arrays.SparseArray([0, 0, 1, 0])}),
        "timestamp": pd.Timestamp("2024-01-01", tz="Europe/Paris"), "timedelta": pd.Timedelta(5, "m"),
        "period": pd.Period("2024-01", "M"), "interval": pd.Interval(0, 1), "na": pd.NA, "nat": pd.NaT,
        "float_index": pd.Index([1.5, 2.5]), "int_index": pd.Index([1, 2]),
    }


def numpy_objects():
    return {
        "f64": RNG.rand(3, 4), "f32": RNG.rand(5).astype(np.float32), "i8": np.arange(6, dtype=np.int8),
        "fortran": np.asfortranarray(RNG.rand(3, 3)), "bool": np.array([True, False]),
        "str": np.array(["a", "bc"]), "bytes": np.array([b"a", b"bc"]), "obj": np.array([1, "a", None], dtype=object),
        "struct": np.zeros(2, dtype=[("x", "<f4"), ("y", "<i8")]), "datetime": np.array(["2024-01-01"], dtype="datetime64[D]"),
        "complex": np.array([1 + 2j]), "masked": np.ma.array([1, 2, 3], mask=[0, 1, 0]),
        "scalar": np.float64(1.5), "int_scalar": np.int64(3), "dtype": np.dtype("float32"),
        "random_state": np.random.RandomState(1), "generator": np.random.default_rng(1),
        "sparse_csr": sp.random(5, 5, density=0.3, format="csr", random_state=0),
        "sparse_csc": sp.random(5, 5, density=0.3, format="csc", random_state=0),
        "sparse_coo": sp.random(5, 5, density=0.3, format="coo", random_state=0),
        "ufunc": np.log1p, "bytes_type": bytes, "builtin_len": len,
    }


def benign_objects():
    """All benign objects by group: what real model files hold."""
    return {"sklearn": sklearn_estimators(), "xgboost": xgboost_models(),
            "pandas": pandas_objects(), "numpy": numpy_objects()}


def versions():
    return {"python": sys.version.split()[0], "scikit-learn": sklearn.__version__, "xgboost": xgboost.__version__,
            "pandas": pd.__version__, "numpy": np.__version__, "scipy": __import__("scipy").__version__,
            "joblib": joblib.__version__}


# ---- malicious files, built opcode by opcode ----------------------------

def _str0(s):
    return s.encode()


def global_reduce(module, name, args, proto=2):
    """A pickle calling module.name(*args) through GLOBAL (protocol <= 3)
    or STACK_GLOBAL (protocol 4+)."""
    out = bytearray()
    if proto >= 2:
        out += b"\x80" + bytes([proto])
    if proto >= 4:
        out += _unicode(module) + _unicode(name) + b"\x93"
    else:
        out += b"c" + module.encode() + b"\n" + name.encode() + b"\n"
    out += b"("
    for a in args:
        out += _unicode(a) if proto >= 1 else b"V" + a.encode("raw_unicode_escape") + b"\n"
    out += b"tR."
    return bytes(out)


def _unicode(s):
    b = s.encode()
    return b"X" + struct.pack("<I", len(b)) + b


def npy_object_array(pickled):
    """An .npy file whose object array data is the given pickle (what
    np.load(allow_pickle=True) unpickles)."""
    header = "{'descr': '|O', 'fortran_order': False, 'shape': (1,), }"
    header += " " * (63 - (10 + len(header)) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + pickled


def zip_bytes(members, dir_mode=()):
    """A zip with the given members; those named in dir_mode carry the
    mode bits of a directory (S_IFDIR, MS-DOS directory attribute)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        for name, data in members:
            zi = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            if name in dir_mode:
                zi.external_attr = (0o40755 << 16) | 0x10
            z.writestr(zi, data)
    return buf.getvalue()


ECHO = "echo modelgate-corpus"


def malicious_files():
    """name -> (bytes, expectation). Severity is the worst finding the
    scanner must produce; code and module/name pin which rule fired."""
    sysm = ("posix", "system")
    files = {}

    def add(name, data, severity, code, glob=None, why=""):
        files[name] = (data, {"verdict": "unsafe", "severity": severity, "code": code, "global": glob, "why": why})

    add("sklearn-assert-run-python-script-p2.pkl",
        global_reduce("sklearn.utils._testing", "assert_run_python_script", ["import os; os.system('echo x')"], 2),
        "critical", "scan.pickle.global", "sklearn.utils._testing.assert_run_python_script",
        "a scikit-learn function that runs Python in a subprocess")
    add("sklearn-assert-run-python-script-p4.pkl",
        global_reduce("sklearn.utils._testing", "assert_run_python_script", ["import os; os.system('echo x')"], 4),
        "critical", "scan.pickle.global", "sklearn.utils._testing.assert_run_python_script", "the same through STACK_GLOBAL")
    add("sklearn-urlretrieve-alias.pkl",
        global_reduce("sklearn.datasets._base", "urlretrieve", ["http://127.0.0.1/x", "/tmp/x"], 2),
        "critical", "scan.pickle.global", "sklearn.datasets._base.urlretrieve", "re-export of urllib.request.urlretrieve")
    add("sklearn-np-load-dotted-p4.pkl",
        global_reduce("sklearn.utils.validation", "np.load", ["/tmp/x.npy"], 4),
        "critical", "scan.pickle.global", "sklearn.utils.validation.np.load", "a dotted name through a module alias")
    add("scipy-re-export-p4.pkl",
        global_reduce("scipy._lib._testutils", "subprocess.call", [ECHO], 4),
        "critical", "scan.pickle.global", "scipy._lib._testutils.subprocess.call", "a stdlib module re-exported by scipy")
    add("pandas-unknown-function.pkl",
        global_reduce("pandas.core.frame", "DataFrame.to_pickle", ["/tmp/x"], 4),
        "high", "scan.pickle.global", "pandas.core.frame.DataFrame.to_pickle", "a method of an allowed class is not allowed")
    add("numpy-ufunc-reconstruct.pkl",
        global_reduce("numpy.core", "_ufunc_reconstruct", ["posix", "system"], 2),
        "critical", "scan.pickle.global", "numpy.core._ufunc_reconstruct", "__import__ behind a numpy helper")
    add("builtin-eval-p0.pkl", global_reduce("__builtin__", "eval", ["1+1"], 0),
        "critical", "scan.pickle.global", "__builtin__.eval", "protocol 0 spelling of builtins.eval")
    add("posix-system-p2.pkl", global_reduce(*sysm, [ECHO], 2),
        "critical", "scan.pickle.global", "posix.system", "")
    pkl = global_reduce(*sysm, [ECHO], 2)
    npz = zip_bytes([("arr_0.npy", np.lib.format.__dict__ and npy_object_array(pkl))], dir_mode=("arr_0.npy",))
    add("npz-dir-mode-member.npz", npz, "critical", "scan.pickle.global", "posix.system",
        "an .npz member with directory mode bits, which zipfile and numpy.load read as a file")
    torch = zip_bytes([("archive/data.pkl", pkl), ("archive/version", b"3\n")], dir_mode=("archive/data.pkl",))
    add("torch-dir-mode-data-pkl.pt", torch, "critical", "scan.pickle.global", "posix.system",
        "torch.load reads data.pkl although its mode bits say directory")
    # zipfile.writestr drops the data of a name ending in "/", so the
    # member is written under a same-length name and renamed in place
    slash = zip_bytes([("archive/data.pklX", pkl), ("archive/version", b"3\n")]).replace(b"archive/data.pklX", b"archive/data.pkl/")
    add("zip-slash-name-with-data.zip", slash, "critical", "scan.pickle.global", "posix.system",
        "a member whose name ends with '/' but has data is a file to zipfile")
    hidden = zip_bytes([("archive/data.pkl", pickle.dumps({"w": [1.0]}, 2)), ("archive/extra/blob", pkl)])
    add("zip-pickle-member-by-content.zip", hidden, "critical", "scan.pickle.global", "posix.system",
        "a member named like data but holding a pickle is scanned by content")
    p0 = zip_bytes([("archive/data.pkl", pickle.dumps({"w": [1.0]}, 2)), ("archive/notes.txt", global_reduce(*sysm, [ECHO], 0))])
    add("zip-protocol0-pickle-in-txt.zip", p0, "critical", "scan.pickle.global", "posix.system",
        "a protocol 0 pickle in a member named .txt")
    benign_pickle = pickle.dumps({"weights": [0.5, 1.5]}, 2)
    trailing = zip_bytes([("archive/data.pkl", pkl), ("archive/version", b"3\n")])
    add("polyglot-pickle-zip.pt", benign_pickle + trailing, "critical", "scan.pickle.global", "posix.system",
        "a benign pickle followed by a zip whose data.pkl is malicious: zipfile and torch.load open the zip")
    add("polyglot-pickle-npy-zip.npz", benign_pickle + zip_bytes([("x.npy", npy_object_array(pkl))]),
        "critical", "scan.pickle.global", "posix.system", "a pickle followed by an npz")
    add("builtins-getattr-chain-p4.pkl",
        b"\x80\x04" + _unicode("builtins") + _unicode("getattr") + b"\x93" + _unicode("builtins") + _unicode("__import__")
        + b"\x93(" + _unicode("posix") + b"tR" + _unicode("system") + b"\x86R(" + _unicode(ECHO) + b"tR.",
        "critical", "scan.pickle.global", "builtins.getattr", "getattr(__import__('posix'), 'system')(cmd)")
    return files


def write_benign(root):
    objs = benign_objects()
    os.makedirs(root, exist_ok=True)
    everything = {}
    for group, d in objs.items():
        everything.update({f"{group}.{k}": v for k, v in d.items()})
    for proto in range(0, 6):
        # one file per protocol holding every object: small, and each
        # object's own reconstructors appear in it as they would alone
        with open(os.path.join(root, f"all-objects-p{proto}.pkl"), "wb") as f:
            pickle.dump(everything, f, protocol=proto)
    # joblib writes numpy arrays after NumpyArrayWrapper markers; object
    # groups separately so that a failure names the group
    for group, d in objs.items():
        joblib.dump(d, os.path.join(root, f"{group}.joblib"))
        joblib.dump(d, os.path.join(root, f"{group}.joblib.z"), compress=("zlib", 3))
        joblib.dump(d, os.path.join(root, f"{group}.joblib.gz"), compress=("gzip", 3))
    from sklearn.ensemble import HistGradientBoostingClassifier
    hgb = objs["sklearn"]["HistGradientBoostingClassifier"]
    assert isinstance(hgb, HistGradientBoostingClassifier)
    for proto in (0, 1, 2):
        with open(os.path.join(root, f"hist-gradient-boosting-p{proto}.pkl"), "wb") as f:
            pickle.dump(hgb, f, protocol=proto)
    np.save(os.path.join(root, "array.npy"), objs["numpy"]["f64"])
    np.savez_compressed(os.path.join(root, "arrays.npz"), a=objs["numpy"]["f64"], b=objs["numpy"]["i8"])
    objs["xgboost"]["XGBClassifier"].save_model(os.path.join(root, "xgb-classifier.json"))
    return everything


def main():
    benign = os.path.join(HERE, "real")
    malicious = os.path.join(HERE, "bypass")
    for d in (benign, malicious):
        shutil.rmtree(d, ignore_errors=True)
    everything = write_benign(benign)
    os.makedirs(malicious)
    expected = {}
    for name, (data, exp) in sorted(malicious_files().items()):
        with open(os.path.join(malicious, name), "wb") as f:
            f.write(data)
        expected[name] = exp
    with open(os.path.join(malicious, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)
        f.write("\n")
    with open(os.path.join(benign, "MANIFEST.json"), "w") as f:
        json.dump({"versions": versions(), "objects": sorted(everything)}, f, indent=1)
        f.write("\n")
    print(f"{len(everything)} benign objects, {len(expected)} malicious files", file=sys.stderr)


if __name__ == "__main__":
    main()
