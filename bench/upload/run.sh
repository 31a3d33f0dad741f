#!/usr/bin/env bash
# Upload throughput: `modelgate upload` of a new 1 GiB artifact (hashed while it
# streams, POST /v1/blobs) against
# `curl -T` of the same file to the same server's PUT /v1/blobs, both over
# loopback into a fresh blob store each time (the server hashes and fsyncs
# either way). modelgate's figure includes hashing the file first (it must
# know the digest to name the blob); curl's does not, and gets the digest
# from sha256sum beforehand. A second upload of the same file must send no
# bytes (HEAD finds it).
# Needs curl and hyperfine (apt-get install curl hyperfine).
set -euo pipefail
cd "$(dirname "$0")/../.."
go build -o bin/modelgate ./cmd/modelgate
DATA=${DATA:-bench/data/upload}
mkdir -p "$DATA"
F=$DATA/model-1g.bin
[ -f "$F" ] || head -c $((1 << 30)) /dev/urandom > "$F"
DIGEST=sha256:$(sha256sum "$F" | cut -d' ' -f1)
cat "$F" > /dev/null # page cache

SRV=$DATA/server
rm -rf "$SRV"
bin/modelgate server --data-dir "$SRV" --addr 127.0.0.1:18480 --gateway-addr 127.0.0.1:18481 --log-level warn &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
for _ in $(seq 50); do [ -f "$SRV/initial-tokens.yaml" ] && curl -fs http://127.0.0.1:18480/healthz >/dev/null && break; sleep 0.2; done
TOKEN=$(awk '$1=="-" && $2=="token:" {tok=$3} $1=="name:" && $2=="ci" {print tok; exit}' "$SRV/initial-tokens.yaml")
export MODELGATE_SERVER=http://127.0.0.1:18480 MODELGATE_TOKEN=$TOKEN
CLEAN="rm -rf $SRV/blobs/sha256"

RUNS=${RUNS:-5}
hyperfine --style basic --runs "$RUNS" --prepare "$CLEAN" --export-json "$DATA/upload.json" \
  -n "modelgate upload (new file: hashed while streamed, 1 GiB)" "MODELGATE_UPLOAD_CACHE=$DATA/cache-\$RANDOM bin/modelgate upload $F" \
  -n "curl -T (PUT only, 1 GiB)" "curl -fsS -o /dev/null -T $F -H 'Authorization: Bearer $TOKEN' $MODELGATE_SERVER/v1/blobs/$DIGEST" >&2

bin/modelgate upload "$F" >/dev/null
start=$(date +%s.%N)
bin/modelgate upload "$F" 2>&1 >/dev/null | grep -c uploading || true
end=$(date +%s.%N)

/usr/bin/python3 - "$DATA/upload.json" "$start" "$end" <<'PY'
import json, sys
res = json.load(open(sys.argv[1]))["results"]
size = 1 << 30
print(f"{'command':40} {'mean s':>8} {'± s':>6} {'MiB/s':>8}")
for r in res:
    print(f"{r['command']:40} {r['mean']:8.3f} {r['stddev']:6.3f} {size/r['mean']/2**20:8.0f}")
ours, peer = res[0]["mean"], res[1]["mean"]
print(f"\nmodelgate upload takes {100*ours/peer:.0f}% of curl -T's time (goal: within 110%)")
print(f"second upload of the same file (HEAD only): {float(sys.argv[3]) - float(sys.argv[2]):.3f} s")
PY
