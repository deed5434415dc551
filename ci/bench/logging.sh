#!/usr/bin/env bash
# What the access log costs: two palisade processes side by side in one run, in front of the same
# fast nginx backend, one with PALISADE_ACCESS_LOG=true (stdout through a pipe, as on a dyno) and
# one with false. wrk alternates between them (A B A B ...) so load from other processes on the
# machine hits both alike. Prints req/s and p50/p99 of each and the throughput ratio.
#
#   ci/bench/logging.sh [--duration 5] [--rounds 3] [--connections 32] [--threads 1]
#
# Target: logging costs at most 5 % of throughput (ratio >= 0.95).
set -euo pipefail
cd "$(dirname "$0")/../.."

DURATION=5
ROUNDS=3
CONNS=32
THREADS=1
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) DURATION="$2"; shift 2 ;;
    --rounds) ROUNDS="$2"; shift 2 ;;
    --connections) CONNS="$2"; shift 2 ;;
    --threads) THREADS="$2"; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done

for tool in nginx wrk; do
  command -v "$tool" >/dev/null || { echo "ci/bench/logging.sh: $tool missing (run ci/deps.sh)" >&2; exit 2; }
done
BIN=${PALISADE_BIN:-${CARGO_TARGET_DIR:-target}/release/palisade}
[ -x "$BIN" ] || cargo build --release -p palisade

# shellcheck source=ci/lib.sh
source ci/lib.sh
BACKEND=$(free_port); LOGGED=$(free_port); SILENT=$(free_port)

start_nginx_backend "$BACKEND"
# The logged instance writes its audit lines through a pipe to a reader that counts them, as
# logplex reads a dyno's stdout; the other has the access log off (startup/summary lines only).
# (Process substitution, not a pipe: `$!` must be palisade's pid so that cleanup stops it.)
PORT=$LOGGED PALISADE_THREADS=$THREADS PALISADE_ACCESS_LOG=true "$BIN" run --upstream "127.0.0.1:$BACKEND" \
  2>"$WORK/logged.err" > >(wc -l >"$WORK/logged.lines") & PIDS+=($!)
PORT=$SILENT PALISADE_THREADS=$THREADS PALISADE_ACCESS_LOG=false "$BIN" run --upstream "127.0.0.1:$BACKEND" \
  >/dev/null 2>"$WORK/silent.err" & PIDS+=($!)

wait_port "$BACKEND"; wait_port "$LOGGED"; wait_port "$SILENT"
sleep 0.5

to_ms() { awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0; else if (v ~ /s$/) n *= 1000; printf "%.3f", n }'; }
one() {
  local port=$1 out
  out=$(wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency "http://127.0.0.1:$port/")
  echo "$(echo "$out" | awk '/Requests\/sec/ {print $2}') $(to_ms "$(echo "$out" | awk '$1=="50%" {print $2}')") $(to_ms "$(echo "$out" | awk '$1=="99%" {print $2}')")"
}

echo "logging cost: wrk -t1 -c$CONNS -d${DURATION}s GET /, $ROUNDS rounds alternating, palisade $THREADS thread(s); $(nproc) cores"
wrk -t1 -c"$CONNS" -d1s "http://127.0.0.1:$LOGGED/" >/dev/null 2>&1 # warm-up
wrk -t1 -c"$CONNS" -d1s "http://127.0.0.1:$SILENT/" >/dev/null 2>&1
sum_on=0; sum_off=0
for r in $(seq 1 "$ROUNDS"); do
  read -r on_rps on_p50 on_p99 <<<"$(one "$LOGGED")"
  read -r off_rps off_p50 off_p99 <<<"$(one "$SILENT")"
  printf "round %d: access log on %10s req/s p50 %7s ms p99 %7s ms | off %10s req/s p50 %7s ms p99 %7s ms | ratio %s\n" \
    "$r" "$on_rps" "$on_p50" "$on_p99" "$off_rps" "$off_p50" "$off_p99" "$(awk -v a="$on_rps" -v b="$off_rps" 'BEGIN { printf "%.3f", a / b }')"
  sum_on=$(awk -v s="$sum_on" -v a="$on_rps" 'BEGIN { print s + a }')
  sum_off=$(awk -v s="$sum_off" -v a="$off_rps" 'BEGIN { print s + a }')
done
awk -v a="$sum_on" -v b="$sum_off" 'BEGIN {
  r = a / b
  printf "throughput ratio logged/unlogged over all rounds: %.3f (logging costs %.1f %%; target <= 5 %%)\n", r, (1 - r) * 100
}'
