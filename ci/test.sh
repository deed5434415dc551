#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit + integration tests (the real binary over real
# sockets), and the buildpack test. Prints the detection figures when ../shared is present.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "==> cargo fmt --check"
cargo fmt --all -- --check
echo "==> cargo clippy (release profile: shares the BoringSSL build with the tests)"
cargo clippy --release --workspace --all-targets -- -D warnings
echo "==> cargo build --release"
cargo build --release --workspace --bins
if [ -x ci/buildpack-test.sh ]; then
  echo "==> ci/buildpack-test.sh"
  ci/buildpack-test.sh
fi
if [ -x ci/eval.sh ]; then
  echo "==> ci/eval.sh (detection figures on ../shared corpora; skipped when absent)"
  ci/eval.sh || { echo "ci/eval.sh failed"; exit 1; }
fi
echo "==> cargo test --release --workspace"
cargo test --release --workspace 2>&1 | tee target/test-output.txt
# One closing line that counts all suites.
awk '/^test result:/ { p += $4; f += $6; i += $8 } END { printf "%d passed, %d failed, %d skipped\n", p, f, i; exit (f > 0) }' target/test-output.txt
