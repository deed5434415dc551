#!/usr/bin/env bash
# Side-by-side benchmark of Palisade against nginx and nginx + ModSecurity v3 + OWASP CRS, in one
# run on this machine: speed, cost and detection. Regenerates docs/benchmarks.md and
# docs/benchmarks.svg.
#
#   ci/bench/compare.sh [--duration 10] [--warmup 2] [--connections 32] [--skip-detection]
#                       [--sample-per-set N] [--shared DIR] [--no-install] [--out-dir docs] [--no-docs]
#                       [--keep DIR] [--no-profile]
#                       [--targets direct,nginx,modsec,palisade,palisade-pl2]
#                       [--workloads small-get,browser-get,form-post,fhir-post,upload-post,attack-mix]
# --no-docs prints the ratios without writing docs/ (ci/bench/quick.sh uses it). --shared names the
# directory holding tools/waf-eval and corpus/ (default: ../shared, or ../../shared from a worktree).
# --keep copies the raw figures (TSV, waf-eval JSON) and configurations to DIR; re-render with
# ci/bench/report.py (see its --help). Unless --no-profile (or perf is missing), one extra 3 s wrk
# run per workload against palisade under `perf record` gives the report's CPU profile (not part
# of the measured figures).
#
# Targets, all on loopback in front of one fast backend (nginx, one worker, that reads every
# request body before answering 200):
#   direct      the backend itself
#   nginx       nginx as a plain reverse proxy, one worker, upstream keep-alive
#   modsec      the same nginx + ModSecurity v3 + OWASP CRS (Debian packages), paranoia level 1,
#               anomaly threshold 5: the packaged recommended config (/etc/nginx/modsecurity.conf +
#               the CRS files the package's load file names) with SecRuleEngine On (the package
#               ships DetectionOnly) and the two changes a FHIR API needs before its requests get through at all:
#               application/fhir+json allowed and parsed as JSON (stock CRS 3.3 rejects the
#               content type, rule 920420) and SecArgumentsLimit 10000 (the packaged 1,000
#               answers 400 to a 100 KB bundle's ~2,000 JSON values). No rule exclusions: its
#               false positives on the workloads are reported (non-2xx column), not tuned away
#   palisade    palisade at its defaults, PALISADE_THREADS=1 to match one nginx worker, DYNO=web.1
#               (as on Heroku: client address from X-Forwarded-For, HTTPS redirect on)
#   palisade-pl2  the same at PALISADE_PARANOIA=2
# Every proxy writes one log line per request to /dev/null (nginx access_log, palisade's audit
# lines on stdout); ModSecurity's audit log (refused requests only, as packaged) goes to a file the
# report reads rule ids from. Each target is started fresh for each workload (so peak RSS is per workload),
# warmed up (then left to finish what the warm-up queued), then measured once with the same wrk
# command (-t1, --timeout 60s).
# Detection: ../shared/tools/waf-eval over ../shared/corpus against palisade exactly as ci/eval.sh
# runs it (defaults, DYNO=web.1, default thread count) and against nginx + ModSecurity + CRS PL1
# with the same requests (skipped, with a message, when ../shared is absent).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
INVOCATION="ci/bench/compare.sh $*"

DURATION=10
WARMUP=2
CONNS=32
DETECTION=1
SAMPLE=()
INSTALL=1
OUT_DIR=docs
DOCS=1
SHARED=""
KEEP=""
PROFILE=1
# PALISADE_THREADS=1 for the speed runs (one nginx worker); the detection runs use the default.
PALISADE_THREADS_ENV=(PALISADE_THREADS=1)
WORKLOADS=(small-get browser-get form-post fhir-post upload-post attack-mix)
TARGETS=(direct nginx modsec palisade palisade-pl2)
usage() { sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; }
# Splits a comma-separated list into the named array, checking each item against the allowed ones.
parse_list() {
  local -n into=$1
  local allowed=" ${*:3} " item
  IFS=, read -r -a into <<<"$2"
  [ ${#into[@]} -gt 0 ] || { echo "ci/bench/compare.sh: empty list, allowed: ${*:3}" >&2; exit 2; }
  for item in "${into[@]}"; do
    [[ "$allowed" == *" $item "* ]] || { echo "ci/bench/compare.sh: unknown name '$item', allowed: ${*:3}" >&2; exit 2; }
  done
}
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) DURATION="$2"; shift 2 ;;
    --warmup) WARMUP="$2"; shift 2 ;;
    --connections) CONNS="$2"; shift 2 ;;
    --skip-detection) DETECTION=0; shift ;;
    --sample-per-set) SAMPLE=(--sample-per-set "$2"); shift 2 ;;
    --no-install) INSTALL=0; shift ;;
    --out-dir) OUT_DIR="$2"; shift 2 ;;
    --no-docs) DOCS=0; shift ;;
    --shared) SHARED="$2"; shift 2 ;;
    --keep) KEEP="$2"; shift 2 ;;
    --no-profile) PROFILE=0; shift ;;
    --targets) parse_list TARGETS "$2" "${TARGETS[@]}"; shift 2 ;;
    --workloads) parse_list WORKLOADS "$2" "${WORKLOADS[@]}"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "ci/bench/compare.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
done
for n in "$DURATION" "$WARMUP" "$CONNS"; do
  [[ "$n" =~ ^[0-9]+$ ]] || { echo "ci/bench/compare.sh: --duration, --warmup and --connections take whole numbers, got '$n'" >&2; exit 2; }
done
[ "$DURATION" -ge 1 ] || { echo "ci/bench/compare.sh: --duration must be at least 1 (seconds)" >&2; exit 2; }

MODDIR=/usr/lib/nginx/modules
CRS_SETUP=/etc/modsecurity/crs/crs-setup.conf
CRS_RULES=/usr/share/modsecurity-crs/rules
MODSEC_CONF=/etc/nginx/modsecurity.conf

# --- packages -------------------------------------------------------------------------------
MODSEC=0
[[ " ${TARGETS[*]} " == *" modsec "* ]] && MODSEC=1
[ "$DETECTION" -eq 1 ] && MODSEC=1
need=()
command -v nginx >/dev/null 2>&1 || need+=(nginx)
command -v wrk >/dev/null 2>&1 || need+=(wrk)
[ -f "$MODDIR/ngx_http_echo_module.so" ] || need+=(libnginx-mod-http-echo)
if [ "$MODSEC" -eq 1 ]; then
  [ -f "$MODDIR/ngx_http_modsecurity_module.so" ] || need+=(libnginx-mod-http-modsecurity)
  [ -f "$CRS_SETUP" ] || need+=(modsecurity-crs)
fi
if [ ${#need[@]} -gt 0 ]; then
  if [ "$INSTALL" -eq 0 ]; then
    echo "ci/bench/compare.sh: missing ${need[*]} (run without --no-install, or apt-get install them)" >&2
    exit 2
  fi
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "ci/bench/compare.sh: installing ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
required=("$MODDIR/ngx_http_echo_module.so")
[ "$MODSEC" -eq 1 ] && required+=("$MODSEC_CONF" "$CRS_SETUP" "$CRS_RULES/REQUEST-901-INITIALIZATION.conf" "$MODDIR/ngx_http_modsecurity_module.so")
for f in "${required[@]}"; do
  [ -f "$f" ] || { echo "ci/bench/compare.sh: $f missing after installing the packages" >&2; exit 2; }
done
[ -x target/release/palisade ] || cargo build --release -p palisade
PALISADE_BIN="$ROOT/target/release/palisade"

# shellcheck source=ci/lib.sh disable=SC1091 # followed with shellcheck -x from the repository root
source ci/lib.sh
# shellcheck source=ci/bench/measure.sh disable=SC1091
source ci/bench/measure.sh

python3 ci/bench/workloads.py "$WORK/wl"
command -v perf >/dev/null 2>&1 || { [ "$PROFILE" -eq 1 ] && echo "ci/bench/compare.sh: perf not installed; no CPU profile (apt-get install linux-perf)"; PROFILE=0; }
mkdir -p "$WORK/profiles"
RESULTS="$WORK/results.tsv"
printf 'workload\ttarget\trps\tp50_us\tp99_us\tp999_us\tcpu_s_per_10k\tpeak_rss_kb\trequests\tnon_2xx\tsocket_errors\n' >"$RESULTS"

# --- configurations ---------------------------------------------------------------------------
BACKEND=$(free_port)
# The backend: one worker; GETs answer from the rewrite phase, anything with a body is read
# completely into memory first (echo_read_request_body), /__echo sends the body back (used to
# check that bodies arrive whole through every proxy).
cat >"$WORK/backend.conf" <<EOF
load_module $MODDIR/ngx_http_echo_module.so;
worker_processes 1;
daemon off;
pid $WORK/backend.pid;
error_log $WORK/backend.err error;
events { worker_connections 4096; }
http {
  access_log off;
  client_max_body_size 16m;
  client_body_buffer_size 1m;
  client_body_in_single_buffer on;
  keepalive_requests 1000000;
  default_type application/json;
  server {
    listen 127.0.0.1:$BACKEND;
    location = /__echo { echo_read_request_body; echo_request_body; }
    location / {
      if (\$request_method = GET) { return 200 '{"ok":true}'; }
      echo_read_request_body;
      echo '{"ok":true}';
    }
  }
}
EOF

# nginx as a reverse proxy; $1 = name, $2 = port, $3 = upstream port, $4 = extra http-level
# directives, $5 = extra main-level directives. Bodies up to 1 MiB stay in memory (as palisade's max_inspect_body).
nginx_proxy_conf() {
  cat >"$WORK/$1.conf" <<EOF
$5
worker_processes 1;
daemon off;
pid $WORK/$1.pid;
error_log /dev/null error;
events { worker_connections 4096; }
http {
  access_log /dev/null;
  client_max_body_size 16m;
  client_body_buffer_size 1m;
  keepalive_requests 1000000;
  $4
  upstream app { server 127.0.0.1:$3; keepalive 128; }
  server {
    listen 127.0.0.1:$2;
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$host;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
    }
  }
}
EOF
}
# The ModSecurity rules file: the packaged recommended config, then CRS as the package's load
# file (owasp-crs.load, written for Apache: libmodsecurity 3 has no IncludeOptional) includes it.
mkdir -p "$WORK/modsec"
cat >"$WORK/modsec/main.conf" <<EOF
Include $MODSEC_CONF
# The package ships DetectionOnly; a WAF that blocks is what is compared.
SecRuleEngine On
# Written only for refused requests (SecAuditEngine RelevantOnly): the report names the rules
# behind any refusal of a benign workload.
SecAuditLog $WORK/modsec-audit.log
SecDebugLogLevel 0
# A 100 KB FHIR bundle has ~2,000 JSON leaves; the packaged limit of 1,000 arguments answers 400
# (rule 200007) to any realistic bundle, so the limit is 10,000 here.
SecArgumentsLimit 10000
SecRuleRemoveById 200007
SecRule &ARGS "@ge 10000" "id:200017,phase:2,t:none,log,deny,status:400,msg:'Failed to fully parse request body due to large argument count',severity:2"
# Allow FHIR JSON (CRS 3.3's default list plus application/fhir+json) and parse it as JSON,
# the one tuning a FHIR API needs before CRS lets any of its requests through (rule 920420).
SecAction "id:900220,phase:1,nolog,pass,t:none,setvar:'tx.allowed_request_content_type=|application/x-www-form-urlencoded| |multipart/form-data| |multipart/related| |text/xml| |application/xml| |application/soap+xml| |application/json| |application/cloudevents+json| |application/cloudevents-batch+json| |application/fhir+json|'"
SecRule REQUEST_HEADERS:Content-Type "@rx ^application/fhir\+json" "id:200010,phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=JSON"
Include $CRS_SETUP
Include /etc/modsecurity/crs/REQUEST-900-EXCLUSION-RULES-BEFORE-CRS.conf
Include $CRS_RULES/*.conf
Include /etc/modsecurity/crs/RESPONSE-999-EXCLUSION-RULES-AFTER-CRS.conf
EOF

# Starts target $1 in front of port $2 (the benchmark backend or the echo backend); sets
# TARGET_PID (the process whose tree is measured) and TARGET_PORT. Waits until it accepts.
start_target() {
  local name=$1 upstream=$2
  TARGET_PORT=$(free_port)
  case "$name" in
    direct)
      TARGET_PORT=$upstream; TARGET_PID=$BACKEND_PID; return 0 ;;
    nginx)
      nginx_proxy_conf nginx "$TARGET_PORT" "$upstream" "" ""
      nginx -p "$WORK" -c "$WORK/nginx.conf" 2>"$WORK/nginx.err" & TARGET_PID=$! ;;
    modsec)
      : >"$WORK/modsec-audit.log"
      nginx_proxy_conf modsec "$TARGET_PORT" "$upstream" "modsecurity on; modsecurity_rules_file $WORK/modsec/main.conf;" \
        "load_module $MODDIR/ngx_http_modsecurity_module.so;"
      nginx -p "$WORK" -c "$WORK/modsec.conf" 2>"$WORK/modsec.err" & TARGET_PID=$! ;;
    palisade|palisade-pl2)
      local paranoia=1
      [ "$name" = palisade-pl2 ] && paranoia=2
      # An empty directory: no palisade.yml, the embedded defaults only.
      mkdir -p "$WORK/palisade-home"
      (cd "$WORK/palisade-home" && exec env -i PATH="$PATH" PORT="$TARGET_PORT" DYNO=web.1 "${PALISADE_THREADS_ENV[@]}" \
        PALISADE_PARANOIA="$paranoia" "$PALISADE_BIN" run --upstream "127.0.0.1:$upstream" \
        >/dev/null 2>"$WORK/$name.err") & TARGET_PID=$! ;;
    *) echo "unknown target $name" >&2; exit 2 ;;
  esac
  wait_port "$TARGET_PORT" "$WORK/$name.err"
}
stop_target() {
  [ "$1" = direct ] && return 0
  kill "$TARGET_PID" 2>/dev/null || true
  wait "$TARGET_PID" 2>/dev/null || true
}

nginx -p "$WORK" -c "$WORK/backend.conf" & BACKEND_PID=$!
PIDS+=("$BACKEND_PID")
wait_port "$BACKEND" "$WORK/backend.err"

# --- check: every target passes the benign workloads and delivers bodies whole ----------------
echo "== check: a 100 KB FHIR Binary echoed whole through every target"
want=$(sha256sum <"$WORK/wl/binary.json" | cut -d' ' -f1)
for t in "${TARGETS[@]}"; do
  start_target "$t" "$BACKEND"
  got=$(curl -sS -H 'Host: api.example-clinic.org' -H 'X-Forwarded-Proto: https' -H 'X-Forwarded-For: 198.51.100.23' \
    -H 'User-Agent: clinic-portal/2.3' -H 'Content-Type: application/fhir+json' --data-binary "@$WORK/wl/binary.json" \
    "http://127.0.0.1:$TARGET_PORT/__echo" | sha256sum | cut -d' ' -f1)
  stop_target "$t"
  if [ "$got" != "$want" ]; then
    echo "ci/bench/compare.sh: $t did not deliver a 100 KB FHIR Binary body intact to the backend (or blocked it)" >&2
    exit 1
  fi
  echo "   $t: ok"
done

# --- throughput -----------------------------------------------------------------------------
WRK_CMD="wrk -t1 -c$CONNS -d${DURATION}s --timeout 60s --latency -s WORKLOAD.lua"
echo "== throughput: $WRK_CMD (warm-up ${WARMUP}s), $(nproc) cores"
for w in "${WORKLOADS[@]}"; do
  for t in "${TARGETS[@]}"; do
    start_target "$t" "$BACKEND"
    [ "$WARMUP" -gt 0 ] && wrk -t1 -c"$CONNS" -d"${WARMUP}s" --timeout 60s -s "$WORK/wl/$w.lua" \
      "http://127.0.0.1:$TARGET_PORT" >/dev/null 2>&1
    wait_idle "$TARGET_PID"
    [ "$t" = modsec ] && : >"$WORK/modsec-audit.log"
    measure_run "$w" "$t" "$TARGET_PID" "$TARGET_PORT" "$WORK/wl/$w.lua" >>"$RESULTS"
    if [ "$t" = palisade ] && [ "$PROFILE" -eq 1 ]; then
      profile_run "$w" "$TARGET_PID" "$TARGET_PORT" "$WORK/wl/$w.lua" "$WORK/profiles/$w.txt"
    fi
    stop_target "$t"
    if [ "$t" = modsec ]; then
      # Rule ids in the refused requests' audit entries, most frequent first.
      printf '%s\t%s\n' "$w" "$(grep -o 'id "[0-9]*"' "$WORK/modsec-audit.log" | tr -dc '0-9\n' | sort | uniq -c \
        | sort -rn | head -8 | awk '{printf "%s%s×%s", sep, $2, $1; sep=", "}')" >>"$WORK/modsec-rules.tsv"
    fi
    tail -1 "$RESULTS" | awk -F'\t' '{ printf "   %-12s %-13s %9.0f req/s  p50 %7.2f ms  p99 %7.2f ms  p99.9 %7.2f ms  cpu %6.3f s/10k  rss %6.1f MB  non-2xx %d\n", $1, $2, $3, $4/1000, $5/1000, $6/1000, $7, $8/1024, $10 }'
  done
done

# --- added latency: small GET over one connection (no queueing: latency = time per request) --
LATENCY1="$WORK/latency-c1.tsv"
head -1 "$RESULTS" >"$LATENCY1"
if [[ " ${WORKLOADS[*]} " == *" small-get "* ]]; then
  echo "== added latency: wrk -t1 -c1 -d${DURATION}s small GET"
  for t in "${TARGETS[@]}"; do
    start_target "$t" "$BACKEND"
    CONNS=1 measure_run small-get "$t" "$TARGET_PID" "$TARGET_PORT" "$WORK/wl/small-get.lua" >>"$LATENCY1"
    stop_target "$t"
    tail -1 "$LATENCY1" | awk -F'\t' '{ printf "   %-13s %9.0f req/s  p50 %7.3f ms  p99 %7.3f ms  p99.9 %7.3f ms\n", $2, $3, $4/1000, $5/1000, $6/1000 }'
  done
fi

# --- detection ------------------------------------------------------------------------------
if [ -z "$SHARED" ]; then
  SHARED="$ROOT/../shared"
  [ -d "$SHARED" ] || SHARED="$ROOT/../../shared"
fi
DETECTION_NOTE=""
if [ "$DETECTION" -eq 0 ]; then
  DETECTION_NOTE="skipped (--skip-detection)"
elif [ ! -x "$SHARED/tools/waf-eval" ] || [ ! -d "$SHARED/corpus" ]; then
  DETECTION_NOTE="skipped: the shared corpora and waf-eval (../shared) are not present on this machine"
  echo "ci/bench/compare.sh: $SHARED (tools/waf-eval, corpus/) not present; skipping the detection comparison"
else
  ECHO_PORT=$(free_port)
  "$SHARED/tools/echo-backend" --port "$ECHO_PORT" >/dev/null 2>&1 & PIDS+=("$!")
  wait_port "$ECHO_PORT"
  PALISADE_THREADS_ENV=()
  # Palisade exactly as ci/eval.sh measures it; ModSecurity with the same requests, and once more
  # without Accept-Charset, which CRS 3.3 refuses outright (restricted header, rule 920450) and
  # which the csic and healthcare records carry: the fair reading of CRS's other rules.
  for run in palisade modsec modsec-no-accept-charset; do
    t=${run%%-no-accept-charset}
    drop=()
    [ "$run" != "$t" ] && drop=(--drop-header Accept-Charset)
    echo "== detection: $run"
    start_target "$t" "$ECHO_PORT"
    "$SHARED/tools/waf-eval" --target "http://127.0.0.1:$TARGET_PORT" --add-header 'X-Forwarded-Proto: https' \
      --xff-random --concurrency 8 "${SAMPLE[@]}" "${drop[@]}" --quiet --json "$WORK/detect-$run.json" \
      "$SHARED/corpus" | tail -1
    stop_target "$t"
  done
fi

# --- report ---------------------------------------------------------------------------------
if [ "$DOCS" -eq 0 ]; then
  python3 ci/bench/report.py --results "$RESULTS" --latency1 "$LATENCY1" --ratios-only
  exit 0
fi
mkdir -p "$OUT_DIR" "$WORK/configs"
# The exact configurations, with the temporary directory's name replaced by $WORK.
for f in backend.conf nginx.conf modsec.conf modsec/main.conf; do
  [ -f "$WORK/$f" ] && sed "s#$WORK#\$WORK#g" "$WORK/$f" >"$WORK/configs/${f//\//-}"
done
if [ -n "$KEEP" ]; then
  mkdir -p "$KEEP"
  cp -r "$RESULTS" "$LATENCY1" "$WORK/configs" "$WORK/profiles" "$KEEP"/
  cp "$WORK"/detect-*.json "$WORK/modsec-rules.tsv" "$KEEP"/ 2>/dev/null || true
fi
rev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(git status --porcelain -- crates rulesets 2>/dev/null | head -1)
[ -n "$dirty" ] && rev="$rev (with uncommitted changes)"
python3 ci/bench/report.py --results "$RESULTS" --workloads "$WORK/wl" --out "$OUT_DIR/benchmarks.md" \
  --detect-palisade "$WORK/detect-palisade.json" --detect-modsec "$WORK/detect-modsec.json" \
  --detect-modsec-nocharset "$WORK/detect-modsec-no-accept-charset.json" \
  --latency1 "$LATENCY1" --profiles "$WORK/profiles" --configs "$WORK/configs" --meta "command=$INVOCATION" --modsec-rules "$WORK/modsec-rules.tsv" --detection-note "$DETECTION_NOTE" --sample "${SAMPLE[*]}" \
  --meta "cpu=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)" \
  --meta "cores=$(nproc)" --meta "kernel=$(uname -sr)" \
  --meta "nginx=$(nginx -v 2>&1 | sed 's/^nginx version: nginx\///')" \
  --meta "modsecurity=libmodsecurity3 $(dpkg-query -W -f='${Version}' libmodsecurity3 2>/dev/null), connector libnginx-mod-http-modsecurity $(dpkg-query -W -f='${Version}' libnginx-mod-http-modsecurity 2>/dev/null)" \
  --meta "crs=modsecurity-crs $(dpkg-query -W -f='${Version}' modsecurity-crs 2>/dev/null)" \
  --meta "wrk=$(wrk -v 2>&1 | head -1 | awk '{print $1, $2}')" \
  --meta "palisade=$rev" \
  --meta "duration=$DURATION" --meta "warmup=$WARMUP" --meta "connections=$CONNS" \
  --meta "date=$(date -u +%Y-%m-%dT%H:%MZ)" \
  --meta "load=$(cut -d' ' -f1-3 /proc/loadavg)"
python3 ci/bench/chart.py "$RESULTS" "$OUT_DIR/benchmarks.svg"
echo "== wrote $OUT_DIR/benchmarks.md and $OUT_DIR/benchmarks.svg"
python3 ci/bench/report.py --results "$RESULTS" --latency1 "$LATENCY1" --ratios-only
