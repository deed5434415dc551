#!/usr/bin/env bash
# Installs what a fresh Debian/Ubuntu machine lacks to build and test Palisade:
# cmake + clang + libclang (BoringSSL via the `boring` crate), redis-server (shared rate limits),
# nginx + wrk (benchmarks), openssl (TLS tests), python3 and node (test apps), shellcheck,
# chromium (renders the HTML report in a test).
# Needs root or sudo; does nothing for packages already present.
set -euo pipefail

need=()
have() { command -v "$1" >/dev/null 2>&1; }
have cmake || need+=(cmake)
have clang || need+=(clang)
[ -e /usr/lib/llvm-14/lib/libclang.so ] || ls /usr/lib/llvm-*/lib/libclang*.so >/dev/null 2>&1 || need+=(libclang-dev)
have redis-server || need+=(redis-server)
have nginx || need+=(nginx-light)
have wrk || need+=(wrk)
have openssl || need+=(openssl)
have curl || need+=(curl)
have python3 || need+=(python3)
have node || need+=(nodejs)
have shellcheck || need+=(shellcheck)
have sslscan || need+=(sslscan)
# Headless rendering of `palisade report` output in crates/palisade/tests/audit_trail.rs.
[ -x /usr/bin/chromium ] || need+=(chromium)

if [ ${#need[@]} -eq 0 ]; then
  echo "ci/deps.sh: all build and test dependencies present"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "ci/deps.sh: installing ${need[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# The Debian redis-server package may start a system instance; the tests start their own.
