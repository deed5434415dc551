# Measurement helpers for ci/bench/compare.sh and ci/bench/quick.sh: one wrk run against a
# target plus the CPU time and peak RSS of the target's process tree. Source it after ci/lib.sh.
# shellcheck shell=bash

# PID and its descendants (nginx: master + worker; palisade: one process, threads included).
proc_tree() {
  local p
  echo "$1"
  for p in $(pgrep -P "$1" 2>/dev/null || true); do proc_tree "$p"; done
}

# utime + stime in clock ticks, summed over the tree. /proc/PID/stat counts every thread of a
# process; fields are counted after the ")" that closes the command name.
cpu_ticks() {
  local p total=0 t
  for p in $(proc_tree "$1"); do
    t=$(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$p/stat" 2>/dev/null || echo 0)
    total=$((total + t))
  done
  echo "$total"
}

# Peak resident set size (VmHWM, kB), summed over the tree.
peak_rss_kb() {
  local p total=0 k
  for p in $(proc_tree "$1"); do
    k=$(awk '/^VmHWM/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0)
    total=$((total + ${k:-0}))
  done
  echo "$total"
}

# Waits (at most 120 s) until the tree of PID uses less than 2 clock ticks per 0.3 s: a slow
# target may still be working through requests the warm-up left queued when wrk disconnected.
wait_idle() {
  local a b
  for _ in $(seq 1 400); do
    a=$(cpu_ticks "$1"); sleep 0.3; b=$(cpu_ticks "$1")
    [ $((b - a)) -lt 2 ] && return 0
  done
  echo "warning: process $1 still busy after 120 s" >&2
}

# measure_run WORKLOAD TARGET PID PORT SCRIPT: runs wrk (DURATION, CONNS from the caller) with the
# workload's Lua script, whose done() prints a RESULT line, and prints one TSV row:
# workload target rps p50_us p99_us p999_us cpu_s_per_10k peak_rss_kb requests non_2xx socket_errors
measure_run() {
  local workload=$1 target=$2 pid=$3 port=$4 script=$5 before after out line
  before=$(cpu_ticks "$pid")
  out=$(wrk -t1 -c"$CONNS" -d"${DURATION}s" --timeout 60s --latency -s "$script" "http://127.0.0.1:$port")
  after=$(cpu_ticks "$pid")
  line=$(echo "$out" | grep '^RESULT ') || { echo "wrk printed no RESULT line for $workload/$target:" >&2; echo "$out" >&2; exit 1; }
  awk -v w="$workload" -v t="$target" -v ticks=$((after - before)) -v hz="$(getconf CLK_TCK)" \
    -v rss="$(peak_rss_kb "$pid")" '{
      for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
      rps = v["requests"] / (v["duration_us"] / 1e6)
      cpu = v["requests"] > 0 ? (ticks / hz) / v["requests"] * 10000 : 0
      printf "%s\t%s\t%.1f\t%d\t%d\t%d\t%.4f\t%d\t%d\t%d\t%d\n", w, t, rps, v["p50_us"], v["p99_us"], v["p999_us"], cpu, rss, v["requests"], v["status_errors"], v["socket_errors"]
    }' <<<"$line"
}

# profile_run WORKLOAD PID PORT SCRIPT OUT: 3 s of the workload against PID under `perf record`
# (499 Hz); writes the flat profile's top symbols (self time, >= 1 %) to OUT. Not a measured run.
profile_run() {
  local pid=$2 port=$3 script=$4 out=$5 data perf_pid
  data="$(dirname "$out")/$1.perf.data"
  perf record -q -F 499 -p "$pid" -o "$data" -- sleep 3 >/dev/null 2>&1 &
  perf_pid=$!
  wrk -t1 -c"$CONNS" -d3s --timeout 60s -s "$script" "http://127.0.0.1:$port" >/dev/null 2>&1
  wait "$perf_pid" || true
  perf report -i "$data" --stdio --no-children --sort dso,symbol --percent-limit 1 2>/dev/null \
    | grep -E '^ +[0-9.]+%' | sed -E 's/[[:space:]]+-[[:space:]]+-[[:space:]]*$//; s/[[:space:]]+$//' \
    | head -20 >"$out" || true
  rm -f "$data"
}
