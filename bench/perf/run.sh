#!/usr/bin/env bash
# Issue 20: the work users wait for, modelgate against its peer in the
# same script, alternating run by run so that both see the same load:
#   1. reading CSV (10M label,score pairs; 1M rows x 23 columns) against
#      pandas.read_csv, with a check that the values are bit-identical;
#   2. native XGBoost inference (1M rows x 30 features, 80 trees of depth
#      3, then 100 trees of depth 6) against xgboost inplace_predict, 1
#      and 2 threads;
#   3. whole processes: `modelgate drift` against pandas + scipy
#      (bench/drift/peer.py) and `modelgate evaluate --resamples 0` against
#      scikit-learn (bench/eval/sklearn_metrics.py), with peak RSS.
# Wall time, CPU time (user+sys) and peak RSS come from /usr/bin/time -v.
# Usage (from anywhere): bench/perf/run.sh   (RUNS=3 by default; make bench-perf)
# BASE=<git revision> also times that revision's drift and evaluate in the
# same rounds (built from `git archive` in a temporary directory).
# ONLY=values|read|inference|drift|evaluate runs that part alone and
# generates only its data (e.g. `ONLY=evaluate RUNS=5 bench/perf/run.sh`
# alternates modelgate evaluate and scikit-learn five times).
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-/usr/bin/python3}
RUNS=${RUNS:-3}
REPS=${REPS:-3}
E=bench/data/eval
D=bench/data/drift
mkdir -p bin "$E" "$D"
go build -o bin/modelgate ./cmd/modelgate
go build -o bin/evalbench ./bench/eval/evalbench
go build -o bin/drift-gen ./bench/drift/gen
OLD=
if [ -n "${BASE:-}" ]; then
  tmp=$(mktemp -d)
  git archive "$BASE" | tar -x -C "$tmp"
  (cd "$tmp" && go build -o bin/modelgate ./cmd/modelgate)
  OLD=$tmp/bin/modelgate
fi
SCORES=$E/scores-10000000.csv
FEATS=$E/features-1000000.csv
MODEL=testdata/eval/binary-breast-cancer/model-candidate.json
DEEP=$E/model-depth6.json
ONLY=${ONLY:-}
case "$ONLY" in ""|values|read|inference|drift|evaluate) ;; *) echo "run.sh: ONLY=$ONLY: want values, read, inference, drift or evaluate" >&2; exit 2;; esac
want() { [ -z "$ONLY" ] || [ "$ONLY" = "$1" ]; }
if want values || want read || want evaluate; then
  [ -s "$SCORES" ] || bin/evalbench -mode gen-scores -n 10000000 -data "$SCORES"
fi
if want inference; then
  [ -s "$FEATS" ] || bin/evalbench -mode gen-features -n 1000000 -model testdata/eval/binary-breast-cancer/holdout.csv -data "$FEATS"
  [ -s "$DEEP" ] || "$PY" bench/perf/deep_model.py "$FEATS" "$DEEP"
fi
if want values || want read || want drift; then
  [ -s "$D/ref.csv" ] || bin/drift-gen -rows 1000000 -out "$D/ref.csv" -seed 1
fi
if want drift; then
  [ -s "$D/cur.csv" ] || bin/drift-gen -rows 1000000 -out "$D/cur.csv" -seed 2 -drift
fi

measure() { # label, command...: one line: wall, CPU (user+sys), peak RSS, and the command's read_s if it prints one
  local label=$1; shift
  local log out rc=0
  log=$(mktemp); out=$(mktemp)
  /usr/bin/time -v "$@" >"$out" 2>"$log" || rc=$?
  local wall cpu rss rd
  cpu=$(awk -F: '/User time|System time/ {s += $2} END {printf "%.2f", s}' "$log")
  wall=$(grep 'Elapsed (wall clock)' "$log" | awk '{print $NF}' | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
  rss=$(grep 'Maximum resident set size' "$log" | awk '{printf "%.0f", $NF/1024}')
  rd=$(sed -n 's/^read_s \(.*\)/\1/p' "$out" | head -1)
  printf "%-44s %7.2f s %7s s %6s MiB  %s exit %d  load %s\n" "$label" "$wall" "$cpu" "$rss" "${rd:+in-process read ${rd} s}" "$rc" "$(cut -d' ' -f1 /proc/loadavg)"
  rm -f "$log" "$out"
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $(date -u +%FT%TZ); load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "columns: label, wall, CPU (user+sys), peak RSS"

if want values; then
echo "== 1. values: per-column SHA-256 of the float64s, modelgate vs pandas (round_trip and default parsers)"
for f in "$SCORES" "$D/ref.csv"; do
  a=$(bin/evalbench -mode read -digest -data "$f" | grep -v read_s | sha256sum | cut -c1-16)
  b=$($PY bench/perf/read_peer.py "$f" --digest --round-trip | grep -v read_s | sha256sum | cut -c1-16)
  c=$($PY bench/perf/read_peer.py "$f" --digest | grep -v read_s | sha256sum | cut -c1-16)
  echo "$f: modelgate $a, pandas round_trip $b, pandas default $c $([ "$a" = "$b" ] && echo '(identical)' || echo '(DIFFERENT)')"
done

fi

if want read; then
echo "== 2. reading, whole process (pandas' in-process read_csv time beside it)"
for i in $(seq 1 "$RUNS"); do
  measure "modelgate read 10M pairs #$i" bin/evalbench -mode read -data "$SCORES"
  measure "pandas.read_csv 10M pairs #$i" "$PY" bench/perf/read_peer.py "$SCORES"
  measure "modelgate read 1M x 23 #$i" bin/evalbench -mode read -data "$D/ref.csv"
  measure "pandas.read_csv 1M x 23 #$i" "$PY" bench/perf/read_peer.py "$D/ref.csv"
done

fi

if want inference; then
echo "== 3. inference, 1M rows x 30 features, 80 trees depth 3 (predict alone, best of $REPS)"
for i in $(seq 1 "$RUNS"); do
  for t in 1 2; do
    echo "modelgate $t thread(s) #$i: $(bin/evalbench -mode infer -data "$FEATS" -model "$MODEL" -threads "$t" -reps "$REPS")"
    echo "xgboost   $t thread(s) #$i: $($PY bench/eval/xgb_infer.py "$FEATS" "$MODEL" "$t" "$REPS")"
  done
done
echo "== 3b. the same rows, 100 trees of depth 6 (xgboost's default max_depth; bench/perf/deep_model.py)"
for i in $(seq 1 "$RUNS"); do
  for t in 1 2; do
    echo "modelgate $t thread(s) #$i: $(bin/evalbench -mode infer -data "$FEATS" -model "$DEEP" -threads "$t" -reps "$REPS")"
    echo "xgboost   $t thread(s) #$i: $($PY bench/eval/xgb_infer.py "$FEATS" "$DEEP" "$t" "$REPS")"
  done
done

fi

want drift || want evaluate || exit 0
echo "== 4. whole processes: drift (1M+1M rows x 22 columns) and evaluate (10M pairs, --resamples 0)"
for i in $(seq 1 "$RUNS"); do
  if want drift; then
    measure "modelgate drift #$i" bin/modelgate drift --reference "$D/ref.csv" --current "$D/cur.csv"
    [ -z "$OLD" ] || measure "modelgate drift at $BASE #$i" "$OLD" drift --reference "$D/ref.csv" --current "$D/cur.csv"
    measure "pandas + scipy (bench/drift/peer.py) #$i" "$PY" bench/drift/peer.py "$D/ref.csv" "$D/cur.csv"
  fi
  want evaluate || continue
  measure "modelgate evaluate --resamples 0 #$i" bin/modelgate evaluate --data "$SCORES" --label label --candidate "$SCORES" --task binary --resamples 0 --json
  [ -z "$OLD" ] || measure "modelgate evaluate at $BASE #$i" "$OLD" evaluate --data "$SCORES" --label label --candidate "$SCORES" --task binary --resamples 0 --json
  measure "scikit-learn (sklearn_metrics.py) #$i" "$PY" bench/eval/sklearn_metrics.py "$SCORES" 1
done
