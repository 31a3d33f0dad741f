#!/usr/bin/python3
"""Independent oracle for the audit hash chain (internal/audit).

leaf_i = SHA-256(0x00 || canonical(entry_i without hash))
h_i    = SHA-256(0x01 || h_{i-1} || leaf_i), h_0 = 32 zero bytes

canonical() here is Python's json.dumps with sorted keys, no whitespace and
raw UTF-8, which agrees with RFC 8785 for the strings, integers and simple
decimals used below. Writes chain_oracle.json next to this script.
"""
import hashlib, json, os

def canonical(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")

events = [
    ("2026-01-02T03:04:05Z", "run.created", "run-1", "ci-bot", {"model": "fraud", "trigger": "api"}),
    ("2026-01-02T03:04:05.000000001Z", "stage.started", "run-1", "coordinator", {"stage": "test", "attempt": 1}),
    ("2026-01-02T03:04:06.5Z", "stage.finished", "run-1", "coordinator", {"stage": "test", "verdict": "pass", "metrics": {"roc_auc": 0.5, "recall": 1.25}}),
    ("2026-01-02T03:04:07.123456789Z", "decision", "run-1", "oversight", {"allow": False, "reasons": ["roc_auc dropped", "caf\u00e9 \u20ac \U0001F600"], "note": "tab\there \"quoted\" \\ back\nline"}),
    ("2026-01-02T03:04:08Z", "approval.decided", "run-1", "bob", {"z": None, "a": [], "m": {}, "n": -42}),
    ("2026-01-02T03:04:09Z", "server.started", "", "", None),
]
h = bytes(32)
entries = []
for seq, (t, typ, run, actor, data) in enumerate(events, start=1):
    e = {"actor": actor, "data": data, "run_id": run, "seq": seq, "time": t, "type": typ}
    leaf = hashlib.sha256(b"\x00" + canonical(e)).digest()
    h = hashlib.sha256(b"\x01" + h + leaf).digest()
    out = {"seq": seq, "time": t, "type": typ, "run_id": run, "actor": actor, "hash": h.hex()}
    if data is not None:
        out["data"] = data
    entries.append(out)

with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "chain_oracle.json"), "w") as f:
    json.dump({"generator": "testdata/audit/chain_oracle.py", "entries": entries}, f, indent=1, ensure_ascii=False)
    f.write("\n")
