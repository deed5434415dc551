#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/fuzz_targets/ for a bounded time each and prints a table.
#
#   ci/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     (default 60 s, every target)
#
# Needs a nightly toolchain and cargo-fuzz (`rustup toolchain install nightly`,
# `cargo install cargo-fuzz`). Without them this script says so and exits 2: it does not
# pretend to have fuzzed. A crash leaves its input in fuzz/artifacts/TARGET/; turn it into a
# regression test beside the code it broke, then fix the code.
# Environment: FUZZ_TARGET_DIR (default ${CARGO_TARGET_DIR:-target}-fuzz).
set -euo pipefail
cd "$(dirname "$0")/.."

SECS=${1:-60}
shift || true
case "$SECS" in ''|*[!0-9]*) echo "usage: ci/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]" >&2; exit 64;; esac

if [ "$#" -gt 0 ]; then
  TARGETS=("$@")
else
  mapfile -t TARGETS < <(ls fuzz/fuzz_targets/*.rs | xargs -n1 basename | sed 's/\.rs$//' | sort)
fi

if ! rustup toolchain list 2>/dev/null | grep -q '^nightly' || ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  cat >&2 <<'EOF'
ci/fuzz.sh: cannot fuzz here: cargo-fuzz needs a nightly Rust toolchain (for -Zsanitizer and
libFuzzer's coverage instrumentation) and the cargo-fuzz subcommand.
Install them with:  rustup toolchain install nightly && cargo install cargo-fuzz
NOTHING WAS FUZZED. Exiting 2.
EOF
  exit 2
fi

TARGET_DIR=${FUZZ_TARGET_DIR:-${CARGO_TARGET_DIR:-$PWD/target}-fuzz}
LOGDIR=$(mktemp -d)
trap 'rm -rf "$LOGDIR"' EXIT

echo "== building fuzz targets (nightly, ASan) into $TARGET_DIR"
(cd fuzz && cargo +nightly fuzz build --release --target-dir "$TARGET_DIR" 2>&1 | tail -3)

fail=0
ROWS=()
for t in "${TARGETS[@]}"; do
  mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t"
  log="$LOGDIR/$t.log"
  start=$(date +%s)
  set +e
  (cd fuzz && cargo +nightly fuzz run --release --target-dir "$TARGET_DIR" "$t" -- \
      -max_total_time="$SECS" -rss_limit_mb=2048 -timeout=10 \
      -print_final_stats=1) >"$log" 2>&1
  rc=$?
  set -e
  took=$(( $(date +%s) - start ))
  runs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' | tail -1)
  cov=$(grep -Eo 'cov: [0-9]+' "$log" | tail -1 | grep -Eo '[0-9]+')
  if [ "$rc" -eq 0 ]; then
    result=ok
  else
    result="CRASH (exit $rc)"
    fail=1
    echo "---- $t: last lines of the libFuzzer log" >&2
    tail -40 "$log" >&2
  fi
  ROWS+=("$(printf '%-18s %8ss %12s %8s  %s' "$t" "$took" "${runs:-?}" "${cov:-?}" "$result")")
done

echo
printf '%-18s %9s %12s %8s  %s\n' target time runs coverage result
for r in "${ROWS[@]}"; do echo "$r"; done
[ "$fail" -eq 0 ] && echo "no crash in ${#TARGETS[@]} targets x ${SECS}s" || echo "CRASHES: inputs in fuzz/artifacts/"
exit "$fail"
