#!/usr/bin/env bash
# Detection and false-positive rates on the shared corpora, measured the way acceptance measures
# them: palisade at its defaults with DYNO=web.1 in front of ../shared/tools/echo-backend, and
# waf-eval with X-Forwarded-Proto: https and one random client address per request.
# Prints waf-eval's per-set table plus the CRS paranoia-level-1 rate. Skips (exit 0) when
# ../shared is absent. Rates are printed, not gated: the gates are the issue's floors.
#
#   ci/eval.sh [--quick]     (--quick samples 300 requests per set)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
SHARED="$ROOT/../shared"
if [ ! -x "$SHARED/tools/waf-eval" ] || [ ! -d "$SHARED/corpus" ]; then
  echo "ci/eval.sh: ../shared (corpora and waf-eval) not present; skipping the detection figures"
  exit 0
fi
SAMPLE=()
[ "${1:-}" = "--quick" ] && SAMPLE=(--sample-per-set 300)

[ -x target/release/palisade ] || cargo build --release -p palisade
# shellcheck source=ci/lib.sh
source "$ROOT/ci/lib.sh"
BACKEND=$(free_port)
PROXY=$(free_port)
"$SHARED/tools/echo-backend" --port "$BACKEND" >/dev/null 2>&1 &
PIDS+=("$!")
# An empty directory: no palisade.yml, the embedded defaults only.
(cd "$WORK" && exec env -i PATH="$PATH" PORT="$PROXY" DYNO=web.1 "$ROOT/target/release/palisade" run \
  --upstream "127.0.0.1:$BACKEND" >"$WORK/audit.log" 2>"$WORK/palisade.err") &
PIDS+=("$!")
for _ in $(seq 1 200); do
  (exec 3<>"/dev/tcp/127.0.0.1/$PROXY") 2>/dev/null && (exec 3<>"/dev/tcp/127.0.0.1/$BACKEND") 2>/dev/null && break
  sleep 0.05
done

"$SHARED/tools/waf-eval" --target "http://127.0.0.1:$PROXY" --add-header 'X-Forwarded-Proto: https' \
  --xff-random --concurrency 8 "${SAMPLE[@]}" --failures "$WORK/failures.jsonl" --others "$WORK/others.jsonl" \
  --quiet "$SHARED/corpus"

# The issue's CRS floor: attack tests whose target rule is paranoia level 1, families 913 and
# 930-944 (920-922 are protocol families that Pingora or the router often answer with 400 first).
python3 - "$WORK/failures.jsonl" "$WORK/others.jsonl" "$SHARED/corpus/crs.jsonl.gz" "${#SAMPLE[@]}" <<'PY'
import collections, gzip, json, sys
fails, others, corpus, sampled = sys.argv[1:5]
def family(rid):
    return int(rid.split("-")[1][:3])
target = set()
with gzip.open(corpus, "rt") as f:
    for line in f:
        r = json.loads(line)
        fam = family(r["id"])
        if r["label"] == "attack" and (r.get("meta") or {}).get("pl") == 1 and (fam == 913 or 930 <= fam <= 944):
            target.add(r["id"])
missed = [json.loads(l) for l in open(fails)]
missed = [r for r in missed if r["id"] in target and r["outcome"] == "false_negative"]
other = {json.loads(l)["id"] for l in open(others)}
if sampled != "0":
    print("crs PL1 (913, 930-944): not computed for a sampled run")
    sys.exit(0)
resolved = len(target - other)
print(f"crs PL1 attacks (families 913, 930-944): detected {resolved - len(missed)}/{resolved} = {(resolved - len(missed)) / resolved:.4f}")
top = collections.Counter(r["id"].rsplit("-", 1)[0] for r in missed).most_common(8)
print("  most missed CRS rules:", ", ".join(f"{k[4:]}×{v}" for k, v in top))
PY
