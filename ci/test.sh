#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit + integration tests (the real binary over real
# sockets), and the buildpack test. Prints the detection figures when ../shared is present.
#
# Each step prints how long it took; the test step has a hard time limit (TEST_TIMEOUT, default
# 30m) so a hung test fails the run with a message instead of eating CI's 90 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
TEST_TIMEOUT=${TEST_TIMEOUT:-30m}
T0=$(date +%s)
step() { echo "==> [$(($(date +%s) - T0))s] $*"; }

# A fresh machine gets its Debian packages first (a no-op when everything is present).
step "ci/deps.sh"
ci/deps.sh
step "cargo fmt --check"
cargo fmt --all -- --check
step "cargo clippy (release profile: shares the BoringSSL build with the tests)"
cargo clippy --release --workspace --all-targets -- -D warnings
step "cargo build --release"
cargo build --release --workspace --bins
if [ -x ci/buildpack-test.sh ]; then
  step "ci/buildpack-test.sh"
  ci/buildpack-test.sh
fi
if [ -x ci/eval.sh ]; then
  step "ci/eval.sh (detection figures on ../shared corpora; skipped when absent)"
  ci/eval.sh || { echo "ci/eval.sh failed"; exit 1; }
fi
step "cargo test --release --workspace (limit $TEST_TIMEOUT)"
# Output goes to a file that is followed while cargo runs: a process a failed test leaves behind
# may hold its end of a pipe open, and a `| tee` would then wait for it forever.
mkdir -p target
: >target/test-output.txt
timeout -k 30 "$TEST_TIMEOUT" cargo test --release --workspace >target/test-output.txt 2>&1 &
TEST_PID=$!
tail -n +1 --pid="$TEST_PID" -f target/test-output.txt
RC=0
wait "$TEST_PID" || RC=$?
[ "$RC" -eq 124 ] && echo "ci/test.sh: cargo test exceeded $TEST_TIMEOUT and was stopped; the last test named above hung"
step "done"
# One closing line that counts all suites.
awk '/^test result:/ { p += $4; f += $6; i += $8 } END { printf "%d passed, %d failed, %d skipped\n", p, f, i }' target/test-output.txt
exit "$RC"
