#!/usr/bin/env bash
# Audit trail benchmarks (issue 2): appends/s through the real audit.Trail
# on the embedded SQLite store with many concurrent appenders (target
# >= 20,000/s), and `modelgate audit verify` of 1,000,000 entries (target
# < 5 s), from the database and from an export file. The Python script
# bench/audit/verify_chain.py, written from the documented scheme alone,
# verifies the same export as an independent reference and a cross-check.
#
#   N=1000000 WORKERS=64 bench/audit/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

N=${N:-1000000}
WORKERS=${WORKERS:-64}
RUNS=${RUNS:-3}
DATA=bench/data/audit
PY=/usr/bin/python3

mkdir -p bin bench/data
go build -o bin/modelgate ./cmd/modelgate
go build -o bin/audit-gen ./bench/audit/gen

echo "== machine: $(nproc) cores, $(uptime | sed 's/.*load average/load average/')"
echo "== append: $N entries, $WORKERS goroutines, audit.Trail group commit, SQLite WAL synchronous=NORMAL"
rm -rf "$DATA"
bin/audit-gen -data-dir "$DATA" -n "$N" -workers "$WORKERS" | tee "$DATA.append.txt"

echo "== go test -bench BenchmarkAppendConcurrent (internal/audit)"
go test -run '^$' -bench 'BenchmarkAppendConcurrent' -benchtime 100000x ./internal/audit/ 2>/dev/null | grep -E '^Benchmark' | tee "$DATA.gobench.txt"

echo "== verify $N entries"
bin/modelgate audit verify --data-dir "$DATA"
bin/modelgate audit export --data-dir "$DATA" -o "$DATA/export.jsonl"
ls -l "$DATA/export.jsonl"

hyperfine --runs "$RUNS" --warmup 1 --export-markdown "$DATA.verify.md" \
  -n "modelgate audit verify (sqlite)" "bin/modelgate audit verify --data-dir $DATA" \
  -n "modelgate audit verify --file (export)" "bin/modelgate audit verify --file $DATA/export.jsonl --public-key $DATA/audit.key.pub" \
  -n "python reference (hashlib + cryptography, export)" "$PY bench/audit/verify_chain.py $DATA/export.jsonl $DATA/audit.key.pub"

echo "== cross-check: both verifiers agree on the head hash"
ours=$(bin/modelgate audit verify --data-dir "$DATA" --json | $PY -c 'import json,sys; print(json.load(sys.stdin)["head_hash"])')
theirs=$($PY bench/audit/verify_chain.py "$DATA/export.jsonl" "$DATA/audit.key.pub" | awk '{print $NF}')
echo "modelgate head: $ours"
echo "python head:    $theirs"
[ "$ours" = "$theirs" ] || { echo "MISMATCH"; exit 1; }

echo
echo "== summary"
cat "$DATA.append.txt"
cat "$DATA.gobench.txt"
cat "$DATA.verify.md"
