//! `palisade report`: exported logs → one self-contained HTML file (inline CSS and SVG, no script,
//! no external assets): traffic and blocks over time, blocks by category and rule, top client IPs
//! and countries, the policy in force, the HIPAA checklist, log integrity and pipeline health.

mod svg;

use std::collections::{BTreeMap, HashMap};
use std::fmt::{self, Write as _};
use std::io::{self, BufRead, Write};
use std::time::SystemTime;

use serde_json::{Map, Value};

use crate::hipaa::{
    checklist_worst, hipaa_checklist, render_checklist_html, CheckStatus, PolicySummary,
};
use crate::html::escape;
use crate::logline::parse_line;
use crate::time::{format_rfc3339_micros, parse_rfc3339_micros};
use crate::verify::{for_each_line, Verifier, VerifyOptions, VerifyReport};
use svg::{bar_list, time_chart, TimeBar};

const MICROS_PER_MINUTE: i64 = 60_000_000;
const MAX_TIME_BARS: i64 = 72;
const TOP_N: usize = 10;

/// Report settings.
#[derive(Clone)]
pub struct ReportOptions {
    /// Page title.
    pub title: String,
    /// HMAC key, to check keyed chains fully in the integrity section.
    pub key: Option<Vec<u8>>,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions {
            title: "Palisade security report".to_owned(),
            key: None,
        }
    }
}

/// Headline numbers of a rendered report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportStats {
    /// Input lines read.
    pub lines_read: usize,
    /// Audit events used.
    pub events: u64,
    /// Requests (access events).
    pub requests: u64,
    /// Refusals (security events that blocked, denied, limited or banned).
    pub blocked: u64,
    /// Whether the integrity check found tampering.
    pub tampered: bool,
}

/// Why a report could not be written.
#[derive(Debug)]
pub enum ReportError {
    /// Reading the logs or writing the HTML failed.
    Io(io::Error),
}

impl fmt::Display for ReportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReportError::Io(e) => write!(f, "report: {e}"),
        }
    }
}

impl std::error::Error for ReportError {}

impl From<io::Error> for ReportError {
    fn from(e: io::Error) -> Self {
        ReportError::Io(e)
    }
}

#[derive(Default, Clone, Copy)]
struct Minute {
    requests: u64,
    blocked: u64,
}

#[derive(Default)]
struct Aggregate {
    events: u64,
    requests: u64,
    blocked: u64,
    monitored: u64,
    first: Option<i64>,
    last: Option<i64>,
    minutes: BTreeMap<i64, Minute>,
    categories: HashMap<String, u64>,
    rules: HashMap<String, u64>,
    actions: HashMap<String, u64>,
    ips: HashMap<String, (u64, u64)>,
    countries: HashMap<String, (u64, u64)>,
    status_classes: [u64; 6],
    lost_lines: u64,
    dropped_alerts: u64,
    alerts_sent: u64,
    latency_p50: Vec<u64>,
    latency_p99_max: Option<u64>,
    startup: Option<Map<String, Value>>,
    startups: u64,
}

fn strs(v: Option<&Value>) -> Vec<&str> {
    match v {
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        Some(Value::String(s)) => vec![s.as_str()],
        _ => Vec::new(),
    }
}

impl Aggregate {
    fn add(&mut self, f: &Map<String, Value>) {
        self.events += 1;
        let text = |k: &str| f.get(k).and_then(Value::as_str);
        let num = |k: &str| f.get(k).and_then(Value::as_u64);
        let t = text("@timestamp").and_then(parse_rfc3339_micros);
        if let Some(t) = t {
            self.first = Some(self.first.map_or(t, |x| x.min(t)));
            self.last = Some(self.last.map_or(t, |x| x.max(t)));
        }
        let minute = t.map(|t| t.div_euclid(MICROS_PER_MINUTE));
        let ip = text("client.ip").map(str::to_owned);
        let country = text("source.geo.country_iso_code").map(str::to_owned);
        match (text("event.kind"), text("event.action")) {
            (Some("event"), Some("request")) => {
                self.requests += 1;
                if let Some(m) = minute {
                    self.minutes.entry(m).or_default().requests += 1;
                }
                if let Some(ip) = ip {
                    self.ips.entry(ip).or_default().0 += 1;
                }
                if let Some(c) = country {
                    self.countries.entry(c).or_default().0 += 1;
                }
                if let Some(s) = num("http.response.status_code") {
                    let class = (s / 100) as usize;
                    self.status_classes[if (1..=5).contains(&class) { class } else { 0 }] += 1;
                }
            }
            (Some("alert"), Some(action)) => {
                *self.actions.entry(action.to_owned()).or_default() += 1;
                for r in strs(f.get("rule.id")) {
                    *self.rules.entry(r.to_owned()).or_default() += 1;
                }
                let refused = matches!(
                    text("palisade.action"),
                    Some("block" | "deny" | "limit" | "ban")
                );
                if text("palisade.action") == Some("monitor") {
                    self.monitored += 1;
                }
                if refused {
                    self.blocked += 1;
                    if let Some(m) = minute {
                        self.minutes.entry(m).or_default().blocked += 1;
                    }
                    let cats = strs(f.get("rule.category"));
                    if cats.is_empty() {
                        let control = text("palisade.control").unwrap_or("other");
                        *self.categories.entry(control.to_owned()).or_default() += 1;
                    }
                    for c in cats {
                        *self.categories.entry(c.to_owned()).or_default() += 1;
                    }
                    if let Some(ip) = ip {
                        self.ips.entry(ip).or_default().1 += 1;
                    }
                    if let Some(c) = country {
                        self.countries.entry(c).or_default().1 += 1;
                    }
                }
            }
            (Some("metric"), Some("summary")) => {
                self.lost_lines += num("palisade.summary.lost_lines").unwrap_or(0);
                self.dropped_alerts += num("palisade.summary.dropped_alerts").unwrap_or(0);
                self.alerts_sent += num("palisade.summary.alerts_sent").unwrap_or(0);
                if let Some(p) = num("palisade.summary.latency_p50_us") {
                    self.latency_p50.push(p);
                }
                if let Some(p) = num("palisade.summary.latency_p99_us") {
                    self.latency_p99_max = Some(self.latency_p99_max.map_or(p, |m| m.max(p)));
                }
            }
            (Some("state"), Some("startup")) => {
                self.startups += 1;
                let newer = match (&self.startup, t) {
                    (Some(old), Some(t)) => old
                        .get("@timestamp")
                        .and_then(Value::as_str)
                        .and_then(parse_rfc3339_micros)
                        .is_none_or(|o| t >= o),
                    _ => true,
                };
                if newer {
                    self.startup = Some(f.clone());
                }
            }
            _ => {}
        }
    }
}

fn top_counts(map: &HashMap<String, u64>) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = map.iter().map(|(k, n)| (k.clone(), *n)).collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v.truncate(TOP_N);
    v
}

fn top_pairs(map: &HashMap<String, (u64, u64)>) -> Vec<(String, u64, u64)> {
    let mut v: Vec<(String, u64, u64)> =
        map.iter().map(|(k, (r, b))| (k.clone(), *r, *b)).collect();
    v.sort_by(|a, b| (b.1 + b.2).cmp(&(a.1 + a.2)).then_with(|| a.0.cmp(&b.0)));
    v.truncate(TOP_N);
    v
}

fn minute_label(minute: i64) -> String {
    let micros = u64::try_from(minute * MICROS_PER_MINUTE).unwrap_or(0);
    let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_micros(micros);
    // 2026-12-04T17:00:00.000000Z → 12-04 17:00
    format_rfc3339_micros(t)
        .get(5..16)
        .unwrap_or("")
        .replace('T', " ")
}

fn time_bars(minutes: &BTreeMap<i64, Minute>) -> (Vec<TimeBar>, i64) {
    let (Some(first), Some(last)) = (minutes.keys().next(), minutes.keys().next_back()) else {
        return (Vec::new(), 1);
    };
    let span = last - first + 1;
    let width = [1, 5, 15, 30, 60, 180, 360, 720, 1440, 10_080]
        .into_iter()
        .find(|w| (span + w - 1) / w <= MAX_TIME_BARS)
        .unwrap_or(span.div_euclid(MAX_TIME_BARS) + 1);
    let start = first.div_euclid(width) * width;
    let count = (last - start) / width + 1;
    let mut bars: Vec<TimeBar> = (0..count)
        .map(|i| TimeBar {
            label: minute_label(start + i * width),
            total: 0,
            highlighted: 0,
        })
        .collect();
    for (m, v) in minutes {
        if let Some(bar) = usize::try_from((m - start) / width)
            .ok()
            .and_then(|i| bars.get_mut(i))
        {
            bar.total += v.requests;
            bar.highlighted += v.blocked;
        }
    }
    (bars, width)
}

fn flatten(prefix: &str, v: &Value, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out);
            }
        }
        Value::String(s) => out.push((prefix.to_owned(), s.clone())),
        other => out.push((prefix.to_owned(), other.to_string())),
    }
}

const STYLE: &str = "
*{box-sizing:border-box}body{font-family:-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif;margin:0;background:#f4f6f8;color:#1d2733}
header{background:#12324a;color:#fff;padding:20px 32px}header h1{margin:0;font-size:24px}header p{margin:4px 0 0;color:#c8d6e2;font-size:14px}
main{padding:20px 32px;max-width:1200px}section{background:#fff;border-radius:8px;padding:16px 20px;margin-bottom:18px;box-shadow:0 1px 2px rgba(0,0,0,.08)}
h2{font-size:18px;margin:0 0 12px}.cards{display:flex;flex-wrap:wrap;gap:12px;margin-bottom:18px}
.card{background:#fff;border-radius:8px;padding:12px 16px;min-width:150px;box-shadow:0 1px 2px rgba(0,0,0,.08)}.card b{display:block;font-size:24px}.card span{color:#5b6b7a;font-size:13px}
.grid2{display:grid;grid-template-columns:1fr 1fr;gap:18px}table{border-collapse:collapse;width:100%;font-size:14px}th,td{text-align:left;padding:6px 8px;border-bottom:1px solid #e4e8ec;vertical-align:top}
th{color:#5b6b7a;font-weight:600}.checklist td:nth-child(2){white-space:nowrap}td.num{text-align:right;font-variant-numeric:tabular-nums}code{font-size:12px;background:#f0f3f6;padding:1px 4px;border-radius:3px}
.chart .grid{stroke:#e4e8ec}.axis,.legend{font-size:12px;fill:#5b6b7a}.bar-total{fill:#9fb7cc}.bar-hl{fill:#d9534f}.bars .label,.bars .count{font-size:13px;fill:#1d2733}.bar-cat{fill:#d9534f}.bar-rule{fill:#e08e0b}
.badge{display:inline-block;white-space:nowrap;padding:2px 8px;border-radius:10px;font-size:12px;font-weight:600;color:#fff}.badge.pass{background:#2e8b57}.badge.warn{background:#d98e04}.badge.fail{background:#c9302c}.badge.nc{background:#7a8793}
.ok{color:#2e8b57;font-weight:600}.bad{color:#c9302c;font-weight:600}.muted{color:#7a8793}footer{color:#7a8793;font-size:12px;padding:0 32px 24px}
";

/// Renders a report with default options.
pub fn render_report<R: BufRead, W: Write>(reader: R, out: W) -> Result<ReportStats, ReportError> {
    render_report_with(reader, out, &ReportOptions::default())
}

/// Renders a report.
pub fn render_report_with<R: BufRead, W: Write>(
    reader: R,
    mut out: W,
    options: &ReportOptions,
) -> Result<ReportStats, ReportError> {
    let mut agg = Aggregate::default();
    let mut verifier = Verifier::new(&VerifyOptions {
        key: options.key.clone(),
    });
    for_each_line(reader, |n, line| {
        let parsed = parse_line(line);
        if let Some(Ok(p)) = &parsed {
            if let Some(fields) = &p.fields {
                agg.add(fields);
            }
        }
        verifier.push(n, parsed.as_ref());
    })?;
    let integrity = verifier.finish();
    let html = build_html(&agg, &integrity, options);
    out.write_all(html.as_bytes())?;
    out.flush()?;
    Ok(ReportStats {
        lines_read: integrity.lines_read,
        events: agg.events,
        requests: agg.requests,
        blocked: agg.blocked,
        tampered: integrity.tampered(),
    })
}

fn card(s: &mut String, value: &str, label: &str, class: &str) {
    let _ = write!(
        s,
        "<div class=\"card\"><b class=\"{class}\">{}</b><span>{}</span></div>",
        escape(value),
        escape(label)
    );
}

fn build_html(agg: &Aggregate, integrity: &VerifyReport, options: &ReportOptions) -> String {
    let mut s = String::with_capacity(64 * 1024);
    let title = escape(&options.title);
    let period = match (agg.first, agg.last) {
        (Some(a), Some(b)) => {
            let f = |m: i64| {
                format_rfc3339_micros(
                    SystemTime::UNIX_EPOCH
                        + std::time::Duration::from_micros(u64::try_from(m).unwrap_or(0)),
                )
            };
            format!("{} to {} (UTC)", &f(a)[..19], &f(b)[..19])
        }
        _ => "no timestamped events".to_owned(),
    };
    let _ = write!(
        s,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{title}</title><style>{STYLE}</style></head><body><header><h1>{title}</h1><p>{} · {} audit events from {} input lines · generated {}</p></header><main>",
        escape(&period),
        agg.events,
        integrity.lines_read,
        &format_rfc3339_micros(SystemTime::now())[..19]
    );

    s.push_str("<div class=\"cards\">");
    card(&mut s, &agg.requests.to_string(), "requests", "");
    card(
        &mut s,
        &agg.blocked.to_string(),
        "refused (block, deny, limit, ban)",
        if agg.blocked > 0 { "bad" } else { "" },
    );
    card(&mut s, &agg.monitored.to_string(), "monitor-mode hits", "");
    let rate = if agg.requests > 0 {
        format!("{:.2} %", agg.blocked as f64 * 100.0 / agg.requests as f64)
    } else {
        "–".to_owned()
    };
    card(&mut s, &rate, "refused / requests", "");
    card(&mut s, &agg.ips.len().to_string(), "client IPs", "");
    let (integrity_text, integrity_class) = if integrity.tampered() {
        ("TAMPERED", "bad")
    } else if integrity.audit_lines == 0 {
        ("no chain", "muted")
    } else {
        ("intact", "ok")
    };
    card(&mut s, integrity_text, "log integrity", integrity_class);
    s.push_str("</div>");

    let (bars, width) = time_bars(&agg.minutes);
    let _ = write!(s, "<section><h2>Traffic and refusals over time <span class=\"muted\">({width}-minute bars)</span></h2>");
    s.push_str(&time_chart(&bars, "requests", "refused"));
    s.push_str("</section>");

    s.push_str("<div class=\"grid2\"><section><h2>Refusals by category</h2>");
    s.push_str(&bar_list(&top_counts(&agg.categories), "bar-cat"));
    s.push_str("</section><section><h2>Top rules</h2>");
    s.push_str(&bar_list(&top_counts(&agg.rules), "bar-rule"));
    s.push_str("</section></div>");

    s.push_str("<div class=\"grid2\">");
    for (heading, rows) in [
        ("Top client IPs", top_pairs(&agg.ips)),
        ("Top countries", top_pairs(&agg.countries)),
    ] {
        let _ = write!(s, "<section><h2>{heading}</h2>");
        if rows.is_empty() {
            s.push_str("<p class=\"muted\">None in this period.</p>");
        } else {
            s.push_str("<table><thead><tr><th></th><th class=\"num\">requests</th><th class=\"num\">refused</th></tr></thead><tbody>");
            for (k, r, b) in rows {
                let _ = write!(s, "<tr><td><code>{}</code></td><td class=\"num\">{r}</td><td class=\"num\">{b}</td></tr>", escape(&k));
            }
            s.push_str("</tbody></table>");
        }
        s.push_str("</section>");
    }
    s.push_str("</div>");

    s.push_str("<div class=\"grid2\"><section><h2>Security decisions</h2>");
    let actions = top_counts(&agg.actions);
    if actions.is_empty() {
        s.push_str("<p class=\"muted\">None in this period.</p>");
    } else {
        s.push_str("<table><tbody>");
        for (a, n) in actions {
            let _ = write!(
                s,
                "<tr><td><code>{}</code></td><td class=\"num\">{n}</td></tr>",
                escape(&a)
            );
        }
        s.push_str("</tbody></table>");
    }
    s.push_str("</section><section><h2>Responses</h2><table><tbody>");
    for (i, label) in ["other", "1xx", "2xx", "3xx", "4xx", "5xx"]
        .iter()
        .enumerate()
    {
        if agg.status_classes[i] > 0 {
            let _ = write!(
                s,
                "<tr><td>{label}</td><td class=\"num\">{}</td></tr>",
                agg.status_classes[i]
            );
        }
    }
    s.push_str("</tbody></table></section></div>");

    // Policy in force.
    s.push_str("<section><h2>Policy in force</h2>");
    let summary: Option<PolicySummary> = agg
        .startup
        .as_ref()
        .and_then(|st| st.get("palisade.hipaa"))
        .and_then(|v| serde_json::from_value(v.clone()).ok());
    match &agg.startup {
        Some(st) => {
            let text = |k: &str| st.get(k).and_then(Value::as_str).unwrap_or("?").to_owned();
            let _ = write!(
                s,
                "<p>Palisade {} with rules {} on {}, started {} ({} startup event(s) in this log; the latest is shown).</p>",
                escape(&text("service.version")),
                escape(&text("palisade.rules_version")),
                escape(&text("palisade.dyno")),
                escape(text("@timestamp").get(..19).unwrap_or("?")),
                agg.startups
            );
            let mut rows = Vec::new();
            if let Some(p) = st.get("palisade.policy") {
                flatten("", p, &mut rows);
            }
            if rows.is_empty() {
                s.push_str("<p class=\"muted\">The startup event carries no policy details.</p>");
            } else {
                s.push_str("<table><tbody>");
                for (k, v) in rows {
                    let _ = write!(s, "<tr><th>{}</th><td><code>{}</code></td></tr>", escape(&k), escape(&v));
                }
                s.push_str("</tbody></table>");
            }
        }
        None => s.push_str("<p class=\"muted\">No startup event in this log: the policy in force is unknown for this period.</p>"),
    }
    s.push_str("</section>");

    s.push_str("<section><h2>HIPAA Security Rule checklist</h2>");
    match summary {
        Some(p) => {
            let items = hipaa_checklist(&p);
            let worst = checklist_worst(&items);
            let class = match worst {
                CheckStatus::Fail => "bad",
                CheckStatus::Pass => "ok",
                _ => "",
            };
            let _ = write!(
                s,
                "<p>Overall: <span class=\"{class}\">{}</span>. An aid for your risk analysis, not a certification; items marked NOT COVERED are yours (or Heroku's).</p>",
                worst.label()
            );
            s.push_str(&render_checklist_html(&items));
        }
        None => s.push_str("<p class=\"muted\">No startup event with a policy summary in this log; run <code>palisade check --hipaa</code> for the current configuration.</p>"),
    }
    s.push_str("</section>");

    // Integrity.
    s.push_str("<section><h2>Log integrity</h2>");
    let _ = write!(
        s,
        "<p>{} audit lines in {} chain(s); {} hashes recomputed; {} restart(s). Result: <span class=\"{}\">{}</span></p>",
        integrity.audit_lines,
        integrity.chains.len(),
        integrity.hashes_checked,
        integrity.restarts.len(),
        integrity_class,
        integrity_text
    );
    if !integrity.findings.is_empty() {
        s.push_str(
            "<table><thead><tr><th>Line</th><th>Kind</th><th>Detail</th></tr></thead><tbody>",
        );
        for f in integrity.findings.iter().take(50) {
            let class = if f.kind.is_tampering() {
                "bad"
            } else {
                "muted"
            };
            let _ = write!(
                s,
                "<tr><td class=\"num\">{}</td><td class=\"{class}\">{}</td><td>{}</td></tr>",
                f.line,
                escape(&format!("{:?}", f.kind)),
                escape(&f.detail)
            );
        }
        s.push_str("</tbody></table>");
        if integrity.findings.len() > 50 {
            let _ = write!(
                s,
                "<p class=\"muted\">… and {} more; run <code>palisade audit verify</code>.</p>",
                integrity.findings.len() - 50
            );
        }
    }
    s.push_str("</section>");

    s.push_str("<section><h2>Pipeline health</h2><table><tbody>");
    let p50 = agg
        .latency_p50
        .iter()
        .copied()
        .max()
        .map_or("–".to_owned(), |v| format!("{v} µs"));
    let p99 = agg
        .latency_p99_max
        .map_or("–".to_owned(), |v| format!("{v} µs"));
    for (label, value) in [
        (
            "log lines lost (queue full or stdout failing)",
            agg.lost_lines.to_string(),
        ),
        ("alerts sent", agg.alerts_sent.to_string()),
        ("alerts dropped", agg.dropped_alerts.to_string()),
        ("added latency p50 (worst minute)", p50),
        ("added latency p99 (worst minute)", p99),
    ] {
        let _ = write!(
            s,
            "<tr><th>{label}</th><td class=\"num\">{}</td></tr>",
            escape(&value)
        );
    }
    s.push_str("</tbody></table></section>");
    s.push_str("</main><footer>Generated by palisade report. Contains no request bodies, query values, cookies or credentials.</footer></body></html>\n");
    s
}
