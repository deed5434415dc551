#!/usr/bin/env python3
"""Grouped bar chart (SVG) of requests per second per workload and target.

    ci/bench/chart.py RESULTS.tsv OUT.svg

RESULTS.tsv is the table ci/bench/compare.sh writes (columns workload, target, rps, ...).
Linear scale, each bar labelled with its value: a log scale would hide how far apart the
targets are. Standard library only.
"""

import csv
import sys
from xml.sax.saxutils import escape

COLORS = {"direct": "#9e9e9e", "nginx": "#4c78a8", "modsec": "#e45756",
          "palisade": "#2ca02c", "palisade-pl2": "#98df8a"}
LABELS = {"direct": "backend direct", "nginx": "nginx proxy", "modsec": "nginx + ModSecurity + CRS PL1",
          "palisade": "Palisade (defaults, PL1)", "palisade-pl2": "Palisade PL2"}
WORKLOAD_LABELS = {"small-get": ("small GET",), "browser-get": ("GET, 10 args", "+ browser headers"),
                   "form-post": ("POST 10 KB form",), "fhir-post": ("POST 100 KB", "FHIR JSON"),
                   "upload-post": ("POST 100 KB", "upload"),
                   "attack-mix": ("GET mix,", "5% attacks")}


def nice_max(v):
    """A round axis maximum at or above v."""
    if v <= 0:
        return 1
    mag = 10 ** (len(str(int(v))) - 1)
    for step in (1, 2, 2.5, 5, 10):
        if step * mag >= v:
            return step * mag
    return 10 * mag


def fmt(v):
    if v >= 1000:
        return f"{v / 1000:.1f}k"
    return f"{v:.0f}" if v >= 10 or v == 0 else f"{v:.1f}"


def chart(rows):
    workloads = list(dict.fromkeys(r["workload"] for r in rows))
    targets = list(dict.fromkeys(r["target"] for r in rows))
    rps = {(r["workload"], r["target"]): float(r["rps"]) for r in rows}
    top = nice_max(max(rps.values(), default=1) * 1.08)
    bar, gap, left, right, plot_h, top_pad = 24, 40, 70, 20, 300, 40
    group_w = len(targets) * bar + gap
    width = max(left + right + len(workloads) * group_w, 620)
    legend_h = 22 * ((len(targets) + 1) // 2)
    height = top_pad + plot_h + 74 + legend_h
    y0 = top_pad + plot_h
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{left}" y="20" font-size="14" font-weight="bold">Requests per second '
           '(higher is better), one run, same machine</text>']
    for i in range(6):
        v = top * i / 5
        y = y0 - plot_h * i / 5
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{fmt(v)}</text>')
    for gi, w in enumerate(workloads):
        gx = left + gi * group_w + gap / 2
        for ti, t in enumerate(targets):
            v = rps.get((w, t))
            if v is None:
                continue
            h = plot_h * v / top
            x = gx + ti * bar
            out.append(f'<rect x="{x:.1f}" y="{y0 - h:.1f}" width="{bar - 3}" height="{h:.1f}" '
                       f'fill="{COLORS.get(t, "#555")}"><title>{escape(LABELS.get(t, t))}: {v:.0f} req/s</title></rect>')
            tx, ty = x + (bar - 3) / 2 + 3, y0 - h - 4
            out.append(f'<text x="{tx:.1f}" y="{ty:.1f}" font-size="9" transform="rotate(-90 {tx:.1f} {ty:.1f})">{fmt(v)}</text>')
        for li, line in enumerate(WORKLOAD_LABELS.get(w, (w,))):
            out.append(f'<text x="{gx + len(targets) * bar / 2:.1f}" y="{y0 + 16 + 13 * li}" text-anchor="middle">'
                       f'{escape(line)}</text>')
    out.append(f'<line x1="{left}" y1="{y0}" x2="{width - right}" y2="{y0}" stroke="#333"/>')
    for ti, t in enumerate(targets):
        lx = left + (ti % 2) * 260
        ly = y0 + 54 + (ti // 2) * 22
        out.append(f'<rect x="{lx}" y="{ly - 10}" width="12" height="12" fill="{COLORS.get(t, "#555")}"/>')
        out.append(f'<text x="{lx + 18}" y="{ly}">{escape(LABELS.get(t, t))}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: ci/bench/chart.py RESULTS.tsv OUT.svg")
    with open(sys.argv[1], newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    if not rows:
        sys.exit(f"ci/bench/chart.py: {sys.argv[1]} has no result rows")
    with open(sys.argv[2], "w") as f:
        f.write(chart(rows))


if __name__ == "__main__":
    main()
