#!/usr/bin/python3
"""Reference verifier for a modelgate audit export, written independently
of the Go code from the documented scheme (docs/audit.md):

  canonical = RFC 8785 JSON of {actor, data, run_id, seq, time, type}
  leaf      = SHA-256(0x00 || canonical)
  h_i       = SHA-256(0x01 || h_{i-1} || leaf), h_0 = 32 zero bytes
  checkpoint signature = Ed25519 over RFC 8785 JSON of {hash, key_id, seq, time}

json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False) is
RFC 8785 for data made of strings, integers, booleans and null, which is
what bench/audit/gen writes. Prints the entry count and head hash; exits 1
on the first mismatch.

usage: verify_chain.py EXPORT.jsonl PUBLIC_KEY.pem
"""
import hashlib, json, sys
from cryptography.hazmat.primitives.serialization import load_pem_public_key
import base64

def canonical(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()

def main(path, pub_path):
    pub = load_pem_public_key(open(pub_path, "rb").read())
    sha = hashlib.sha256
    head = bytes(32)
    expect = None
    # Pass 1: the checkpoints (they follow the entries), so that pass 2
    # keeps only the chain heads they sign instead of a million of them.
    with open(path, "rb") as f:
        cps = [json.loads(l)["checkpoint"] for l in f if l.startswith(b'{"checkpoint"')]
    want = {c["seq"] for c in cps}
    heads = {}
    n = 0
    with open(path, "rb") as f:
        hdr = json.loads(f.readline())
        assert hdr["format"] == "modelgate-audit-export", "not an export"
        expect = hdr["since"] + 1
        if hdr["since"]:
            head = bytes.fromhex(hdr["prev_hash"])
        for line in f:
            rec = json.loads(line)
            if "checkpoint" in rec:
                continue
            e = rec["entry"]
            if e["seq"] != expect:
                print(f"seq {expect}: expected, found {e['seq']}"); return 1
            c = {"actor": e.get("actor", ""), "data": e.get("data"), "run_id": e.get("run_id", ""),
                 "seq": e["seq"], "time": e["time"], "type": e["type"]}
            head = sha(b"\x01" + head + sha(b"\x00" + canonical(c)).digest()).digest()
            if head.hex() != e["hash"]:
                print(f"seq {e['seq']}: hash mismatch"); return 1
            if e["seq"] in want:
                heads[e["seq"]] = head.hex()
            expect += 1
            n += 1
    for c in cps:
        msg = canonical({"hash": c["hash"], "key_id": c["key_id"], "seq": c["seq"], "time": c["time"]})
        pub.verify(base64.b64decode(c["signature"]), msg)  # raises on a bad signature
        if heads.get(c["seq"]) != c["hash"]:
            print(f"checkpoint at seq {c['seq']}: hash mismatch"); return 1
    print(f"python reference: {n} entries intact, {len(cps)} checkpoints verified, head {head.hex()}")
    return 0

if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
