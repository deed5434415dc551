#!/usr/bin/env bash
# Builds Palisade and runs it on http://localhost:${PORT:-5000} in front of the Python test app,
# with the embedded defaults (no configuration). Try:
#   curl -i localhost:5000/hello                      -> 200 from the app, with HSTS
#   curl -i "localhost:5000/?q=%3Cscript%3Ealert(1)%3C/script%3E"  -> 403 from Palisade
# Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v cmake >/dev/null || ! command -v clang >/dev/null; then ci/deps.sh; fi
cargo build --release -p palisade
cd test-apps/python-echo
export PORT="${PORT:-5000}"
echo "Palisade on http://localhost:$PORT  (app: test-apps/python-echo)"
exec ../../target/release/palisade run -- python3 app.py
