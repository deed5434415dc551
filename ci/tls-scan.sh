#!/usr/bin/env bash
# Scans palisade's native TLS listener with Debian's sslscan (and testssl.sh with --testssl) and
# prints a pass/fail summary: protocol versions, weak suites, forward secrecy, key exchange
# groups. Both minimum-version settings are scanned: the default (TLS 1.3 only) and
# PALISADE_TLS_MIN_VERSION=1.2. palisade runs in front of the python-echo test app; everything
# binds loopback. Exits 1 if any check fails.
#
#   ci/tls-scan.sh [--testssl]      (apt-get install -y sslscan testssl.sh)
set -euo pipefail
cd "$(dirname "$0")/.."

TESTSSL=0
while [ $# -gt 0 ]; do
  case "$1" in
    --testssl) TESTSSL=1; shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
command -v sslscan >/dev/null || { echo "ci/tls-scan.sh: sslscan missing (apt-get install -y sslscan)" >&2; exit 2; }
if [ "$TESTSSL" = 1 ]; then
  TESTSSL_BIN=$(command -v testssl || command -v testssl.sh || true)
  [ -n "$TESTSSL_BIN" ] || { echo "ci/tls-scan.sh: testssl.sh missing (apt-get install -y testssl.sh)" >&2; exit 2; }
fi
[ -x target/release/palisade ] || cargo build --release -p palisade
BIN=$PWD/target/release/palisade

WORK=$(mktemp -d)
PID=""
cleanup() {
  if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; fi
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# An RSA certificate, so that every TLS 1.2 suite family (ECDHE-RSA, RSA key exchange, CBC) is
# possible in principle and only palisade's policy decides what is offered.
openssl req -x509 -nodes -days 2 -subj /CN=scan.test -addext subjectAltName=DNS:scan.test \
  -newkey rsa:2048 -keyout "$WORK/scan.key" -out "$WORK/scan.crt" 2>/dev/null

FAILED=0
check() { # check <description> <command...>: prints PASS/FAIL
  local what=$1; shift
  if "$@"; then echo "  PASS  $what"; else echo "  FAIL  $what"; FAILED=1; fi
}

scan() {
  local min=$1 port
  port=$(free_port)
  (cd test-apps/python-echo && PORT=$port PALISADE_THREADS=1 PALISADE_ACCESS_LOG=false \
    PALISADE_TLS_CERT="$WORK/scan.crt" PALISADE_TLS_KEY="$WORK/scan.key" PALISADE_TLS_MIN_VERSION="$min" \
    exec "$BIN" run -- python3 app.py tls-scan) >/dev/null 2>"$WORK/palisade-$min.err" &
  PID=$!
  for _ in $(seq 1 200); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done
  sleep 0.5
  local out="$WORK/sslscan-$min.txt"
  sslscan --no-colour --show-sigs "127.0.0.1:$port" >"$out" 2>&1 || true
  echo
  echo "== sslscan, PALISADE_TLS_MIN_VERSION=$min ($(sslscan --version 2>/dev/null | grep -o '[0-9]\+\.[0-9.]\+' | head -1))"
  local protos accepted groups
  protos=$(awk '/enabled$/ {print $1}' "$out" | tr '\n' ' ')
  accepted=$(awk '/^(Preferred|Accepted)/ {print $2, $5}' "$out")
  groups=$(sed -n '/Key Exchange Group/,/^$/p' "$out" | awk 'NR > 1 && NF {print $4}' | tr '\n' ' ')
  echo "  protocols enabled: ${protos:-none}"
  echo "  suites accepted:"
  while IFS= read -r line; do echo "    $line"; done <<<"$accepted"
  echo "  key exchange groups: ${groups:-none}"
  if [ "$min" = "1.3" ]; then
    check "TLS 1.3 only (no SSLv2/3, TLS 1.0/1.1/1.2)" test "$protos" = "TLSv1.3 "
  else
    check "TLS 1.2 and 1.3 only (no SSLv2/3, TLS 1.0/1.1)" test "$protos" = "TLSv1.2 TLSv1.3 "
  fi
  check "at least one suite accepted" test -n "$accepted"
  check "no RC4, 3DES, NULL, EXPORT, anonymous or MD5 suites" \
    bash -c "! grep -Eq '^(Preferred|Accepted).*(RC4|DES|NULL|EXP|ADH|AECDH|MD5)' '$out'"
  check "no RSA key exchange: every TLS 1.2 suite is ECDHE" \
    bash -c "! awk '/^(Preferred|Accepted)/ && \$2 == \"TLSv1.2\" && \$5 !~ /^ECDHE-/' '$out' | grep -q ."
  check "forward secrecy on every suite (ECDHE or TLS 1.3)" \
    bash -c "! awk '/^(Preferred|Accepted)/ && \$2 != \"TLSv1.3\" && \$5 !~ /^ECDHE-/' '$out' | grep -q ."
  check "only AEAD ciphers (GCM, ChaCha20-Poly1305)" \
    bash -c "! awk '/^(Preferred|Accepted)/ && \$5 !~ /GCM|CHACHA20/' '$out' | grep -q ."
  check "key exchange groups within X25519, P-256, P-384" \
    bash -c "! sed -n '/Key Exchange Group/,/^\$/p' '$out' | awk 'NR > 1 && NF' | grep -Evq 'x25519|secp256r1|secp384r1'"
  check "no SHA-1 handshake signatures" \
    bash -c "! sed -n '/Server Signature Algorithm/,/^\$/p' '$out' | grep -qi 'sha1'"
  check "no TLS compression, no insecure renegotiation" \
    bash -c "! grep -Eiq 'Compression enabled|Insecure session renegotiation supported' '$out'"
  check "no Heartbleed" bash -c "! grep 'vulnerable to heartbleed' '$out' | grep -vq 'not vulnerable'"
  if [ "$TESTSSL" = 1 ]; then
    echo "== testssl.sh (protocols, vulnerabilities, forward secrecy)"
    "$TESTSSL_BIN" --quiet --color 0 --warnings off -p -f -U "127.0.0.1:$port" 2>&1 \
      | grep -E 'SSLv|TLS 1|NPN|ALPN|forward secrecy|VULNERABLE|not vulnerable|OK' | head -60 | sed 's/^/  /'
  fi
  kill "$PID" 2>/dev/null || true
  wait "$PID" 2>/dev/null || true
  PID=""
}

scan 1.3
scan 1.2
echo
if [ "$FAILED" = 0 ]; then echo "tls-scan: all checks passed"; else echo "tls-scan: SOME CHECKS FAILED"; exit 1; fi
