#!/usr/bin/env bash
# Peer benchmark of the evaluation tools, run from the repository root:
#   1. roc_auc + pr_auc + log_loss + brier on 10,000,000 (label, score)
#      pairs (~3% positives): modelgate vs scikit-learn.
#   2. Native inference of the fixture candidate (80 trees, depth 3) on
#      1,000,000 rows: modelgate single-threaded and on every core vs
#      xgboost's inplace_predict with nthread=1 and nthread=all.
# File reading is timed apart from computing, for both sides.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=/usr/bin/python3
N_SCORES=${N_SCORES:-10000000}
N_ROWS=${N_ROWS:-1000000}
REPS=${REPS:-3}
CORES=$(nproc)
mkdir -p bin bench/data/eval
go build -o bin/evalbench ./bench/eval/evalbench
D=bench/data/eval
[ -s "$D/scores-$N_SCORES.csv" ] || bin/evalbench -mode gen-scores -n "$N_SCORES" -data "$D/scores-$N_SCORES.csv"
[ -s "$D/features-$N_ROWS.csv" ] || bin/evalbench -mode gen-features -n "$N_ROWS" \
  -model testdata/eval/binary-breast-cancer/holdout.csv -data "$D/features-$N_ROWS.csv"
MODEL=testdata/eval/binary-breast-cancer/model-candidate.json

field() { sed -n "s/.*$1=\([^ ]*\).*/\1/p"; }

echo "== metrics on $N_SCORES pairs (best of $REPS)"
ours=$(bin/evalbench -mode metrics -data "$D/scores-$N_SCORES.csv" -reps "$REPS")
peer=$($PY bench/eval/sklearn_metrics.py "$D/scores-$N_SCORES.csv" "$REPS")
echo "modelgate:    $ours"
echo "scikit-learn: $peer"
oc=$(echo "$ours" | field compute_s); pc=$(echo "$peer" | field compute_s)
orr=$(echo "$ours" | field read_s); prr=$(echo "$peer" | field read_s)

echo "== native inference on $N_ROWS rows (best of $REPS)"
o1=$(bin/evalbench -mode infer -data "$D/features-$N_ROWS.csv" -model "$MODEL" -threads 1 -reps "$REPS")
oN=$(bin/evalbench -mode infer -data "$D/features-$N_ROWS.csv" -model "$MODEL" -threads "$CORES" -reps "$REPS")
x1=$($PY bench/eval/xgb_infer.py "$D/features-$N_ROWS.csv" "$MODEL" 1 "$REPS")
xN=$($PY bench/eval/xgb_infer.py "$D/features-$N_ROWS.csv" "$MODEL" "$CORES" "$REPS")
for l in "modelgate 1:  $o1" "modelgate $CORES:  $oN" "xgboost 1:    $x1" "xgboost $CORES:    $xN"; do echo "$l"; done

echo
# Wall time is what a user waits; CPU time (user+system of the process)
# is the work done, which on a shared machine is the fairer comparison.
ratio() { echo "$1 / $2" | bc -l; }
printf '%-46s %14s %14s %9s\n' "benchmark ($CORES cores, load $(cut -d' ' -f1 /proc/loadavg))" modelgate peer ratio
printf '%-46s %13ss %13ss %8.1fx\n' "metrics, $N_SCORES pairs, wall" "$oc" "$pc" "$(ratio "$pc" "$oc")"
occ=$(echo "$ours" | field compute_cpu_s); pcc=$(echo "$peer" | field compute_cpu_s)
printf '%-46s %13ss %13ss %8.1fx\n' "metrics, $N_SCORES pairs, CPU" "$occ" "$pcc" "$(ratio "$pcc" "$occ")"
printf '%-46s %13ss %13ss\n' "metrics file reading (CSV), wall" "$orr" "$prr"
r1=$(echo "$o1" | field rows_per_s); rx1=$(echo "$x1" | field rows_per_s)
rN=$(echo "$oN" | field rows_per_s); rxN=$(echo "$xN" | field rows_per_s)
c1=$(echo "$o1" | field rows_per_cpu_s); cx1=$(echo "$x1" | field rows_per_cpu_s)
printf '%-46s %14s %14s %8.2fx\n' "inference rows/s, 1 thread, wall" "$r1" "$rx1" "$(ratio "$r1" "$rx1")"
printf '%-46s %14s %14s %8.2fx\n' "inference rows per CPU-second, 1 thread" "$c1" "$cx1" "$(ratio "$c1" "$cx1")"
printf '%-46s %14s %14s %8.2fx\n' "inference rows/s, $CORES threads, wall" "$rN" "$rxN" "$(ratio "$rN" "$rxN")"
printf '%-46s %13.2fx %13.2fx\n' "inference scaling 1 -> $CORES threads, wall" "$(ratio "$rN" "$r1")" "$(ratio "$rxN" "$rx1")"
echo "checksums (sum of predictions) modelgate $(echo "$o1" | field checksum), xgboost $(echo "$x1" | field checksum)"
