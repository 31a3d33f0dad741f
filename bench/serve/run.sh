#!/usr/bin/env bash
# Load test of `modelgate serve`: single-row V2 infer requests of the
# fixture candidate (80 trees, depth 3, 30 features) on loopback, with wrk.
# Target: >= 20,000 requests/s with p99 < 5 ms. wrk shares the machine's
# cores with the server, as it would on a one-box deployment.
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${DURATION:-15s}
CONNS=${CONNS:-8}
THREADS=${THREADS:-1}
mkdir -p bin bench/data/serve
go build -o bin/modelgate ./cmd/modelgate
command -v wrk >/dev/null || { echo "wrk not installed (apt-get install wrk)"; exit 1; }

# One holdout row as a [1, 30] FP64 tensor.
row=$(sed -n 2p testdata/eval/binary-breast-cancer/holdout.csv | cut -d, -f1-30 | sed 's/,,/,null,/g; s/^,/null,/; s/,$/,null/')
cat > bench/data/serve/infer.lua <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"inputs":[{"name":"input-0","shape":[1,30],"datatype":"FP64","data":[$row]}]}'
LUA

bin/modelgate serve --model fraud=testdata/eval/binary-breast-cancer/model-candidate.json --addr 127.0.0.1:0 \
  > bench/data/serve/serve.out 2> bench/data/serve/serve.log &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
for _ in $(seq 50); do grep -q '^listening on ' bench/data/serve/serve.out 2>/dev/null && break; sleep 0.1; done
url=$(sed -n 's/^listening on //p' bench/data/serve/serve.out)
echo "server: $url (pid $pid), $(nproc) cores shared with wrk"
curl -sf -X POST -H 'Content-Type: application/json' --data "$(sed -n "s/^wrk.body = '\(.*\)'$/\1/p" bench/data/serve/infer.lua)" "$url/v2/models/fraud/infer"; echo
# warm-up, then the measured run
wrk -t"$THREADS" -c"$CONNS" -d3s -s bench/data/serve/infer.lua "$url/v2/models/fraud/infer" > /dev/null
wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -s bench/data/serve/infer.lua "$url/v2/models/fraud/infer" | tee bench/data/serve/wrk.txt
rps=$(sed -n 's/^Requests\/sec: *//p' bench/data/serve/wrk.txt)
p99=$(awk '$1=="99%"{print $2}' bench/data/serve/wrk.txt)
errors=$(curl -s "$url/metrics" | grep '^modelgate_model_requests_total' || true)
echo
printf '%-40s %s\n' "requests/s (target >= 20000)" "$rps" "p99 latency (target < 5ms)" "$p99"
echo "$errors"
