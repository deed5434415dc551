#!/usr/bin/env bash
# The slowloris floor (issue #8): normal clients' p99 latency through palisade without and with
# N slowloris connections trickling request heads, side by side in one run, and how long the
# slowloris connections lived (each must be closed within the header deadline).
#
#   ci/bench/slowloris.sh [--connections 500] [--duration 10] [--header-timeout 10s] [--clients 16]
#
# The app is a one-worker nginx returning a static body (so the proxy, not the app, is
# measured); palisade runs with 1 worker thread. Everything binds loopback. Exit status 1 when
# the p99 ratio exceeds 2 or a slowloris connection outlived the deadline by more than 1 s.
set -euo pipefail
cd "$(dirname "$0")/../.."

SLOW=500
DURATION=10
HEADER_TIMEOUT=10s
CLIENTS=16
while [ $# -gt 0 ]; do
  case "$1" in
    --connections) SLOW="$2"; shift 2 ;;
    --duration) DURATION="$2"; shift 2 ;;
    --header-timeout) HEADER_TIMEOUT="$2"; shift 2 ;;
    --clients) CLIENTS="$2"; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
for tool in nginx wrk python3; do
  command -v "$tool" >/dev/null || { echo "ci/bench/slowloris.sh: $tool missing (run ci/deps.sh)" >&2; exit 2; }
done
BIN=${PALISADE_BIN:-target/release/palisade}
[ -x "$BIN" ] || cargo build --release -p palisade

# shellcheck source=ci/lib.sh
source ci/lib.sh
BACKEND=$(free_port); PALISADE=$(free_port)
start_nginx_backend "$BACKEND"
PORT=$PALISADE PALISADE_THREADS=1 PALISADE_HEADER_TIMEOUT=$HEADER_TIMEOUT PALISADE_ACCESS_LOG=false \
  PALISADE_MAX_CONCURRENT_PER_IP=off PALISADE_MAX_INFLIGHT=off \
  "$BIN" run --upstream "127.0.0.1:$BACKEND" >/dev/null 2>"$WORK/palisade.err" & PIDS+=($!)
wait_port "$BACKEND"; wait_port "$PALISADE" "$WORK/palisade.err"
sleep 0.5

# wrk's p99 in milliseconds.
p99_ms() {
  awk '$1=="99%" { v=$2; u=v; gsub(/[0-9.]/,"",u); gsub(/[a-z]/,"",v);
       if (u=="us") v/=1000; else if (u=="s") v*=1000; printf "%.2f", v }' "$1"
}
rps() { awk '/Requests\/sec/ { print $2 }' "$1"; }

wrk -t2 -c"$CLIENTS" -d"${DURATION}s" --latency "http://127.0.0.1:$PALISADE/" >"$WORK/base.txt"

# Slowloris for the whole second measurement plus the deadline, so connections are cut and
# reopened while wrk runs.
SECS=$(python3 -c "import re,sys; t='$HEADER_TIMEOUT'; m=re.fullmatch(r'(\d+)(ms|s|m)?',t); n=int(m[1]); u=m[2] or 's'; print(n/1000 if u=='ms' else n*60 if u=='m' else n)")
SL_DURATION=$(python3 -c "print($DURATION + $SECS + 3)")
python3 ci/bench/slowloris_client.py "$PALISADE" "$SLOW" "$SL_DURATION" 1 >"$WORK/slow.json" & SL=$!
PIDS+=("$SL")
sleep 3
wrk -t2 -c"$CLIENTS" -d"${DURATION}s" --latency "http://127.0.0.1:$PALISADE/" >"$WORK/attack.txt"
wait "$SL" || true

B=$(p99_ms "$WORK/base.txt"); A=$(p99_ms "$WORK/attack.txt")
RATIO=$(python3 -c "print(round($A/$B, 2) if $B > 0 else 0)")
echo
echo "palisade $("$BIN" --version 2>/dev/null | head -1), 1 worker thread, header_timeout=$HEADER_TIMEOUT, $CLIENTS wrk connections, ${DURATION}s each"
printf '%-34s %10s %12s\n' "" "req/s" "p99 (ms)"
printf '%-34s %10s %12s\n' "normal clients alone" "$(rps "$WORK/base.txt")" "$B"
printf '%-34s %10s %12s\n' "with $SLOW slowloris connections" "$(rps "$WORK/attack.txt")" "$A"
echo "p99 ratio (with / without): $RATIO  (floor: <= 2)"
echo "slowloris connections: $(cat "$WORK/slow.json")"
MAXLIFE=$(python3 -c "import json; print(json.load(open('$WORK/slow.json'))['max_lifetime_s'] or 0)")
echo "longest slowloris connection: ${MAXLIFE}s (deadline ${SECS}s)"
python3 - "$RATIO" "$MAXLIFE" "$SECS" <<'EOF'
import sys
ratio, life, deadline = map(float, sys.argv[1:])
ok = ratio <= 2 and life <= deadline + 1
print("FLOOR MET" if ok else "FLOOR NOT MET")
sys.exit(0 if ok else 1)
EOF
