#!/usr/bin/env bash
# TLS benchmark, one run, side by side: palisade's native TLS vs nginx + OpenSSL configured the
# same way (TLS 1.3 only, the same EC P-256 certificate, X25519 first), both in front of the same
# static nginx backend. Prints full-handshake throughput (openssl s_time -new: no resumption, one
# client process) and request throughput/latency over established TLS (wrk, keep-alive), then the
# palisade/nginx ratios.
#
#   ci/bench/tls.sh [--duration 10] [--connections 32] [--rounds 2]
#
# Fairness: nginx runs one worker, palisade one worker thread; both keep upstream connections
# alive and write an access log (to /dev/null). Rounds alternate nginx and palisade and the best
# handshake rate of each is kept, since the machine is shared. Everything binds loopback.
set -euo pipefail
cd "$(dirname "$0")/../.."

DURATION=10
CONNS=32
ROUNDS=2
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) DURATION="$2"; shift 2 ;;
    --connections) CONNS="$2"; shift 2 ;;
    --rounds) ROUNDS="$2"; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done

for tool in nginx wrk openssl; do
  command -v "$tool" >/dev/null || { echo "ci/bench/tls.sh: $tool missing (run ci/deps.sh)" >&2; exit 2; }
done
[ -x target/release/palisade ] || cargo build --release -p palisade

# shellcheck source=ci/lib.sh
source ci/lib.sh
BACKEND=$(free_port); NGINX=$(free_port); PALISADE=$(free_port)

# One certificate for both servers.
openssl req -x509 -nodes -days 2 -subj /CN=bench.test -addext subjectAltName=DNS:bench.test \
  -newkey ec -pkeyopt ec_paramgen_curve:P-256 -keyout "$WORK/bench.key" -out "$WORK/bench.crt" 2>/dev/null

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
    listen 127.0.0.1:$NGINX ssl;
    http2 on;
    ssl_certificate $WORK/bench.crt;
    ssl_certificate_key $WORK/bench.key;
    ssl_protocols TLSv1.3;
    ssl_ecdh_curve X25519:prime256v1:secp384r1;
    ssl_session_tickets on;
    keepalive_requests 1000000;
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto https;
    }
  }
}
EOF
# nginx before 1.25.1 has no "http2 on;" directive: fall back to "listen ... ssl http2".
if ! nginx -t -p "$WORK" -c "$WORK/proxy.conf" >/dev/null 2>&1; then
  sed -i -e '/http2 on;/d' -e "s/listen 127.0.0.1:$NGINX ssl;/listen 127.0.0.1:$NGINX ssl http2;/" "$WORK/proxy.conf"
fi
start_nginx_backend "$BACKEND"
nginx -p "$WORK" -c "$WORK/proxy.conf" & PIDS+=($!)
PORT=$PALISADE PALISADE_THREADS=1 PALISADE_TLS_CERT="$WORK/bench.crt" PALISADE_TLS_KEY="$WORK/bench.key" \
  target/release/palisade run --upstream "127.0.0.1:$BACKEND" >/dev/null 2>"$WORK/palisade.err" &
PIDS+=($!)

wait_port "$BACKEND" "$WORK/palisade.err"; wait_port "$NGINX" "$WORK/palisade.err"; wait_port "$PALISADE" "$WORK/palisade.err"
sleep 0.5

# Both must really be TLS 1.3 with X25519 and the same certificate, or the comparison is void.
for port in "$NGINX" "$PALISADE"; do
  info=$(openssl s_client -connect "127.0.0.1:$port" -servername bench.test </dev/null 2>&1)
  echo "$info" | grep -q "TLSv1.3" || { echo "port $port did not negotiate TLS 1.3" >&2; exit 1; }
  echo "$info" | grep -q "X25519" || { echo "port $port did not use X25519" >&2; exit 1; }
  echo "$info" | grep -q "CN = bench.test" || { echo "port $port served another certificate" >&2; exit 1; }
done

# Full handshakes per second: connections / real seconds from s_time.
handshakes() {
  local port=$1 out n s
  out=$(openssl s_time -connect "127.0.0.1:$port" -new -tls1_3 -time "$DURATION" 2>/dev/null)
  n=$(echo "$out" | awk '/connections in [0-9]+ real seconds/ {print $1}' | tail -1)
  s=$(echo "$out" | awk '/connections in [0-9]+ real seconds/ {print $4}' | tail -1)
  awk -v n="$n" -v s="$s" 'BEGIN { if (s > 0) printf "%.1f", n / s; else print 0 }'
}

to_ms() { awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0; else if (v ~ /s$/) n *= 1000; printf "%.3f", n }'; }
requests() {
  local name=$1 port=$2 out
  wrk -t1 -c"$CONNS" -d2s "https://127.0.0.1:$port/" >/dev/null 2>&1 # warm-up
  out=$(wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency "https://127.0.0.1:$port/")
  local rps p50 p99 errs
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p50=$(to_ms "$(echo "$out" | awk '$1=="50%" {print $2}')")
  p99=$(to_ms "$(echo "$out" | awk '$1=="99%" {print $2}')")
  errs=$(echo "$out" | awk '/Non-2xx|Socket errors/ {print}' | tr '\n' ' ')
  printf "%-10s wrk https: %10s req/s   p50 %8s ms   p99 %8s ms   %s\n" "$name" "$rps" "$p50" "$p99" "$errs"
  eval "${name}_rps=$rps; ${name}_p50=$p50; ${name}_p99=$p99"
}

echo "TLS benchmark: TLS 1.3, EC P-256 certificate, X25519; nginx $(nginx -v 2>&1 | sed 's/.*nginx\///') 1 worker + $(openssl version | awk '{print $1, $2}'), palisade 1 thread (BoringSSL); $(nproc) cores"
best_nginx=0; best_palisade=0
for r in $(seq 1 "$ROUNDS"); do
  hn=$(handshakes "$NGINX"); hp=$(handshakes "$PALISADE")
  printf "round %d: full handshakes/s (s_time -new, %ss): nginx %s, palisade %s\n" "$r" "$DURATION" "$hn" "$hp"
  best_nginx=$(awk -v a="$best_nginx" -v b="$hn" 'BEGIN { print (b > a ? b : a) }')
  best_palisade=$(awk -v a="$best_palisade" -v b="$hp" 'BEGIN { print (b > a ? b : a) }')
done
requests nginx "$NGINX"
requests palisade "$PALISADE"
# shellcheck disable=SC2154 # set by eval in requests()
awk -v hp="$best_palisade" -v hn="$best_nginx" -v pr="$palisade_rps" -v nr="$nginx_rps" -v pp="$palisade_p99" -v np="$nginx_p99" 'BEGIN {
  printf "ratio palisade/nginx: handshakes/s %.2fx (%s vs %s), https req/s %.2fx, p99 latency %.2fx\n", hp / hn, hp, hn, pr / nr, pp / np
}'
