#!/usr/bin/env bash
# Drift benchmark: modelgate drift vs pandas + scipy on 1,000,000 rows ×
# (20 numeric + 2 categorical) reference and current CSVs, and the
# streaming mode on a current file ten times its memory budget.
# Usage: bench/drift/run.sh   (from anywhere; data is cached in bench/data/)
set -euo pipefail
cd "$(dirname "$0")/../.."
ROWS=${ROWS:-1000000}
BIG_ROWS=${BIG_ROWS:-4300000}
BUDGET=${BUDGET:-64MiB}
PY=${PY:-/usr/bin/python3}
DATA=bench/data/drift
mkdir -p "$DATA" bin
go build -o bin/modelgate ./cmd/modelgate
go build -o bin/drift-gen ./bench/drift/gen
[ -f "$DATA/ref.csv" ] || bin/drift-gen -rows "$ROWS" -out "$DATA/ref.csv" -seed 1
[ -f "$DATA/cur.csv" ] || bin/drift-gen -rows "$ROWS" -out "$DATA/cur.csv" -seed 2 -drift
[ -f "$DATA/big.csv" ] || bin/drift-gen -rows "$BIG_ROWS" -out "$DATA/big.csv" -seed 3 -drift

measure() { # label, command...: prints "label wall_s max_rss_mib exit"
  local label=$1; shift
  local log; log=$(mktemp)
  local rc=0
  /usr/bin/time -v "$@" >"$log.out" 2>"$log" || rc=$?
  local wall rss cpu
  cpu=$(awk -F: '/User time|System time/ {s += $2} END {printf "%.1f", s}' "$log")
  wall=$(grep 'Elapsed (wall clock)' "$log" | awk '{print $NF}' | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
  rss=$(grep 'Maximum resident set size' "$log" | awk '{printf "%.0f", $NF/1024}')
  printf "%-34s %8.2f s %8s s %8s MiB  exit %d\n" "$label" "$wall" "$cpu" "$rss" "$rc"
  tail -n 2 "$log.out" | sed 's/^/    /'
  rm -f "$log" "$log.out"
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "big.csv is $(( $(stat -c %s "$DATA/big.csv") / 1048576 )) MiB for a $BUDGET budget"
echo "data: $(du -h "$DATA/ref.csv" | cut -f1) reference, $(du -h "$DATA/cur.csv" | cut -f1) current ($ROWS rows each), $(du -h "$DATA/big.csv" | cut -f1) big ($BIG_ROWS rows)"
echo
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) (the machine is shared; CPU time is the steadier figure)"
printf "%-34s %10s %10s %12s\n" "run" "wall" "CPU" "peak RSS"
# Alternate the two so that both see the same (shared, varying) load.
for i in $(seq 1 "${RUNS:-2}"); do
  measure "modelgate drift (in memory) #$i" bin/modelgate drift --reference "$DATA/ref.csv" --current "$DATA/cur.csv"
  measure "pandas + scipy (peer.py) #$i" "$PY" bench/drift/peer.py "$DATA/ref.csv" "$DATA/cur.csv"
done
measure "modelgate drift --stream ($BUDGET)" bin/modelgate drift --reference "$DATA/ref.csv" --current "$DATA/big.csv" --stream --memory-budget "$BUDGET"
