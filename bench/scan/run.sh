#!/usr/bin/env bash
# Scanner throughput against sha256sum on the same files.
#   1 GiB safetensors: modelgate scan (validate + hash) vs sha256sum
#   ~200 MB PyTorch zip checkpoint: modelgate scan (walk data.pkl, check
#   every member, hash) must finish in under 2 s.
# Needs /usr/bin/python3 (data generation) and hyperfine.
set -euo pipefail
cd "$(dirname "$0")/../.."
go build -o bin/modelgate ./cmd/modelgate
DATA=${SCAN_BENCH_DATA:-bench/data/scan}   # big generated files; never committed
/usr/bin/python3 bench/scan/gen.py "$DATA" >/dev/null
ST=$DATA/big.safetensors
PT=$DATA/checkpoint.pt
bin/modelgate scan "$ST" "$PT" >/dev/null   # both must be safe (exit 0)
cat "$ST" "$PT" >/dev/null                   # warm the page cache

RUNS=${RUNS:-5}
hyperfine --style basic --warmup 1 --runs "$RUNS" --export-json "$DATA/st.json" \
  -n "modelgate scan (1 GiB safetensors)" "bin/modelgate scan --json $ST" \
  -n "sha256sum (1 GiB safetensors)" "sha256sum $ST" >&2
hyperfine --style basic --warmup 1 --runs "$RUNS" --export-json "$DATA/pt.json" \
  -n "modelgate scan (200 MB torch zip)" "bin/modelgate scan --json $PT" \
  -n "sha256sum (200 MB torch zip)" "sha256sum $PT" >&2

/usr/bin/python3 - "$DATA" "$ST" "$PT" <<'PY'
import json, os, sys
data, st, pt = sys.argv[1:]
rows = []
for name, f in (("st.json", st), ("pt.json", pt)):
    size = os.path.getsize(f)
    res = json.load(open(os.path.join(data, name)))["results"]
    for r in res:
        rows.append((r["command"], size, r["mean"], r["stddev"], size / r["mean"] / 1e6))
print(f"{'command':40} {'size MB':>8} {'mean s':>8} {'± s':>6} {'MB/s':>8}")
for c, size, m, sd, tp in rows:
    print(f"{c:40} {size/1e6:8.0f} {m:8.3f} {sd:6.3f} {tp:8.0f}")
ours, peer = rows[0][4], rows[1][4]
print(f"\nsafetensors: modelgate at {100*ours/peer:.0f}% of sha256sum's throughput (target >= 80%)")
print(f"torch zip: modelgate {rows[2][2]:.3f} s (target < 2 s)")
PY
