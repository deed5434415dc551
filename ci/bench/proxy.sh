#!/usr/bin/env bash
# Side-by-side proxy benchmark, one run: wrk against (1) a fast backend directly, (2) nginx as a
# plain reverse proxy in front of it, (3) bare Pingora (crates/palisade-proxy/examples/
# bare_pingora.rs: no filters, the framework's own ceiling), (4) a bare HTTP/1 relay on
# pingora-core without pingora-proxy (crates/palisade-proxy/examples/core_h1.rs: what an own
# HTTP/1 loop could reach at best), (5) palisade --upstream in front of it. Prints req/s, p50/p99,
# the palisade/nginx ratios (the floor), palisade/pingora (what Palisade adds) and pingora/nginx
# and core_h1/nginx (what the framework costs), plus palisade's idle RSS.
#
#   ci/bench/proxy.sh [--duration 10] [--rounds 3] [--connections 32] [--path /]
#
# The five are measured in turn, round after round (--rounds, default 3), and each figure is
# the median of its rounds: on a shared 2-core machine one measurement of each, taken a minute
# apart, moved the palisade/nginx ratio by ±0.15 between runs; interleaving the rounds puts
# every target under the same drift.
#
# Fairness: nginx runs one worker and palisade one worker thread; both write an access log line
# per request (to /dev/null); both keep upstream connections alive. Everything binds loopback.
set -euo pipefail
cd "$(dirname "$0")/../.."

DURATION=10
ROUNDS=3
CONNS=32
REQ_PATH="/"
THREADS=1
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) DURATION="$2"; shift 2 ;;
    --rounds) ROUNDS="$2"; shift 2 ;;
    --connections) CONNS="$2"; shift 2 ;;
    --path) REQ_PATH="$2"; shift 2 ;;
    --threads) THREADS="$2"; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done

for tool in nginx wrk; do
  command -v "$tool" >/dev/null || { echo "ci/bench/proxy.sh: $tool missing (run ci/deps.sh)" >&2; exit 2; }
done
[ -x target/release/palisade ] || cargo build --release -p palisade
[ -x target/release/examples/bare_pingora ] || cargo build --release -p palisade-proxy --example bare_pingora
[ -x target/release/examples/core_h1 ] || cargo build --release -p palisade-proxy --example core_h1

# shellcheck source=ci/lib.sh
source ci/lib.sh
BACKEND=$(free_port); NGINX=$(free_port); PINGORA=$(free_port); CORE=$(free_port); PALISADE=$(free_port)

# One nginx binary, two configs: a fast static backend and a plain reverse proxy.
cat > "$WORK/proxy.conf" <<EOF
worker_processes 1;
daemon off;
pid $WORK/proxy.pid;
error_log /dev/null crit;
events { worker_connections 4096; }
http {
  access_log /dev/null;
  upstream app { server 127.0.0.1:$BACKEND; keepalive 128; }
  server {
    listen 127.0.0.1:$NGINX;
    keepalive_requests 1000000;
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
    }
  }
}
EOF
start_nginx_backend "$BACKEND"
nginx -p "$WORK" -c "$WORK/proxy.conf" & PIDS+=($!)
PORT=$PINGORA UPSTREAM="127.0.0.1:$BACKEND" THREADS=$THREADS target/release/examples/bare_pingora \
  >/dev/null 2>"$WORK/pingora.err" & PIDS+=($!)
PORT=$CORE UPSTREAM="127.0.0.1:$BACKEND" THREADS=$THREADS target/release/examples/core_h1 \
  >/dev/null 2>"$WORK/core_h1.err" & PIDS+=($!)
PORT=$PALISADE PALISADE_THREADS=$THREADS target/release/palisade run --upstream "127.0.0.1:$BACKEND" \
  >/dev/null 2>"$WORK/palisade.err" & PALISADE_PID=$!
PIDS+=("$PALISADE_PID")

wait_port "$BACKEND"; wait_port "$NGINX"; wait_port "$PINGORA"; wait_port "$CORE"; wait_port "$PALISADE"
sleep 0.5
IDLE_RSS_KB=$(awk '/VmRSS/ {print $2}' "/proc/$PALISADE_PID/status")

# wrk's --latency prints percentiles; convert them to milliseconds.
to_ms() { awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0; else if (v ~ /s$/) n *= 1000; printf "%.3f", n }'; }
run() {
  local name=$1 port=$2 round=$3
  wrk -t1 -c"$CONNS" -d2s "http://127.0.0.1:$port$REQ_PATH" >/dev/null 2>&1 # warm-up
  local out
  out=$(wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency "http://127.0.0.1:$port$REQ_PATH")
  local rps p50 p99 errs
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p50=$(to_ms "$(echo "$out" | awk '$1=="50%" {print $2}')")
  p99=$(to_ms "$(echo "$out" | awk '$1=="99%" {print $2}')")
  errs=$(echo "$out" | awk '/Non-2xx|Socket errors/ {print}' | tr '\n' ' ')
  printf "round %d  %-10s %12s req/s   p50 %8s ms   p99 %8s ms   %s\n" "$round" "$name" "$rps" "$p50" "$p99" "$errs"
  echo "$name $rps $p50 $p99" >> "$WORK/results"
}

echo "proxy benchmark: wrk -t1 -c$CONNS -d${DURATION}s GET $REQ_PATH, $ROUNDS rounds  (nginx 1 worker, palisade $THREADS thread(s)); $(nproc) cores"
for round in $(seq 1 "$ROUNDS"); do
  run direct "$BACKEND" "$round"
  run nginx "$NGINX" "$round"
  run pingora "$PINGORA" "$round"
  run core_h1 "$CORE" "$round"
  run palisade "$PALISADE" "$round"
done
# Medians per target, then the ratios of the medians.
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
echo "median of $ROUNDS rounds:"
for name in direct nginx pingora core_h1 palisade; do
  rps=$(awk -v n="$name" '$1 == n {print $2}' "$WORK/results" | median)
  p50=$(awk -v n="$name" '$1 == n {print $3}' "$WORK/results" | median)
  p99=$(awk -v n="$name" '$1 == n {print $4}' "$WORK/results" | median)
  printf "%-10s %12.0f req/s   p50 %8.3f ms   p99 %8.3f ms\n" "$name" "$rps" "$p50" "$p99"
  eval "${name}_rps=$rps; ${name}_p50=$p50; ${name}_p99=$p99"
done
# shellcheck disable=SC2154 # set by eval above
awk -v pr="$palisade_rps" -v nr="$nginx_rps" -v gr="$pingora_rps" -v pp="$palisade_p99" -v np="$nginx_p99" \
  -v gp="$pingora_p99" -v cr="$core_h1_rps" -v cp="$core_h1_p99" -v rss="$IDLE_RSS_KB" 'BEGIN {
  printf "ratio palisade/nginx: throughput %.2fx, p99 latency %.2fx; palisade idle RSS %.1f MB\n", pr / nr, pp / np, rss / 1024
  printf "ratio palisade/pingora (what Palisade adds): throughput %.2fx, p99 latency %.2fx\n", pr / gr, pp / gp
  printf "ratio pingora/nginx (the framework ceiling): throughput %.2fx, p99 latency %.2fx\n", gr / nr, gp / np
  printf "ratio core_h1/nginx (an own HTTP/1 loop on pingora-core, no filters): throughput %.2fx, p99 latency %.2fx\n", cr / nr, cp / np
}'
