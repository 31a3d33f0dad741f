#!/usr/bin/python3
"""Generate the scanner's own corpus: bypasses published against modelscan
and fickling, benign files that must stay safe, and hostile malformed input.

Run with the Debian python (numpy, scikit-learn, joblib installed):
    /usr/bin/python3 testdata/scan/gen_corpus.py

It only WRITES bytes: malicious pickles are assembled from raw opcodes or
with pickle.dumps of objects whose __reduce__ names the target; nothing is
ever unpickled. Payloads name a harmless `echo`. expected.json maps every
file to its verdict and, for unsafe files, a finding code that must appear.
"""
import collections
import io
import json
import os
import pickle
import struct
import zipfile
import zlib

import joblib
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
EXPECTED = {}


def write(rel, data, verdict, why, code=None):
    path = os.path.join(ROOT, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    e = {"verdict": verdict, "why": why}
    if code:
        e["code"] = code
    EXPECTED[rel] = e


# --- opcode helpers -------------------------------------------------------
def su(s):  # SHORT_BINUNICODE
    b = s.encode()
    return b"\x8c" + bytes([len(b)]) + b


def bu(s):  # BINUNICODE
    b = s.encode()
    return b"X" + struct.pack("<I", len(b)) + b


def bb(b):  # BINBYTES
    return b"B" + struct.pack("<I", len(b)) + b


def glob(mod, name):  # GLOBAL (text)
    return b"c" + mod.encode() + b"\n" + name.encode() + b"\n"


P4 = b"\x80\x04"
P2 = b"\x80\x02"
MEMO = b"\x94"
STACK_GLOBAL = b"\x93"
REDUCE = b"R"
BUILD = b"b"
STOP = b"."
TUPLE1, TUPLE2, TUPLE3 = b"\x85", b"\x86", b"\x87"
EMPTY_DICT, EMPTY_TUPLE, MARK, TUPLE = b"}", b")", b"(", b"t"


def binget(i):
    return b"h" + bytes([i])


def binput(i):
    return b"q" + bytes([i])


ECHO = "echo pwned"
os_system_p4 = P4 + su("os") + su("system") + STACK_GLOBAL + su(ECHO) + TUPLE1 + REDUCE + STOP

# --- malicious: the bypass corpus ------------------------------------------
# 1. strings assembled through the memo: module and name stored early,
#    fetched by BINGET / LONG_BINGET for STACK_GLOBAL
write("malicious/memo-strings.pkl",
      P4 + su("posix") + binput(7) + b"0" + su("system") + b"r" + struct.pack("<I", 70000) + b"0"
      + su("noise") + b"0" + binget(7) + b"j" + struct.pack("<I", 70000) + STACK_GLOBAL
      + su(ECHO) + TUPLE1 + REDUCE + STOP,
      "unsafe", "posix.system with both operands fetched from the memo", "scan.pickle.global")
# 1b. a harmless-looking name in the memo slot that STACK_GLOBAL uses is
#     overwritten (PUT to the same index) by the dangerous one
write("malicious/memo-overwrite.pkl",
      P4 + su("collections") + binput(0) + b"0" + su("OrderedDict") + binput(1) + b"0"
      + su("subprocess") + binput(0) + b"0" + su("check_output") + binput(1) + b"0"
      + binget(0) + binget(1) + STACK_GLOBAL + MARK + su("echo") + b"l" + TUPLE1 + REDUCE + STOP,
      "unsafe", "memo slots rebound to subprocess.check_output", "scan.pickle.global")
# 2. BUILD rewriting an allowed object's attributes
write("malicious/build-on-global.pkl",
      P2 + glob("collections", "OrderedDict") + b"N" + EMPTY_DICT + su("__reduce__") + glob("posix", "system")
      + b"s" + TUPLE2 + BUILD + STOP,
      "unsafe", "BUILD sets attributes on the OrderedDict class itself", "scan.pickle.build")
write("malicious/build-dunder-state.pkl",
      P2 + glob("collections", "OrderedDict") + EMPTY_TUPLE + REDUCE + EMPTY_DICT + su("__class__") + su("x")
      + b"s" + BUILD + STOP,
      "unsafe", "BUILD state rewrites __class__ of an allowed instance", "scan.pickle.build")
# 3. nested pickle.loads (and the C module)
write("malicious/nested-loads.pkl",
      P4 + su("pickle") + su("loads") + STACK_GLOBAL + bb(os_system_p4) + TUPLE1 + REDUCE + STOP,
      "unsafe", "pickle.loads of an inner pickle that calls os.system", "scan.pickle.global")
write("malicious/nested-_pickle-loads.pkl",
      P2 + glob("_pickle", "loads") + bb(os_system_p4) + TUPLE1 + REDUCE + STOP,
      "unsafe", "_pickle.loads", "scan.pickle.global")
# 4. operator.attrgetter chain: attrgetter('system')(os)('echo')
write("malicious/attrgetter-chain.pkl",
      P2 + glob("operator", "attrgetter") + su("system") + TUPLE1 + REDUCE
      + glob("builtins", "__import__") + su("os") + TUPLE1 + REDUCE + TUPLE1 + REDUCE
      + su(ECHO) + TUPLE1 + REDUCE + STOP,
      "unsafe", "operator.attrgetter chain", "scan.pickle.indirect_call")
# 5. functools.partial(eval, '...')()
write("malicious/functools-partial.pkl",
      P2 + glob("functools", "partial") + glob("builtins", "eval") + su("print(1)") + TUPLE2 + REDUCE
      + EMPTY_TUPLE + REDUCE + STOP,
      "unsafe", "functools.partial around eval", "scan.pickle.global")
# 6. getattr chain: getattr(__import__('os'), 'system')('echo')
write("malicious/getattr-chain.pkl",
      P2 + glob("builtins", "getattr") + glob("builtins", "__import__") + su("os") + TUPLE1 + REDUCE
      + su("system") + TUPLE2 + REDUCE + su(ECHO) + TUPLE1 + REDUCE + STOP,
      "unsafe", "builtins.getattr chain", "scan.pickle.indirect_call")
# 7. numpy __builtins__ tricks
write("malicious/numpy-builtins-dotted.pkl",
      P4 + su("numpy") + su("__builtins__") + STACK_GLOBAL + su("eval") + TUPLE1 + REDUCE + STOP,
      "unsafe", "numpy.__builtins__ reached by STACK_GLOBAL", "scan.pickle.global")
write("malicious/numpy-dotted-os.pkl",
      P4 + su("numpy.core.multiarray") + su("os.system") + STACK_GLOBAL + su(ECHO) + TUPLE1 + REDUCE + STOP,
      "unsafe", "protocol 4 dotted name walks from numpy into os.system", "scan.pickle.global")
write("malicious/numpy-testing-runstring.pkl",
      P2 + glob("numpy.testing._private.utils", "runstring") + su("import os") + EMPTY_DICT + TUPLE2 + REDUCE + STOP,
      "unsafe", "numpy.testing runstring (exec)", "scan.pickle.global")
write("malicious/sklearn-reexport-dotted.pkl",
      P4 + su("sklearn.utils._testing") + su("os.system") + STACK_GLOBAL + su(ECHO) + TUPLE1 + REDUCE + STOP,
      "unsafe", "allowed sklearn prefix used to reach os.system", "scan.pickle.global")
write("malicious/sklearn-reexport-partial.pkl",
      P4 + su("sklearn.model_selection._validation") + su("partial") + STACK_GLOBAL
      + glob("builtins", "print") + TUPLE1 + REDUCE + STOP,
      "unsafe", "functools.partial re-exported under an allowed prefix", "scan.pickle.global")
# 8. importlib.import_module('os') then getattr
write("malicious/importlib.pkl",
      P2 + glob("builtins", "getattr") + glob("importlib", "import_module") + su("os") + TUPLE1 + REDUCE
      + su("system") + TUPLE2 + REDUCE + su(ECHO) + TUPLE1 + REDUCE + STOP,
      "unsafe", "importlib.import_module", "scan.pickle.global")
# 9. INST, OBJ and NEWOBJ forms of the call
write("malicious/inst-p0.pkl", b"(S'echo pwned'\nios\nsystem\n.",
      "unsafe", "INST os.system (protocol 0)", "scan.pickle.global")
write("malicious/obj-p1.pkl", MARK + glob("posix", "system") + su(ECHO) + b"o" + STOP,
      "unsafe", "OBJ posix.system (protocol 1)", "scan.pickle.global")
write("malicious/newobj-popen.pkl",
      P2 + glob("subprocess", "Popen") + MARK + su("echo") + b"l" + TUPLE1 + b"\x81" + STOP,
      "unsafe", "NEWOBJ subprocess.Popen", "scan.pickle.global")
write("malicious/newobj-ex.pkl",
      P4 + su("subprocess") + su("run") + STACK_GLOBAL + su("echo") + TUPLE1 + EMPTY_DICT + b"\x92" + STOP,
      "unsafe", "NEWOBJ_EX subprocess.run", "scan.pickle.global")
# 10. computed import operands: str(b'os', 'ascii') from an allowed callable
write("malicious/computed-operands.pkl",
      P4 + glob("builtins", "str") + bb(b"os") + su("ascii") + TUPLE2 + REDUCE
      + su("system") + STACK_GLOBAL + su(ECHO) + TUPLE1 + REDUCE + STOP,
      "unsafe", "STACK_GLOBAL module computed at load time", "scan.pickle.unresolved")
# 11. the copyreg extension registry
write("malicious/ext1.pkl", P2 + b"\x82\x01" + su(ECHO) + TUPLE1 + REDUCE + STOP,
      "unsafe", "EXT1 imports through the copyreg registry", "scan.pickle.unresolved")
# 12. a benign pickle followed by a malicious one (read by multi-pickle loaders)
write("malicious/second-pickle.pkl",
      P4 + EMPTY_DICT + STOP + os_system_p4, "unsafe", "second pickle after STOP", "scan.pickle.global")
# 13. network and browser
write("malicious/webbrowser.pkl",
      P2 + glob("webbrowser", "open") + su("http://example.invalid") + TUPLE1 + REDUCE + STOP,
      "unsafe", "webbrowser.open", "scan.pickle.global")
write("malicious/requests-get.pkl",
      P2 + glob("requests.api", "get") + su("http://example.invalid") + TUPLE1 + REDUCE + STOP,
      "unsafe", "requests.api.get (network)", "scan.pickle.global")
write("malicious/unknown-module.pkl",
      P2 + glob("evilpkg.payload", "Loader") + EMPTY_TUPLE + REDUCE + STOP,
      "unsafe", "a module that is not on the allowlist", "scan.pickle.global")
write("malicious/torch-load-from-bytes.pkl",
      P2 + glob("torch.storage", "_load_from_bytes") + bb(os_system_p4) + TUPLE1 + REDUCE + STOP,
      "unsafe", "torch.storage._load_from_bytes (nested torch.load)", "scan.pickle.global")
# 14. the extra critical modules
for mod, name in [("runpy", "run_path"), ("pty", "spawn"), ("shutil", "rmtree"), ("socket", "create_connection"),
                  ("marshal", "loads"), ("ctypes", "CDLL"), ("asyncio", "create_subprocess_shell"),
                  ("code", "InteractiveInterpreter"), ("sys", "exit"), ("nt", "system"), ("builtins", "exec"),
                  ("builtins", "compile"), ("builtins", "open"), ("builtins", "breakpoint")]:
    write(f"malicious/deny-{mod}-{name}.pkl",
          P2 + glob(mod, name) + su("x") + TUPLE1 + REDUCE + STOP,
          "unsafe", f"{mod}.{name}", "scan.pickle.global")


# 15. renamed torch archive folders and pickles that hide behind other names
def zbytes(members, compression=zipfile.ZIP_STORED):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as z:
        for name, data in members:
            z.writestr(name, data)
    return buf.getvalue()


write("malicious/torch-renamed-folder.pt",
      zbytes([("totally_not_a_model/data.pkl", P2 + glob("posix", "system") + su(ECHO) + TUPLE1 + REDUCE + STOP),
              ("totally_not_a_model/version", b"3\n")]),
      "unsafe", "torch zip whose top folder is renamed", "scan.pickle.global")
write("malicious/torch-extra-pickle.pt",
      zbytes([("archive/data.pkl", P2 + EMPTY_DICT + STOP),
              ("archive/extra/hidden.pkl", os_system_p4),
              ("archive/version", b"3\n")]),
      "unsafe", "torch zip with a second .pkl member", "scan.pickle.global")
write("malicious/torch-pickle-no-ext.pt",
      zbytes([("archive/data.pkl", P2 + EMPTY_DICT + STOP), ("archive/data/0", os_system_p4)]),
      "unsafe", "a pickle stored under a tensor-storage name", "scan.pickle.global")
zi = zipfile.ZipInfo("archive/link")
zi.external_attr = (0o120777 << 16)
buf = io.BytesIO()
with zipfile.ZipFile(buf, "w") as z:
    z.writestr("archive/data.pkl", P2 + EMPTY_DICT + STOP)
    z.writestr(zi, "/etc/passwd")
write("malicious/zip-symlink.pt", buf.getvalue(), "unsafe", "archive member is a symlink", "scan.archive.symlink")
write("malicious/zip-slip.zip",
      zbytes([("../../etc/cron.d/x", b"* * * * * root echo pwned\n")]),
      "unsafe", "archive member escapes the extraction folder", "scan.archive.path")


# 16. object-dtype .npy: np.save writes a pickle after the header
def npy_header(descr, shape):
    h = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, shape)
    pad = 64 - (10 + len(h) + 1) % 64
    h = h + " " * pad + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h.encode()


write("malicious/object-dtype.npy", npy_header("|O", "(1,)") + os_system_p4,
      "unsafe", "object-dtype .npy whose pickle calls os.system", "scan.pickle.global")
write("malicious/object-dtype-in.npz",
      zbytes([("w.npy", npy_header("<f4", "(2,)") + b"\0" * 8), ("meta.npy", npy_header("|O", "(1,)") + os_system_p4)]),
      "unsafe", "npz member with an object dtype pickle", "scan.pickle.global")
# 17. Keras Lambda layer; ONNX external data escaping the folder; GGUF template
keras_cfg = {"class_name": "Sequential", "config": {"name": "seq", "layers": [
    {"module": "keras.layers", "class_name": "InputLayer", "config": {"name": "in", "batch_shape": [None, 4]}},
    {"module": "keras.layers", "class_name": "Lambda", "config": {"name": "evil", "function": {
        "class_name": "__lambda__", "config": {"code": "4wEAAAAAAAAAAAAAAAEAAAACAAAAQwAAAHMEAAAAfABTAKkBTqkAKQHaAXhyAgAAAHICAAAA"}}}}]}}
write("malicious/lambda.keras",
      zbytes([("metadata.json", json.dumps({"keras_version": "3.3.3"}).encode()),
              ("config.json", json.dumps(keras_cfg).encode()), ("model.weights.h5", b"\x89HDF\r\n\x1a\n")]),
      "unsafe", "Keras Lambda layer", "scan.keras.lambda")


def pb_varint(x):
    out = b""
    while True:
        b = x & 0x7F
        x >>= 7
        if x:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def pb_field(num, data):
    return pb_varint(num << 3 | 2) + pb_varint(len(data)) + data


def pb_int(num, x):
    return pb_varint(num << 3) + pb_varint(x)


def onnx_model(nodes, initializers=b"", opsets=b""):
    graph = nodes + pb_field(2, b"g") + initializers
    return pb_int(1, 8) + opsets + pb_field(7, graph)


relu = pb_field(1, pb_field(1, b"x") + pb_field(2, b"y") + pb_field(4, b"Relu"))
ext_tensor = pb_field(8, b"w") + pb_int(2, 1) + pb_field(13, pb_field(1, b"location") + pb_field(2, b"../../../etc/passwd")) + pb_int(14, 1)
write("malicious/onnx-external-escape.onnx", onnx_model(relu, pb_field(5, ext_tensor)),
      "unsafe", "ONNX external data location escapes the model folder", "scan.onnx.external_data")


def gguf(kvs, tensors=()):
    def s(x):
        b = x.encode()
        return struct.pack("<Q", len(b)) + b
    out = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kvs))
    for k, v in kvs:
        if isinstance(v, str):
            out += s(k) + struct.pack("<I", 8) + s(v)
        else:
            out += s(k) + struct.pack("<I", 4) + struct.pack("<I", v)
    for name, dims, off in tensors:
        out += s(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims) + struct.pack("<IQ", 0, off)
    out += b"\0" * ((32 - len(out) % 32) % 32)
    for name, dims, off in tensors:
        n = 1
        for d in dims:
            n *= d
        out += b"\0" * (4 * n)
    return out


write("malicious/gguf-template.gguf",
      gguf([("general.architecture", "llama"),
            ("tokenizer.chat_template", "{{ ''.__class__.__mro__[1].__subclasses__() }}")], [("w", [4], 0)]),
      "unsafe", "GGUF chat template with a Jinja sandbox escape", "scan.gguf.template")
write("malicious/config-with-aws-key.json",
      json.dumps({"model_type": "bert", "aws_access_key_id": "AKIA" + "IOSFODNN7EXAMPLE"}).encode(),
      "unsafe", "AWS key shipped in a config", "scan.secret")
write("malicious/private-key.txt",
      b"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n",
      "unsafe", "private key shipped with the model", "scan.secret")

# --- benign: must stay safe --------------------------------------------------
rng = np.random.default_rng(0)
X = rng.normal(size=(60, 4))
y = (X[:, 0] + X[:, 1] > 0).astype(int)
pipe = Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression())]).fit(X, y)
for proto in (2, 4, 5):
    write(f"benign/sklearn-pipeline-p{proto}.pkl", pickle.dumps(pipe, protocol=proto), "safe",
          f"scikit-learn Pipeline(StandardScaler, LogisticRegression), protocol {proto}")
buf = io.BytesIO()
joblib.dump(pipe, buf)
write("benign/sklearn-pipeline.joblib", buf.getvalue(), "safe", "joblib.dump of the pipeline (arrays inline)")
buf = io.BytesIO()
joblib.dump({"w": np.arange(10, dtype=np.float32), "names": np.array(["a", "b"], dtype=object)}, buf)
write("benign/joblib-object-array.joblib", buf.getvalue(), "safe", "joblib with an object array (nested pickle)")
write("benign/joblib-zlib.joblib", zlib.compress(pickle.dumps(pipe, protocol=4)), "safe", "zlib-compressed pickle as joblib writes it")
for proto in (0, 2, 5):
    write(f"benign/numpy-arrays-p{proto}.pkl",
          pickle.dumps({"a": np.arange(12, dtype=np.float64).reshape(3, 4), "b": np.int64(3), "c": np.float32(1.5),
                        "d": np.array([True, False])}, protocol=proto),
          "safe", f"numpy arrays and scalars, protocol {proto}")
sd = collections.OrderedDict([("layer.weight", np.ones((2, 3), dtype=np.float32)), ("layer.bias", np.zeros(2))])
write("benign/ordereddict-state-dict.pkl", pickle.dumps(sd, protocol=2), "safe", "OrderedDict state dict of numpy arrays")
b = io.BytesIO()
np.save(b, np.arange(6, dtype="<f8").reshape(2, 3))
write("benign/array.npy", b.getvalue(), "safe", "np.save of a float array")
b = io.BytesIO()
np.savez(b, w=np.ones(3, dtype=np.float32), b=np.arange(4))
write("benign/arrays.npz", b.getvalue(), "safe", "np.savez of two arrays")
b = io.BytesIO()
np.savez_compressed(b, w=np.zeros(1000, dtype=np.float32))
write("benign/arrays-compressed.npz", b.getvalue(), "safe", "np.savez_compressed")
write("benign/plain-p0-text.pkl", pickle.dumps({"a": [1, 2.5, "x"], "b": (None, True)}, protocol=0), "safe",
      "protocol 0 pickle that is also ASCII text")
write("benign/torch-renamed.pt",
      zbytes([("my_export/data.pkl", pickle.dumps(sd, protocol=2)), ("my_export/version", b"3\n"),
              ("my_export/data/0", b"\x80\x02\x00\x00" + b"\0" * 60)]),
      "safe", "torch-style zip with a renamed folder and a storage that starts like a pickle")
keras_ok = {"class_name": "Sequential", "config": {"name": "seq", "layers": [
    {"module": "keras.layers", "class_name": "Dense", "config": {"name": "d", "units": 1}}]}}
write("benign/dense.keras",
      zbytes([("metadata.json", json.dumps({"keras_version": "3.3.3"}).encode()),
              ("config.json", json.dumps(keras_ok).encode()), ("model.weights.h5", b"\x89HDF\r\n\x1a\n")]),
      "safe", "Keras archive without Lambda layers")
write("benign/relu-custom-domain.onnx",
      onnx_model(relu + pb_field(1, pb_field(1, b"y") + pb_field(2, b"z") + pb_field(4, b"MyOp") + pb_field(7, b"com.example")),
                 opsets=pb_field(8, pb_field(1, b"com.example") + pb_int(2, 1))),
      "safe", "custom domain is a medium finding, not unsafe", "scan.onnx.custom_domain")
write("benign/tiny.gguf", gguf([("general.architecture", "llama"), ("general.alignment", 32)], [("w", [8], 0)]), "safe",
      "valid GGUF v3")
ts_members = [("m/code/__torch__/model.py", b"class MyModule(Module):\n  def forward(self, x):\n    return x\n"),
              ("m/data.pkl", P2 + glob("__torch__", "MyModule") + EMPTY_TUPLE + b"\x81" + EMPTY_DICT + su("training") + b"\x88s" + BUILD + STOP),
              ("m/constants.pkl", P2 + glob("torch.jit._pickle", "build_intlist") + MARK + b"K\x01l" + TUPLE1 + REDUCE + TUPLE1 + STOP),
              ("m/version", b"3\n")]
write("benign/torchscript.pt", zbytes(ts_members), "safe",
      "TorchScript archive: __torch__ classes and torch.jit._pickle helpers are TorchScript's own", "scan.torch.torchscript")
write("malicious/torchscript-posix.pt",
      zbytes(ts_members[:1] + [("m/data.pkl", P2 + glob("__torch__", "system") + su(ECHO) + TUPLE1 + REDUCE + STOP)]),
      "unsafe", "a dangerous name under the TorchScript prefix", "scan.pickle.global")
frame = pd.DataFrame({"a": [1.0, 2.0], "b": ["x", "y"], "t": pd.to_datetime(["2020-01-01", "2020-01-02"])},
                     index=pd.Index([3, 4], name="i"))
write("benign/pandas-frame.pkl", pickle.dumps({"df": frame, "s": frame["a"], "cat": pd.Categorical(["a", "b"])}, protocol=4),
      "safe", "pandas DataFrame, Series and Categorical")
write("malicious/pandas-eval.pkl",
      P4 + su("pandas.core.computation.eval") + su("eval") + STACK_GLOBAL + su("1+1") + TUPLE1 + REDUCE + STOP,
      "unsafe", "pandas.eval reached through pandas.core.computation", "scan.pickle.global")
def legacy_torch(obj_pickle):
    out = pickle.dumps(0x1950a86a20f9469cfc6c, protocol=2) + pickle.dumps(1001, protocol=2)
    out += pickle.dumps({"protocol_version": 1001, "little_endian": True,
                         "type_sizes": {"short": 2, "int": 4, "long": 4}}, protocol=2)
    out += obj_pickle + pickle.dumps(["0"], protocol=2)
    return out + struct.pack("<q", 4) + b"\0" * 16  # raw storage data follows the pickles


write("benign/legacy-torch.pt", legacy_torch(pickle.dumps(sd, protocol=2)), "safe",
      "legacy (pre-1.6) torch.save stream: magic, version, sys_info, object, storage keys, raw data")
write("malicious/legacy-torch.pt", legacy_torch(os_system_p4), "unsafe",
      "legacy torch stream whose object pickle calls os.system", "scan.pickle.global")
write("benign/README.md", b"# My model\n\nTrained on public data.\n", "safe", "text file")

# --- invalid: hostile malformed input --------------------------------------
# (the big ones - a huge memo, a million nested MARKs, 10,000 zip members and a
# zlib bomb - are generated by tools/scan/hostile_test.go, not committed)
write("invalid/empty.pkl", b"", "invalid", "empty file")
write("invalid/unknown.bin", b"\x00\x01\x02\x03garbage\xff\xfe", "invalid", "unknown binary format")
write("invalid/get-unset-slot.pkl", P2 + binget(5) + STOP, "invalid", "GET of an unset memo slot")
write("invalid/unknown-opcode.pkl", P2 + b"\xff" + STOP, "invalid", "unknown opcode")
write("invalid/stack-underflow.pkl", P2 + TUPLE2 + STOP, "invalid", "stack underflow")
write("invalid/huge-string-length.pkl", P4 + b"\x8e" + struct.pack("<Q", 1 << 62) + STOP, "invalid",
      "BINBYTES8 claims 4 EiB")
write("invalid/bad-protocol.pkl", b"\x80\x09" + STOP, "invalid", "protocol 9")
# a cyclic structure is legal pickle: it must finish quickly and stay safe
write("benign/cyclic-memo.pkl", P2 + b"]" + binput(0) + binget(0) + b"a" + binget(0) + b"a" + STOP, "safe",
      "a list that contains itself (cyclic memo)")
write("invalid/safetensors-header-too-big.safetensors", struct.pack("<Q", 200_000_000) + b"{}", "invalid",
      "header length beyond the format's limit")
def st(header, data_len):
    h = header.encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + b"\0" * data_len


write("invalid/safetensors-overlap.safetensors",
      st('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}', 12),
      "invalid", "overlapping offsets")
write("invalid/safetensors-bad-dtype.safetensors",
      st('{"a":{"dtype":"F33","shape":[1],"data_offsets":[0,4]}}', 4), "invalid", "unknown dtype")
write("invalid/safetensors-metadata-int.safetensors", st('{"__metadata__":{"a":1}}', 0), "invalid",
      "__metadata__ value not a string")
write("invalid/safetensors-gap.safetensors",
      st('{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', 8), "invalid", "gap before the first tensor")
write("invalid/safetensors-tail.safetensors",
      st('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', 12), "invalid", "bytes after the last tensor")
write("invalid/safetensors-duplicate.safetensors",
      st('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', 8),
      "invalid", "duplicate tensor name")
write("invalid/safetensors-not-object.safetensors", st('[1,2,3]', 0), "invalid", "header not starting with {")
write("benign/weights-with-metadata.safetensors",
      st('{"__metadata__":{"format":"pt"},"b":{"dtype":"BF16","shape":[2],"data_offsets":[8,12]},'
         '"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"e":{"dtype":"F32","shape":[0],"data_offsets":[12,12]}}', 12),
      "safe", "unsorted header keys, a zero-size tensor, metadata")
write("invalid/truncated.npy", npy_header("<f8", "(10,)") + b"\0" * 16, "invalid", "npy data shorter than the shape")
write("invalid/truncated.gguf", gguf([("general.architecture", "llama")], [("w", [8], 0)])[:-20], "invalid",
      "GGUF tensor data cut short")
write("invalid/truncated.onnx.bin", onnx_model(relu)[:-3], "invalid", "ONNX protobuf cut short (unknown format)")
write("invalid/bomb.zip", zbytes([("zeros.bin", b"\0" * (8 << 20))], zipfile.ZIP_DEFLATED), "invalid",
      "member expands more than 1000:1")
write("invalid/nested.zip", zbytes([("inner.zip", zbytes([("data.pkl", os_system_p4)]))]), "invalid", "zip inside a zip")
write("invalid/truncated.zip", zbytes([("archive/data.pkl", P2 + EMPTY_DICT + STOP)])[:-10], "invalid", "zip cut short")

with open(os.path.join(ROOT, "expected.json"), "w") as f:
    json.dump(EXPECTED, f, indent=1, sort_keys=True)
print(f"wrote {len(EXPECTED)} files to {ROOT}")
