#!/usr/bin/env python3
"""Writes docs/benchmarks.md from the figures ci/bench/compare.sh measured, or prints the ratios.

    ci/bench/report.py --results RESULTS.tsv --out docs/benchmarks.md --workloads DIR
        [--detect-palisade FILE.json] [--detect-modsec FILE.json] [--detection-note TEXT]
        [--sample TEXT] [--meta KEY=VALUE ...]
    ci/bench/report.py --results RESULTS.tsv --ratios-only

RESULTS.tsv columns: workload target rps p50_us p99_us p999_us cpu_s_per_10k peak_rss_kb requests
non_2xx socket_errors. The detection files are waf-eval --json outputs. Standard library only.
"""

import argparse
import csv
import json
import os
import sys

TARGETS = {
    "direct": "backend direct",
    "nginx": "nginx reverse proxy",
    "modsec": "nginx + ModSecurity + CRS PL1",
    "palisade": "Palisade (defaults, PL1)",
    "palisade-pl2": "Palisade PL2",
}
WORKLOADS = {
    "small-get": ("small GET", "`GET /api/health`, 6 short headers, response `{\"ok\":true}`"),
    "browser-get": ("GET, 10 args + browser headers",
                    "`GET /portal/appointments?` with 10 query arguments and 16 headers a browser sends (cookies, "
                    "Accept-*, Sec-Fetch-*, Referer)"),
    "form-post": ("POST 10 KB form", "`application/x-www-form-urlencoded` patient intake form, 10 KB, free-text "
                                     "clinical notes"),
    "fhir-post": ("POST 100 KB FHIR JSON", "`application/fhir+json` FHIR R4 transaction Bundle, 106 KB (Patient, "
                                           "Encounter, Observation, Condition, MedicationRequest)"),
    "upload-post": ("POST 100 KB document upload", "`multipart/form-data` from a patient portal: two short fields "
                                                  "and a 100 KB PDF (`filename=\"insurance-card.pdf\"`). Palisade "
                                                  "inspects the fields and the file name, not the file's bytes "
                                                  "(as every WAF here by default): this workload shows what relaying "
                                                  "a body costs each proxy, with little inspection in it"),
    "attack-mix": ("GET mix, 5% attacks", "4 benign GETs in rotation; every 20th request an attack (SQLi, XSS, "
                                          "path traversal, command injection, Log4Shell, PHP wrapper), each from a new "
                                          "X-Forwarded-For address"),
}
FLOOR = 0.7  # issue #9: Palisade's throughput at defaults >= 0.7x plain nginx


def load(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    res = {}
    for r in rows:
        for k in ("rps", "cpu_s_per_10k"):
            r[k] = float(r[k])
        for k in ("p50_us", "p99_us", "p999_us", "peak_rss_kb", "requests", "non_2xx", "socket_errors"):
            r[k] = int(r[k])
        res[(r["workload"], r["target"])] = r
    return rows, res


def ratio(a, b):
    return a / b if b > 0 else None


def fr(x, digits=2):
    return "n/a" if x is None else f"{x:.{digits}f}×"


def ms(us):
    return f"{us / 1000:.2f}"


def workloads_of(rows):
    return list(dict.fromkeys(r["workload"] for r in rows))


def ratio_rows(rows, res):
    out = []
    for w in workloads_of(rows):
        g = lambda t: res.get((w, t))  # noqa: E731
        pal, ngx, mod, pl2, direct = g("palisade"), g("nginx"), g("modsec"), g("palisade-pl2"), g("direct")
        out.append({
            "workload": w,
            "pal_ngx": ratio(pal["rps"], ngx["rps"]) if pal and ngx else None,
            "pal_mod": ratio(pal["rps"], mod["rps"]) if pal and mod else None,
            "pl2_ngx": ratio(pl2["rps"], ngx["rps"]) if pl2 and ngx else None,
            "p99_added_pal": (pal["p99_us"] - direct["p99_us"]) / 1000 if pal and direct else None,
            "p99_added_ngx": (ngx["p99_us"] - direct["p99_us"]) / 1000 if ngx and direct else None,
            "cpu_pal_ngx": ratio(pal["cpu_s_per_10k"], ngx["cpu_s_per_10k"]) if pal and ngx else None,
            "cpu_mod_pal": ratio(mod["cpu_s_per_10k"], pal["cpu_s_per_10k"]) if pal and mod else None,
        })
    return out


def latency1(path):
    if not path or not os.path.exists(path):
        return {}
    _, res = load(path)
    return {t: r for (_, t), r in res.items()}


def added_ms(lat, t, key):
    if t in lat and "direct" in lat:
        return (lat[t][key] - lat["direct"][key]) / 1000
    return None


def print_ratios(rows, res, lat):
    print(f"{'workload':<14}{'palisade/nginx':>16}{'palisade/modsec':>17}{'pl2/nginx':>11}"
          f"{'cpu/req pal/nginx':>19}{'cpu/req modsec/pal':>20}")
    for r in ratio_rows(rows, res):
        print(f"{r['workload']:<14}{fr(r['pal_ngx']):>16}{fr(r['pal_mod'], 1):>17}{fr(r['pl2_ngx']):>11}"
              f"{fr(r['cpu_pal_ngx'], 1):>19}{fr(r['cpu_mod_pal'], 1):>20}")
    if lat and "direct" in lat:
        print("small GET over 1 connection, added over direct (ms):  p50 / p99 / p99.9")
        for t in ("nginx", "modsec", "palisade", "palisade-pl2"):
            if t in lat:
                print(f"  {t:<14}" + " / ".join(f"{added_ms(lat, t, k):.3f}" for k in ("p50_us", "p99_us", "p999_us")))


def detection_section(args):
    p, m = args.detect_palisade, args.detect_modsec
    if not (p and m and os.path.exists(p) and os.path.exists(m)):
        note = args.detection_note or "not run"
        return [f"Detection comparison: {note}.", ""]
    dp, dm = json.load(open(p)), json.load(open(m))
    q = args.detect_modsec_nocharset
    dq = json.load(open(q)) if q and os.path.exists(q) else {"sets": {}, "overall": {}}
    lines = ["Same corpora, same request bytes, same waf-eval options for both: "
             "`--add-header 'X-Forwarded-Proto: https' --xff-random --concurrency 8"
             + (f" {args.sample}" if args.sample else "") + "` (Palisade at its defaults with `DYNO=web.1`, exactly "
             "as `ci/eval.sh` and acceptance measure it; ModSecurity with the configuration above). "
             "Blocked = 403; \"other\" (400, 413, 5xx, resets) is left out of the rates, as waf-eval does. "
             "Both WAFs run in front of `../shared/tools/echo-backend`. CRS 3.3 refuses any request carrying "
             "`Accept-Charset` (restricted header, rule 920450), which every csic record and many healthcare "
             "records carry, so ModSecurity is also shown with that header dropped (`--drop-header Accept-Charset`): "
             "the fairer reading of its other rules.", "",
             "| set | attacks / benign | Palisade TPR | ModSec TPR | ModSec TPR, no Accept-Charset | Palisade FPR "
             "| ModSec FPR | ModSec FPR, no Accept-Charset | other (Palisade / ModSec / ModSec no A-C) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]

    def rate(s, k):
        v = s.get(k)
        return "–" if v is None else f"{v:.4f}"

    def oth(s):
        if "other" in s:
            return str(s["other"])
        return str(s.get("attack", {}).get("other", 0) + s.get("benign", {}).get("other", 0)) if s else "–"

    for name in sorted(set(dp["sets"]) | set(dm["sets"])):
        a, b, c = dp["sets"].get(name, {}), dm["sets"].get(name, {}), dq["sets"].get(name, {})
        n_att = (a.get("attack") or b.get("attack") or {}).get("n", 0)
        n_ben = (a.get("benign") or b.get("benign") or {}).get("n", 0)
        lines.append(f"| {name} | {n_att} / {n_ben} | {rate(a, 'attack_tpr')} | {rate(b, 'attack_tpr')} | "
                     f"{rate(c, 'attack_tpr')} | {rate(a, 'benign_fpr')} | {rate(b, 'benign_fpr')} | "
                     f"{rate(c, 'benign_fpr')} | {oth(a)} / {oth(b)} / {oth(c)} |")
    po, mo, qo = dp["overall"], dm["overall"], dq["overall"]
    lines.append(f"| **overall** | {po['attack']['n']} / {po['benign']['n']} | {rate(po, 'attack_tpr')} | "
                 f"{rate(mo, 'attack_tpr')} | {rate(qo, 'attack_tpr')} | {rate(po, 'benign_fpr')} | "
                 f"{rate(mo, 'benign_fpr')} | {rate(qo, 'benign_fpr')} | {oth(po)} / {oth(mo)} / {oth(qo)} |")
    lines += ["", f"Replay time: Palisade {dp.get('elapsed_s', 0):.0f} s, ModSecurity {dm.get('elapsed_s', 0):.0f} s "
              f"(waf-eval latency p50 {1000 * (dp['latency_s']['p50'] or 0):.1f} ms vs "
              f"{1000 * (dm['latency_s']['p50'] or 0):.1f} ms, concurrency 8; nginx one worker, Palisade its default "
              "thread count).", ""]
    return lines


def write_md(args, rows, res):
    meta = dict(kv.split("=", 1) for kv in args.meta)
    d, wu, c = meta.get("duration", "?"), meta.get("warmup", "?"), meta.get("connections", "?")
    L = ["# Benchmarks: Palisade, nginx, and nginx + ModSecurity + OWASP CRS", "",
         f"<!-- generated by ci/bench/compare.sh on {meta.get('date', '?')}; do not edit by hand -->", "",
         "One run, one machine, every target in front of the same backend and measured with the same client. "
         "Reproduce it on your own machine with `ci/bench/compare.sh` (Debian/Ubuntu; it installs nginx, the "
         "ModSecurity connector, the CRS package and wrk when missing).", "",
         "![requests per second per workload](benchmarks.svg)", "",
         "## Headline ratios", "",
         f"Throughput ratios (req/s) and CPU time per request, same run. The project's floor (issue #9) is Palisade "
         f"at defaults ≥ {FLOOR}× plain nginx's throughput on every workload and ≤ 1 ms p99 added over direct on "
         "small GETs (see the one-connection table below). On a machine shared with other work, the CPU-per-request "
         "ratio is the steadier of the two: throughput and tail latency also move with what else is running.", "",
         "| workload | Palisade / nginx | Palisade / ModSecurity | Palisade PL2 / nginx | CPU per request, "
         "Palisade / nginx | CPU per request, ModSecurity / Palisade | floor ≥ 0.7× nginx |",
         "|---|---:|---:|---:|---:|---:|---|"]
    for r in ratio_rows(rows, res):
        label = WORKLOADS.get(r["workload"], (r["workload"],))[0]
        met = "n/a" if r["pal_ngx"] is None else ("met" if r["pal_ngx"] >= FLOOR else "**short**")
        L.append(f"| {label} | {fr(r['pal_ngx'])} | {fr(r['pal_mod'], 1)} | {fr(r['pl2_ngx'])} | "
                 f"{fr(r['cpu_pal_ngx'], 1)} | {fr(r['cpu_mod_pal'], 1)} | {met} |")
    fps = [(w, t, r) for (w, t), r in res.items() if t != "direct" and w != "attack-mix" and r["non_2xx"] > 0]
    L += ["", "A ModSecurity figure for a workload it blocks (non-2xx column) is the speed of inspecting and "
          "refusing, not of passing the request on: see the false-positive notes below."]
    rules = {}
    if args.modsec_rules and os.path.exists(args.modsec_rules):
        with open(args.modsec_rules) as f:
            rules = dict(line.rstrip("\n").split("\t", 1) for line in f if "\t" in line)
    if fps:
        L += ["", "Benign workloads refused by a WAF in this run (false positives):", ""]
        for w, t, r in fps:
            why = f"; rule ids in its audit log (mentions): {rules[w]}" if t == "modsec" and rules.get(w) else ""
            L.append(f"- {TARGETS.get(t, t)} on {WORKLOADS.get(w, (w,))[0]}: {r['non_2xx']:,} of {r['requests']:,} "
                     f"requests ({100 * r['non_2xx'] / max(r['requests'], 1):.1f} %){why}")
    lat = latency1(args.latency1)
    if lat:
        L += ["", "Latency added over the backend alone, small GET over **one** connection (no queueing, so latency "
              f"is the time per request; `wrk -t1 -c1 -d{d}s`):", "",
              "| target | p50 ms | p99 ms | p99.9 ms | added p50 ms | added p99 ms | added p99.9 ms |",
              "|---|---:|---:|---:|---:|---:|---:|"]
        for t in TARGETS:
            if t in lat:
                r = lat[t]
                a = [added_ms(lat, t, k) for k in ("p50_us", "p99_us", "p999_us")]
                L.append(f"| {TARGETS[t]} | {ms(r['p50_us'])} | {ms(r['p99_us'])} | {ms(r['p999_us'])} | "
                         + " | ".join("–" if t == "direct" else f"{v:.3f}" for v in a) + " |")
    L += ["", "## Throughput, latency, cost", "",
          f"wrk 1 thread, {c} connections, {d} s measured after a {wu} s warm-up, one run per cell. "
          "CPU = user + system seconds of the proxy's processes (nginx master + worker; palisade's one process, all "
          "threads) per 10,000 requests, from /proc/PID/stat before and after the measured run; peak RSS = VmHWM "
          "summed over those processes (each target is started fresh per workload). For *backend direct* the "
          "figures are the backend's own. non-2xx = responses with status ≥ 400 (wrk's count).", ""]
    for w in workloads_of(rows):
        label, desc = WORKLOADS.get(w, (w, ""))
        L += [f"### {label}", "", desc + ".", "",
              "| target | req/s | p50 ms | p99 ms | p99.9 ms | CPU s / 10k req | peak RSS MB | requests | non-2xx "
              "| socket errors |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for t in TARGETS:
            r = res.get((w, t))
            if not r:
                continue
            few = " †" if r["requests"] < 100 else ""
            L.append(f"| {TARGETS[t]}{few} | {r['rps']:,.0f} | {ms(r['p50_us'])} | {ms(r['p99_us'])} | "
                     f"{ms(r['p999_us'])} | {r['cpu_s_per_10k']:.3f} | {r['peak_rss_kb'] / 1024:.1f} | "
                     f"{r['requests']:,} | {r['non_2xx']:,} | {r['socket_errors']:,} |")
        if any(res.get((w, t), {}).get("requests", 100) < 100 for t in TARGETS):
            L.append("\n† fewer than 100 requests completed in the run: indicative only (queueing and the CPU "
                     "spent on requests still in flight when wrk stopped weigh on every figure of that row).")
        L.append("")
    profiles = {}
    if args.profiles and os.path.isdir(args.profiles):
        for w in workloads_of(rows):
            path = os.path.join(args.profiles, f"{w}.txt")
            if os.path.exists(path) and os.path.getsize(path) > 0:
                profiles[w] = open(path).read().rstrip()
    if profiles:
        L += ["## Where Palisade's CPU time goes", "",
              "A separate 3 s wrk run per workload against Palisade (defaults) under `perf record -F 499` (not "
              "part of the figures above); self time per symbol, ≥ 1 %, top 20:", ""]
        for w, text in profiles.items():
            L += [f"<details><summary>{WORKLOADS.get(w, (w,))[0]}</summary>", "", "```", text, "```", "",
                  "</details>", ""]
    L += ["## Detection on the public corpora", ""] + detection_section(args)
    L += ["## Machine and versions", "",
          f"- CPU: {meta.get('cpu', '?')}, {meta.get('cores', '?')} cores; kernel {meta.get('kernel', '?')}; "
          f"load average before the run {meta.get('load', '?')}",
          f"- nginx {meta.get('nginx', '?')}; {meta.get('modsecurity', '?')}; {meta.get('crs', '?')}; "
          f"{meta.get('wrk', '?')}",
          f"- Palisade git {meta.get('palisade', '?')} (`target/release/palisade`)", "",
          "## Setup (exactly what ran)", "",
          "- **Backend**: nginx, 1 worker, access log off. GETs answer `{\"ok\":true}` with `return 200`; "
          "requests with a body are read completely into memory first (`echo_read_request_body` of "
          "libnginx-mod-http-echo, `client_body_buffer_size 1m`) and answered the same way. Before measuring, a 100 KB "
          "FHIR Binary is echoed back through every target and compared byte for byte.",
          "- **nginx reverse proxy**: 1 worker (`worker_processes 1`), upstream keep-alive (`keepalive 128`, HTTP/1.1), "
          "`client_body_buffer_size 1m` (bodies stay in memory, like Palisade's buffered inspection), "
          "`access_log /dev/null`.",
          "- **nginx + ModSecurity + CRS PL1**: the same nginx plus `modsecurity on` with the packaged recommended "
          "`/etc/nginx/modsecurity.conf` and the CRS files the package's `owasp-crs.load` names (crs-setup.conf, "
          "rules/*.conf: paranoia level 1, anomaly threshold 5, anomaly scoring). Changes: `SecRuleEngine On` (the "
          "package ships DetectionOnly); its audit log (written for refused requests only, RelevantOnly as packaged) "
          "goes to a temporary file the report reads rule ids from; `application/fhir+json` added to the allowed "
          "content types and parsed as JSON (stock CRS 3.3 refuses that content type, rule 920420); "
          "`SecArgumentsLimit 10000` (the packaged 1,000 answers 400 to any 100 KB bundle). No rule exclusions.",
          "- **Palisade**: `palisade run --upstream 127.0.0.1:BACKEND` from an empty directory (no palisade.yml) with "
          "only `PORT`, `DYNO=web.1` (as on Heroku: client address from the right of X-Forwarded-For, HTTPS "
          "redirect on, so every request carries `X-Forwarded-Proto: https` like the router's) and "
          "`PALISADE_THREADS=1` to match nginx's one worker (the detection runs leave the thread count at its "
          "default, as `ci/eval.sh` does); *PL2* adds `PALISADE_PARANOIA=2`. Its audit lines "
          "(stdout, one JSON line per request) go to /dev/null.",
          "- **Client**: for each workload and target, a fresh target, then "
          f"`wrk -t1 -c{c} -d{wu}s --timeout 60s -s WORKLOAD.lua` (warm-up, discarded; then a wait until the "
          "target's CPU use is idle, so work the warm-up queued does not spill into the measurement) and "
          f"`wrk -t1 -c{c} -d{d}s --timeout 60s --latency -s WORKLOAD.lua` (measured). The Lua scripts "
          "(written by `ci/bench/workloads.py`) set the headers, and their `done()` prints p50/p99/p99.9 "
          "(`latency:percentile(99.9)`). Every request carries `X-Forwarded-For` and `X-Forwarded-Proto: https`.",
          "- Everything binds 127.0.0.1; the client, the proxy and the backend share the machine's cores.",
          f"- This report: `{meta.get('command', 'ci/bench/compare.sh')}`.", ""]
    if args.configs and os.path.isdir(args.configs):
        L += ["The configurations, exactly as run (`$WORK` is the script's temporary directory; ports are "
              "picked free at each start):", ""]
        for name in sorted(os.listdir(args.configs)):
            with open(os.path.join(args.configs, name)) as f:
                text = f.read().rstrip()
            L += [f"<details><summary><code>{name}</code></summary>", "", "```nginx" if name.endswith(".conf")
                  and "main" not in name else "```apache", text, "```", "", "</details>", ""]
    L += [
          "## Caveats", "",
          "- One run on a machine shared with other work (compilers of other developers may have been running): "
          "compare the targets within this run, not these absolute figures with another machine's.",
          "- One proxy worker each, on purpose: it measures the cost per request. With more cores, all three scale "
          "with workers/threads.",
          f"- With {c} connections on one worker, latency includes queueing: a target that needs t seconds "
          f"per request shows a p50 near {c}·t. Requests still in flight when wrk stops are not counted.", ""]
    with open(args.out, "w") as f:
        f.write("\n".join(L))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--results", required=True)
    ap.add_argument("--out")
    ap.add_argument("--workloads")
    ap.add_argument("--profiles", help="directory of WORKLOAD.txt perf profiles of palisade")
    ap.add_argument("--configs", help="directory of the exact nginx / ModSecurity configurations used")
    ap.add_argument("--latency1", help="TSV like --results: small GET over one connection")
    ap.add_argument("--detect-palisade")
    ap.add_argument("--detect-modsec")
    ap.add_argument("--detect-modsec-nocharset")
    ap.add_argument("--detection-note", default="")
    ap.add_argument("--modsec-rules", help="TSV: workload, CRS rule ids (with counts) in ModSecurity's audit log")
    ap.add_argument("--sample", default="")
    ap.add_argument("--meta", action="append", default=[])
    ap.add_argument("--ratios-only", action="store_true")
    args = ap.parse_args()
    rows, res = load(args.results)
    if not rows:
        sys.exit(f"ci/bench/report.py: {args.results} has no result rows")
    if args.ratios_only:
        print_ratios(rows, res, latency1(args.latency1))
        return
    if not args.out:
        sys.exit("ci/bench/report.py: --out is required unless --ratios-only")
    for kv in args.meta:
        if "=" not in kv:
            sys.exit(f"ci/bench/report.py: --meta takes KEY=VALUE, got {kv!r}")
    write_md(args, rows, res)


if __name__ == "__main__":
    main()
