#!/usr/bin/env bash
# A quick side-by-side benchmark CI can afford (about 1 minute for the proxy part and 1 more for the
# criterion bench once built; compiling the bench adds a few minutes on a cold cache): the backend
# directly, nginx as a plain reverse proxy (1 worker) and palisade at its defaults
# (PALISADE_THREADS=1), on the three workloads of issue #9's floor — a small GET, a 10 KB form POST
# and a 100 KB FHIR JSON POST — 3 s each after a 1 s warm-up; then the
# engine's criterion bench in quick mode. Prints req/s, latencies and the palisade/nginx ratios.
# No pass/fail on absolute figures: CI machines differ, the ratios are what to watch.
#
#   ci/bench/quick.sh [--duration 3] [--no-criterion]
#
# Same machinery as ci/bench/compare.sh (which has the full comparison with ModSecurity + CRS).
set -euo pipefail
cd "$(dirname "$0")/../.."

DURATION=3
CRITERION=1
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) DURATION="$2"; shift 2 ;;
    --no-criterion) CRITERION=0; shift ;;
    -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "ci/bench/quick.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

start=$(date +%s)
ci/bench/compare.sh --duration "$DURATION" --warmup 1 --skip-detection --no-docs --no-profile \
  --targets direct,nginx,palisade --workloads small-get,form-post,fhir-post
echo "== proxy part took $(($(date +%s) - start)) s"

if [ "$CRITERION" -eq 1 ]; then
  echo "== cargo bench -p palisade-engine --bench engine -- --quick"
  # Criterion prints a long benchmark name on its own line, then the time and throughput lines.
  cargo bench -p palisade-engine --bench engine -- --quick 2>&1 \
    | grep -E '^[a-z][A-Za-z0-9_/.-]*( +time:.*)?$|^ +(time|thrpt):' | grep -v '%' || true
fi
echo "== quick.sh took $(($(date +%s) - start)) s"
