#!/usr/bin/env bash
# What the access log costs: two palisade processes side by side in one run, in front of the same
# fast nginx backend, one with PALISADE_ACCESS_LOG=true (stdout through a pipe, as on a dyno) and
# one with false. wrk alternates between them in A B B A order per round, so drift and load from
# other processes hit both alike. Prints, per round, req/s and p50/p99 of each and their ratio,
# and each palisade's CPU time per 1,000 requests (from /proc: all its threads, the audit writer
# included); then the median round ratio, the ratio over all rounds and the CPU ratio.
#
#   ci/bench/logging.sh [--duration 3] [--rounds 8] [--connections 32] [--threads 1]
#
# Target: logging costs at most 5 % of throughput (ratio >= 0.95). On a shared 2-core VM single
# rounds swing by +-10 %; the median over rounds and the CPU figure are the stable ones.
set -euo pipefail
cd "$(dirname "$0")/../.."

DURATION=3
ROUNDS=8
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
  2>"$WORK/logged.err" > >(wc -l >"$WORK/logged.lines") & PIDS+=($!); LOGGED_PID=$!
PORT=$SILENT PALISADE_THREADS=$THREADS PALISADE_ACCESS_LOG=false "$BIN" run --upstream "127.0.0.1:$BACKEND" \
  >/dev/null 2>"$WORK/silent.err" & PIDS+=($!); SILENT_PID=$!

wait_port "$BACKEND"; wait_port "$LOGGED"; wait_port "$SILENT"
sleep 0.5

to_ms() { awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0; else if (v ~ /s$/) n *= 1000; printf "%.3f", n }'; }
# CPU ticks (user + system, every thread) a process has used so far.
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# One wrk run against a port; prints "req/s p50_ms p99_ms requests cpu_ticks".
one() {
  local port=$1 pid=$2 out before after
  before=$(ticks "$pid")
  out=$(wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency "http://127.0.0.1:$port/")
  after=$(ticks "$pid")
  echo "$(echo "$out" | awk '/Requests\/sec/ {print $2}') $(to_ms "$(echo "$out" | awk '$1=="50%" {print $2}')") $(to_ms "$(echo "$out" | awk '$1=="99%" {print $2}')") $(echo "$out" | awk '/requests in/ {print $1}') $((after - before))"
}

echo "logging cost: wrk -t1 -c$CONNS -d${DURATION}s GET /, $ROUNDS rounds (A B B A), palisade $THREADS thread(s); $(nproc) cores"
wrk -t1 -c"$CONNS" -d1s "http://127.0.0.1:$LOGGED/" >/dev/null 2>&1 # warm-up
wrk -t1 -c"$CONNS" -d1s "http://127.0.0.1:$SILENT/" >/dev/null 2>&1
: >"$WORK/rounds"
for r in $(seq 1 "$ROUNDS"); do
  read -r a_rps a_p50 a_p99 a_req a_cpu <<<"$(one "$LOGGED" "$LOGGED_PID")"
  read -r b_rps b_p50 b_p99 b_req b_cpu <<<"$(one "$SILENT" "$SILENT_PID")"
  read -r c_rps c_p50 c_p99 c_req c_cpu <<<"$(one "$SILENT" "$SILENT_PID")"
  read -r d_rps d_p50 d_p99 d_req d_cpu <<<"$(one "$LOGGED" "$LOGGED_PID")"
  awk -v r="$r" -v a="$a_rps $a_p50 $a_p99 $a_req $a_cpu" -v d="$d_rps $d_p50 $d_p99 $d_req $d_cpu" \
      -v b="$b_rps $b_p50 $b_p99 $b_req $b_cpu" -v c="$c_rps $c_p50 $c_p99 $c_req $c_cpu" -v hz="$(getconf CLK_TCK)" 'BEGIN {
    split(a, A); split(b, B); split(c, C); split(d, D)
    on = (A[1] + D[1]) / 2; off = (B[1] + C[1]) / 2
    on_cpu = (A[5] + D[5]) / hz / (A[4] + D[4]) * 1e6; off_cpu = (B[5] + C[5]) / hz / (B[4] + C[4]) * 1e6
    printf "round %d: access log on %9.0f req/s p50 %6.3f p99 %6.3f ms cpu %4.1f us/req | off %9.0f req/s p50 %6.3f p99 %6.3f ms cpu %4.1f us/req | ratio %.3f\n", \
      r, on, (A[2] + D[2]) / 2, (A[3] + D[3]) / 2, on_cpu, off, (B[2] + C[2]) / 2, (B[3] + C[3]) / 2, off_cpu, on / off
    print on, off, A[4] + D[4], B[4] + C[4], A[5] + D[5], B[5] + C[5] >> "'"$WORK/rounds"'"
  }'
done
# Rounds sorted by their ratio, so the median is the middle line (mawk has no asort).
awk '{ print $1 / $2, $0 }' "$WORK/rounds" | sort -g | awk '{ ratio[NR] = $1; on += $2; off += $3; on_req += $4; off_req += $5; on_cpu += $6; off_cpu += $7 }
END {
  n = NR
  median = (n % 2) ? ratio[(n + 1) / 2] : (ratio[n / 2] + ratio[n / 2 + 1]) / 2
  cpu = (on_cpu / on_req) / (off_cpu / off_req)
  printf "throughput ratio logged/unlogged: median of %d rounds %.3f (logging costs %.1f %%), over all rounds %.3f; target <= 5 %%\n", n, median, (1 - median) * 100, on / off
  printf "palisade CPU per request logged/unlogged: %.3f (logging adds %.1f %% CPU, audit writer thread included)\n", cpu, (cpu - 1) * 100
}'
