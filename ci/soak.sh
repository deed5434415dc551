#!/usr/bin/env bash
# Soak (issue #8): N minutes of mixed traffic through palisade in front of test-apps/python-echo:
# clean GETs and POSTs (keep-alive), attacks (SQLi/XSS probes, smuggling attempts), slowloris
# clients and oversized bodies. Samples palisade's RSS every few seconds; counts 5xx answers to
# clean requests (503 load shedding counted apart), crashes, and prints a summary table.
#
#   ci/soak.sh [--minutes 10] [--sample 5] [--slowloris 50] [--clean-workers 4]
#
# Exit status 1 when palisade crashed, a clean request got a 5xx that was not shedding, or RSS
# after warm-up (the first fifth of the run) moved more than 10% from its post-warm-up mean.
set -euo pipefail
cd "$(dirname "$0")/.."

MINUTES=10
SAMPLE=5
SLOW=50
CLEAN=4
while [ $# -gt 0 ]; do
  case "$1" in
    --minutes) MINUTES="$2"; shift 2 ;;
    --sample) SAMPLE="$2"; shift 2 ;;
    --slowloris) SLOW="$2"; shift 2 ;;
    --clean-workers) CLEAN="$2"; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
BIN=${PALISADE_BIN:-$PWD/target/release/palisade}
[ -x "$BIN" ] || cargo build --release -p palisade

# shellcheck source=ci/lib.sh
source ci/lib.sh
PORT_PUBLIC=$(free_port)
# Temporary bans off: the soak's attacker shares 127.0.0.1 with its clean clients.
printf 'mode: block\naccess:\n  bans:\n    after_blocks: 0\n  bots:\n    ban_score: 0\n' >"$WORK/palisade.yml"
(
  cd test-apps/python-echo
  PORT=$PORT_PUBLIC PALISADE_THREADS=2 PALISADE_HEADER_TIMEOUT=5s PALISADE_CONFIG="$WORK/palisade.yml" \
    exec "$BIN" run -- python3 app.py
) >"$WORK/audit.jsonl" 2>"$WORK/palisade.err" &
PAL=$!
PIDS+=("$PAL")
wait_port "$PORT_PUBLIC" "$WORK/palisade.err"
for _ in $(seq 1 100); do grep -q "accepts connections" "$WORK/palisade.err" && break; sleep 0.1; done

DURATION=$(( MINUTES * 60 ))
cat >"$WORK/soak.py" <<'EOF'
import http.client, json, os, random, socket, sys, threading, time

port, duration, clean_workers = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
stop_at = time.monotonic() + duration
lock = threading.Lock()
stats = {k: 0 for k in ["clean", "clean_5xx", "clean_shed", "clean_errors", "clean_other",
                        "attacks", "attacks_refused", "attacks_passed", "oversize", "oversize_413",
                        "smuggle", "smuggle_4xx"]}
lat = []

def bump(k, n=1):
    with lock:
        stats[k] += n

def clean_worker(i):
    conn = None
    while time.monotonic() < stop_at:
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            t = time.monotonic()
            if random.random() < 0.5:
                conn.request("GET", f"/patients/{random.randint(1, 10**6)}/chart?view=summary&page=2")
            else:
                body = json.dumps({"note": "routine follow-up, no issues", "n": i, "v": list(range(50))})
                conn.request("POST", "/api/notes", body=body, headers={"Content-Type": "application/json"})
            r = conn.getresponse(); r.read()
            with lock:
                lat.append(time.monotonic() - t)
            bump("clean")
            if r.status == 503:
                bump("clean_shed")
            elif r.status >= 500:
                bump("clean_5xx")
            elif r.status != 200:
                bump("clean_other")
            if r.getheader("connection", "").lower() == "close":
                conn.close(); conn = None
        except Exception:
            bump("clean_errors")
            conn = None
            time.sleep(0.05)

ATTACKS = [
    ("GET", "/search?q=1%27%20OR%20%271%27%3D%271", None),
    ("GET", "/search?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E", None),
    ("GET", "/../../etc/passwd", None),
    ("POST", "/login", "user=admin'--&pass=x"),
    ("GET", "/x?cmd=%3Bcat%20/etc/passwd", None),
]
SMUGGLE = [
    b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 40\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: t\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\nContent-Length: 37\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: t\r\n\r\n",
    b"GET / HTTP/1.1\nHost: t\n\nGET /smuggled HTTP/1.1\r\nHost: t\r\n\r\n",
]

def raw(req, read_timeout=10):
    s = socket.create_connection(("127.0.0.1", port), timeout=read_timeout)
    try:
        s.sendall(req)
        data = s.recv(4096)
        return int(data.split()[1]) if data else 0
    except (OSError, ValueError, IndexError):
        return 0
    finally:
        s.close()

def attacker():
    while time.monotonic() < stop_at:
        m, path, body = random.choice(ATTACKS)
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            hdr = {"Content-Type": "application/x-www-form-urlencoded"} if body else {}
            c.request(m, path, body=body, headers=hdr); r = c.getresponse(); r.read(); c.close()
            bump("attacks"); bump("attacks_refused" if r.status in (400, 403) else "attacks_passed")
        except Exception:
            bump("attacks")
        bump("smuggle")
        if 400 <= raw(random.choice(SMUGGLE)) < 500:
            bump("smuggle_4xx")
        # Oversized: 2 MiB declared (over the 1 MiB inspection limit) with the body sent.
        bump("oversize")
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=30)
            s.sendall(b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 2097152\r\n\r\n")
            try:
                s.sendall(b"{" + b" " * (2097152 - 2) + b"}")
            except OSError:
                pass
            d = s.recv(4096)
            if d.startswith(b"HTTP/1.1 413"):
                bump("oversize_413")
            s.close()
        except OSError:
            pass
        time.sleep(0.05)

threads = [threading.Thread(target=clean_worker, args=(i,)) for i in range(clean_workers)]
threads.append(threading.Thread(target=attacker))
for t in threads: t.start()
for t in threads: t.join()
lat.sort()
stats["clean_p50_ms"] = round(lat[len(lat)//2] * 1000, 1) if lat else None
stats["clean_p99_ms"] = round(lat[int(len(lat)*0.99)] * 1000, 1) if lat else None
stats["clean_rps"] = round(stats["clean"] / duration, 1)
print(json.dumps(stats))
EOF

python3 "$WORK/soak.py" "$PORT_PUBLIC" "$DURATION" "$CLEAN" >"$WORK/traffic.json" & TRAFFIC=$!
PIDS+=("$TRAFFIC")
python3 ci/bench/slowloris_client.py "$PORT_PUBLIC" "$SLOW" "$DURATION" 1 >"$WORK/slow.json" & SLOWPID=$!
PIDS+=("$SLOWPID")

echo "soak: ${MINUTES} min, palisade pid $PAL on port $PORT_PUBLIC, RSS sampled every ${SAMPLE}s"
printf '%8s %10s %12s\n' "t (s)" "RSS (KiB)" "audit lines"
: >"$WORK/rss.txt"
START=$(date +%s)
CRASHED=0
while kill -0 "$TRAFFIC" 2>/dev/null; do
  if ! kill -0 "$PAL" 2>/dev/null; then CRASHED=1; echo "palisade DIED"; break; fi
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$PAL/status" 2>/dev/null || echo 0)
  t=$(( $(date +%s) - START ))
  echo "$t $rss" >>"$WORK/rss.txt"
  printf '%8s %10s %12s\n' "$t" "$rss" "$(wc -l <"$WORK/audit.jsonl")"
  sleep "$SAMPLE"
done
wait "$TRAFFIC" || true
wait "$SLOWPID" || true
kill -0 "$PAL" 2>/dev/null || CRASHED=1

SMUGGLED=$(grep -c "received GET /smuggled" "$WORK/palisade.err" || true)
PANICS=$(grep -ci "panick" "$WORK/palisade.err" || true)
python3 - "$WORK/traffic.json" "$WORK/slow.json" "$WORK/rss.txt" "$CRASHED" "$SMUGGLED" "$PANICS" <<'EOF'
import json, sys
traffic = json.load(open(sys.argv[1])); slow = json.load(open(sys.argv[2]))
rss = [tuple(map(int, l.split())) for l in open(sys.argv[3]) if l.strip()]
crashed, smuggled, panics = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
warm = rss[len(rss)//5:] if len(rss) >= 5 else rss
vals = [r for _, r in warm] or [0]
mean = sum(vals) / len(vals)
spread = max(abs(v - mean) / mean * 100 for v in vals) if mean else 0
rows = [
    ("clean requests", traffic["clean"]), ("clean req/s", traffic["clean_rps"]),
    ("clean p50 / p99 (ms)", f'{traffic["clean_p50_ms"]} / {traffic["clean_p99_ms"]}'),
    ("clean 5xx (not shed)", traffic["clean_5xx"]), ("clean shed (503)", traffic["clean_shed"]),
    ("clean other non-200", traffic["clean_other"]), ("clean client errors", traffic["clean_errors"]),
    ("attacks sent / refused", f'{traffic["attacks"]} / {traffic["attacks_refused"]}'),
    ("smuggling sent / 4xx", f'{traffic["smuggle"]} / {traffic["smuggle_4xx"]}'),
    ("smuggled requests at the app", smuggled),
    ("oversized bodies / 413", f'{traffic["oversize"]} / {traffic["oversize_413"]}'),
    ("slowloris opened / cut", f'{slow["connections"]} / {slow["closed"]}'),
    ("slowloris longest life (s)", slow["max_lifetime_s"]),
    ("RSS after warm-up: mean KiB", round(mean)),
    ("RSS after warm-up: max dev %", round(spread, 1)),
    ("palisade crashed", crashed), ("panics in stderr", panics),
]
print()
for k, v in rows:
    print(f"{k:32} {v}")
ok = not crashed and not panics and traffic["clean_5xx"] == 0 and smuggled == 0 and spread <= 10
print("SOAK PASSED" if ok else "SOAK FAILED")
sys.exit(0 if ok else 1)
EOF
