#!/usr/bin/env bash
# Peer benchmark of the gateway (issue 7): wrk on loopback against
#   1. the upstream directly,
#   2. modelgate gateway with a 90/10 split vs nginx split_clients 90/10,
#   3. modelgate gateway 100% shadow vs nginx split + mirror of every request,
#   4. modelgate gateway shadowing to a 200 ms upstream (primary latency must not move).
# Same upstreams, same machine, same wrk settings. Figures go to stdout as a table.
# Usage: bench/gateway/run.sh   (DURATION=10s CONNS=32 REPEAT=3 to change the load)
# Scenarios are interleaved and repeated; the table reports medians, because on a
# shared machine a single run's tail latency mostly measures the neighbours.
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${DURATION:-10s}
CONNS=${CONNS:-32}
THREADS=${THREADS:-1}
REPEAT=${REPEAT:-3}
command -v wrk >/dev/null || { echo "wrk is missing (apt-get install wrk)"; exit 2; }
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || { echo "nginx is missing (apt-get install nginx-light)"; exit 2; }

mkdir -p bin bench/data
go build -o bin/modelgate ./cmd/modelgate
go build -o bin/benchtool ./bench/gateway/benchtool
WORK=$(mktemp -d bench/data/gateway.XXXXXX)
WORK=$(cd "$WORK" && pwd)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  if [ -f "$WORK/nginx.pid" ]; then kill "$(cat "$WORK/nginx.pid")" 2>/dev/null || true; fi
  wait 2>/dev/null || true
}
trap cleanup EXIT

A=127.0.0.1:19001; B=127.0.0.1:19002; C=127.0.0.1:19003; GW=127.0.0.1:19100; NG=127.0.0.1:19200
bin/benchtool upstream --addr $A --score 0.25 & PIDS+=($!)
bin/benchtool upstream --addr $B --score 0.75 & PIDS+=($!)
bin/benchtool upstream --addr $C --score 0.25 --delay 200ms & PIDS+=($!)

wait_port() { for _ in $(seq 100); do (exec 3<>/dev/tcp/${1%:*}/${1#*:}) 2>/dev/null && return 0; sleep 0.05; done; echo "nothing listens on $1"; exit 1; }
wait_port $A; wait_port $B; wait_port $C

# --- nginx config: one server per scenario, its own pid, logs and temp paths
cat > "$WORK/nginx.conf" <<NGINX
worker_processes auto;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $WORK/body; proxy_temp_path $WORK/proxy;
  fastcgi_temp_path $WORK/fastcgi; uwsgi_temp_path $WORK/uwsgi; scgi_temp_path $WORK/scgi;
  upstream stable    { server $A; keepalive 256; }
  upstream candidate { server $B; keepalive 256; }
  split_clients "\${remote_addr}\${remote_port}\${request_id}" \$pool { 90% stable; * candidate; }
  server {
    listen $NG;
    location = /_mirror { internal; proxy_pass http://candidate\$request_uri; proxy_http_version 1.1; proxy_set_header Connection ""; }
    location /split/ {
      rewrite ^/split(/.*)\$ \$1 break;
      proxy_pass http://\$pool; proxy_http_version 1.1; proxy_set_header Connection "";
    }
    location /mirror/ {
      mirror /_mirror;
      rewrite ^/mirror(/.*)\$ \$1 break;
      proxy_pass http://\$pool; proxy_http_version 1.1; proxy_set_header Connection "";
    }
  }
}
NGINX
"$NGINX" -c "$WORK/nginx.conf" -p "$WORK" -g "daemon on;"
wait_port $NG

declare -A ALL
run() { # name url [conns]: one measured wrk run, appended to the scenario's samples
  local c=${3:-$CONNS}
  wrk -t"$THREADS" -c"$c" -d2s -s bench/gateway/post.lua "$2" >/dev/null # warm-up
  local out; out=$(wrk -t"$THREADS" -c"$c" -d"$DURATION" -s bench/gateway/post.lua "$2" | grep '^RESULT')
  local rps p50 p99 err
  rps=$(sed -E 's/.*rps=([0-9.]+).*/\1/' <<<"$out"); p50=$(sed -E 's/.*p50_ms=([0-9.]+).*/\1/' <<<"$out")
  p99=$(sed -E 's/.*p99_ms=([0-9.]+).*/\1/' <<<"$out"); err=$(sed -E 's/.*errors=([0-9]+).*/\1/' <<<"$out")
  ALL[$1]+="$rps $p50 $p99 $err;"
  printf '  %-34s %8s req/s  p50 %7s ms  p99 %8s ms  errors %s\n' "$1" "$rps" "$p50" "$p99" "$err"
}

gateway() { # start modelgate gateway on a fresh store with the given route args
  local dir="$WORK/gw-$1-$ROUND"; shift
  mkdir -p "$dir"
  bin/benchtool routes --data-dir "$dir" "$@"
  bin/modelgate gateway --addr $GW --data-dir "$dir" --log-level warn --shadow-queue 4096 >/dev/null &
  GWPID=$!; PIDS+=($GWPID)
  wait_port $GW
}
stop_gateway() { kill "$GWPID"; wait "$GWPID" 2>/dev/null || true; }

INFER=/v2/models/fraud/infer
echo "wrk -t$THREADS -c$CONNS -d$DURATION, POST one V2 row, $REPEAT rounds (medians below); $(nproc) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); load average $(cut -d' ' -f1-3 /proc/loadavg)"
for ROUND in $(seq "$REPEAT"); do
  echo "round $ROUND"
  run "upstream direct" "http://$A$INFER"
  run "1 conn: upstream direct" "http://$A$INFER" 1
  gateway split --stable http://$A --candidate http://$B --weight 10
  run "modelgate gateway 90/10" "http://$GW$INFER"
  run "1 conn: modelgate gateway 90/10" "http://$GW$INFER" 1
  stop_gateway
  run "nginx split_clients 90/10" "http://$NG/split$INFER"
  run "1 conn: nginx split_clients 90/10" "http://$NG/split$INFER" 1
  gateway shadow --stable http://$A --candidate http://$B --shadow 1.0
  run "modelgate gateway 100% shadow" "http://$GW$INFER"
  stop_gateway
  run "nginx split 90/10 + mirror all" "http://$NG/mirror$INFER"
  gateway stableonly --stable http://$A
  run "modelgate gateway, no shadow" "http://$GW$INFER"
  run "1 conn: gateway, no shadow" "http://$GW$INFER" 1
  stop_gateway
  gateway slowshadow --stable http://$A --candidate http://$C --shadow 1.0
  run "modelgate gateway, shadow 200ms" "http://$GW$INFER"
  run "1 conn: gateway, shadow 200ms" "http://$GW$INFER" 1
  stop_gateway
done

# median of field $2 (1 rps, 2 p50, 3 p99) over a scenario's rounds
med() { tr ';' '\n' <<<"${ALL[$1]}" | awk -v f="$2" 'NF { print $f }' | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
declare -A RPS P50 P99
for k in "${!ALL[@]}"; do RPS[$k]=$(med "$k" 1); P50[$k]=$(med "$k" 2); P99[$k]=$(med "$k" 3); done
echo
echo "medians:"
for k in "upstream direct" "modelgate gateway 90/10" "nginx split_clients 90/10" "modelgate gateway 100% shadow" "nginx split 90/10 + mirror all" "modelgate gateway, no shadow" "modelgate gateway, shadow 200ms" \
         "1 conn: upstream direct" "1 conn: modelgate gateway 90/10" "1 conn: nginx split_clients 90/10" "1 conn: gateway, no shadow" "1 conn: gateway, shadow 200ms"; do
  printf '  %-34s %8s req/s  p50 %7s ms  p99 %8s ms\n' "$k" "${RPS[$k]}" "${P50[$k]}" "${P99[$k]}"
done

pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f%%", 100*a/b }'; }
diff_ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.3f ms", a-b }'; }
echo
echo "| comparison | ours | peer | result |"
echo "|---|---|---|---|"
echo "| 90/10 split req/s (target ≥ 80% of nginx) | ${RPS[modelgate gateway 90/10]} | ${RPS[nginx split_clients 90/10]} | $(pct "${RPS[modelgate gateway 90/10]}" "${RPS[nginx split_clients 90/10]}") of nginx |"
echo "| 90/10 added p99 over direct, 1 connection (target < 1 ms) | $(diff_ms "${P99[1 conn: modelgate gateway 90/10]}" "${P99[1 conn: upstream direct]}") | $(diff_ms "${P99[1 conn: nginx split_clients 90/10]}" "${P99[1 conn: upstream direct]}") | p99 direct ${P99[1 conn: upstream direct]} ms |"
echo "| 90/10 added p99 over direct, $CONNS connections | $(diff_ms "${P99[modelgate gateway 90/10]}" "${P99[upstream direct]}") | $(diff_ms "${P99[nginx split_clients 90/10]}" "${P99[upstream direct]}") | p99 direct ${P99[upstream direct]} ms |"
echo "| 100% shadow req/s (target > nginx mirror) | ${RPS[modelgate gateway 100% shadow]} | ${RPS[nginx split 90/10 + mirror all]} | $(pct "${RPS[modelgate gateway 100% shadow]}" "${RPS[nginx split 90/10 + mirror all]}") of nginx |"
echo "| 100% shadow p99 (target < nginx mirror) | ${P99[modelgate gateway 100% shadow]} ms | ${P99[nginx split 90/10 + mirror all]} ms | |"
echo "| primary p50/p99 with a 200 ms shadow vs none, $CONNS conns | ${P50[modelgate gateway, shadow 200ms]} / ${P99[modelgate gateway, shadow 200ms]} ms | ${P50[modelgate gateway, no shadow]} / ${P99[modelgate gateway, no shadow]} ms | ours with vs without shadow |"
echo "| primary p50/p99 with a 200 ms shadow vs none, 1 conn | ${P50[1 conn: gateway, shadow 200ms]} / ${P99[1 conn: gateway, shadow 200ms]} ms | ${P50[1 conn: gateway, no shadow]} / ${P99[1 conn: gateway, no shadow]} ms | ours with vs without shadow |"
