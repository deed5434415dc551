//! Events → ordered lists of flat dotted keys, redacted and bounded; one list feeds every format.

use std::borrow::Cow;
use std::time::SystemTime;

use crate::event::{
    AccessEvent, ConfigChangeEvent, RequestInfo, RuleHit, SecurityEvent, StartupEvent,
};
use crate::redact::{
    bound_param_names, bound_text, redact_path, redact_referrer, redact_snippet,
    sanitize_request_id, truncate_utf8, USER_AGENT_MAX_BYTES,
};
use crate::time::format_rfc3339_micros;

/// Version of the field layout; bump on any rename or change of meaning.
pub const SCHEMA_VERSION: u64 = 1;
/// Most rule hits written per event before size-based trimming.
pub const MAX_HITS: usize = 16;
const ID_MAX_BYTES: usize = 64;
const CATEGORY_MAX_BYTES: usize = 32;
const TARGET_MAX_BYTES: usize = 64;
const REASON_MAX_BYTES: usize = 200;
pub(crate) const COUNTRY_MAX_BYTES: usize = 8;
pub(crate) const METHOD_MAX_BYTES: usize = 16;

/// A value in a record.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Val<'a> {
    Str(Cow<'a, str>),
    U64(u64),
    Bool(bool),
    /// A list of strings (borrowed for the fixed lists every access line carries).
    List(Cow<'a, [Cow<'a, str>]>),
    Hits(Vec<Hit>),
    Counts(Vec<(String, u64)>),
    Json(Cow<'a, serde_json::Value>),
}

impl<'a> Val<'a> {
    /// A list of owned or borrowed strings.
    pub(crate) fn list(items: Vec<Cow<'a, str>>) -> Self {
        Val::List(Cow::Owned(items))
    }
}

/// `event.category` of access events.
const WEB: &[Cow<'static, str>] = &[Cow::Borrowed("web")];
/// `event.type` of access events.
const ACCESS: &[Cow<'static, str>] = &[Cow::Borrowed("access")];

/// A rule hit after redaction.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Hit {
    pub id: String,
    pub category: String,
    pub target: String,
    pub snippet: String,
    pub score: u32,
}

/// CEF header facts.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CefHeader {
    pub signature: Cow<'static, str>,
    pub name: Cow<'static, str>,
    pub severity: u8,
}

/// One event as ordered (key, value) pairs.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Record<'a> {
    pub fields: Vec<(&'static str, Val<'a>)>,
    pub cef: CefHeader,
    shrink_steps: u8,
}

impl<'a> Record<'a> {
    fn new(time: SystemTime, kind: &'static str, cef: CefHeader) -> Self {
        let mut r = Record {
            fields: Vec::with_capacity(32),
            cef,
            shrink_steps: 0,
        };
        r.str("@timestamp", format_rfc3339_micros(time));
        r.u64("palisade.schema_version", SCHEMA_VERSION);
        r.str("event.kind", kind);
        r
    }

    pub(crate) fn str(&mut self, key: &'static str, v: impl Into<Cow<'a, str>>) {
        self.fields.push((key, Val::Str(v.into())));
    }

    pub(crate) fn u64(&mut self, key: &'static str, v: u64) {
        self.fields.push((key, Val::U64(v)));
    }

    pub(crate) fn push(&mut self, key: &'static str, v: Val<'a>) {
        self.fields.push((key, v));
    }

    /// Makes the record smaller for the line limit; `false` when nothing is left to shed.
    /// Step 1..: halve the hit list (noting how many were dropped); then replace JSON blobs by a size
    /// note; then cut every string to 128 bytes.
    pub(crate) fn shrink(&mut self) -> bool {
        self.shrink_steps += 1;
        let mut dropped = 0usize;
        let mut had_hits = false;
        for (_, v) in self.fields.iter_mut() {
            if let Val::Hits(hits) = v {
                if !hits.is_empty() {
                    had_hits = true;
                    let keep = hits.len() / 2;
                    dropped = hits.len() - keep;
                    hits.truncate(keep);
                }
            }
        }
        if had_hits {
            self.add_to_counter("palisade.hits_dropped", dropped as u64);
            self.mark_truncated();
            return true;
        }
        let mut changed = false;
        for (_, v) in self.fields.iter_mut() {
            if let Val::Json(j) = v {
                let size = j.to_string().len();
                *v = Val::Str(Cow::Owned(format!(
                    "omitted: {size} bytes over the line limit"
                )));
                changed = true;
            }
        }
        if !changed {
            for (_, v) in self.fields.iter_mut() {
                match v {
                    Val::Str(s) if s.len() > 128 => {
                        *s = Cow::Owned(bound_text(s, 128).into_owned());
                        changed = true;
                    }
                    Val::List(items) if items.len() > 4 => {
                        items.to_mut().truncate(4);
                        changed = true;
                    }
                    _ => {}
                }
            }
        }
        if changed {
            self.mark_truncated();
        }
        changed
    }

    fn add_to_counter(&mut self, key: &'static str, n: u64) {
        for (k, v) in self.fields.iter_mut() {
            if *k == key {
                if let Val::U64(old) = v {
                    *old += n;
                }
                return;
            }
        }
        self.fields.push((key, Val::U64(n)));
    }

    fn mark_truncated(&mut self) {
        if !self.fields.iter().any(|(k, _)| *k == "palisade.truncated") {
            self.fields.push(("palisade.truncated", Val::Bool(true)));
        }
    }
}

fn request_fields<'a>(r: &mut Record<'a>, req: &'a RequestInfo, mask_ids: bool) {
    if let Some(ip) = req.client_ip {
        r.str("client.ip", ip.to_string());
    }
    if let Some(c) = &req.country {
        r.str(
            "source.geo.country_iso_code",
            truncate_utf8(c, COUNTRY_MAX_BYTES),
        );
    }
    r.str(
        "http.request.method",
        truncate_utf8(&req.method, METHOD_MAX_BYTES),
    );
    r.str("url.path", redact_path(&req.path, mask_ids));
    if !req.query_param_names.is_empty() {
        let names = bound_param_names(&req.query_param_names, mask_ids);
        r.push(
            "palisade.query_params",
            Val::list(names.into_iter().map(Cow::Owned).collect()),
        );
    }
    if let Some(ua) = &req.user_agent {
        r.str("user_agent.original", bound_text(ua, USER_AGENT_MAX_BYTES));
    }
    if let Some(referrer) = &req.referrer {
        r.str("http.request.referrer", redact_referrer(referrer, mask_ids));
    }
    if let Some(id) = &req.request_id {
        r.str("http.request.id", sanitize_request_id(id));
    }
}

fn hit_fields<'a>(r: &mut Record<'a>, hits: &'a [RuleHit]) {
    if hits.is_empty() {
        return;
    }
    let mut ids: Vec<Cow<'a, str>> = Vec::new();
    let mut categories: Vec<Cow<'a, str>> = Vec::new();
    for h in hits.iter().take(MAX_HITS) {
        let id = Cow::Borrowed(truncate_utf8(&h.id, ID_MAX_BYTES));
        if !ids.contains(&id) {
            ids.push(id);
        }
        let cat = Cow::Borrowed(truncate_utf8(&h.category, CATEGORY_MAX_BYTES));
        if !categories.contains(&cat) {
            categories.push(cat);
        }
    }
    r.push("rule.id", Val::list(ids));
    r.push("rule.category", Val::list(categories));
    let redacted = hits
        .iter()
        .take(MAX_HITS)
        .map(|h| Hit {
            id: truncate_utf8(&h.id, ID_MAX_BYTES).to_owned(),
            category: truncate_utf8(&h.category, CATEGORY_MAX_BYTES).to_owned(),
            target: truncate_utf8(&h.target, TARGET_MAX_BYTES).to_owned(),
            snippet: redact_snippet(&h.snippet),
            score: h.score,
        })
        .collect();
    r.push("palisade.hits", Val::Hits(redacted));
    if hits.len() > MAX_HITS {
        r.u64("palisade.hits_dropped", (hits.len() - MAX_HITS) as u64);
        r.push("palisade.truncated", Val::Bool(true));
    }
}

/// `event.outcome` of an access event with this status.
pub(crate) fn access_outcome(status: u16) -> &'static str {
    if status == 0 {
        "unknown"
    } else if status < 400 {
        "success"
    } else {
        "failure"
    }
}

/// The record of an access event.
pub(crate) fn access(e: &AccessEvent, mask_ids: bool, now: SystemTime) -> Record<'_> {
    let severity = if e.action.is_refusal() { 5 } else { 1 };
    let mut r = Record::new(
        e.request.time.unwrap_or(now),
        "event",
        CefHeader {
            signature: Cow::Borrowed("access"),
            name: Cow::Borrowed("HTTP request"),
            severity,
        },
    );
    r.push("event.category", Val::List(Cow::Borrowed(WEB)));
    r.push("event.type", Val::List(Cow::Borrowed(ACCESS)));
    r.str("event.action", "request");
    r.str("event.outcome", access_outcome(e.status));
    r.u64("event.duration", e.duration_us.saturating_mul(1000));
    request_fields(&mut r, &e.request, mask_ids);
    r.u64("http.response.status_code", u64::from(e.status));
    r.u64("http.request.bytes", e.bytes_in);
    r.u64("http.response.bytes", e.bytes_out);
    r.str("palisade.action", e.action.as_str());
    if let Some(c) = e.control {
        r.str("palisade.control", c.as_str());
    }
    if e.anomaly_score > 0 || !e.hits.is_empty() {
        r.u64("palisade.anomaly_score", u64::from(e.anomaly_score));
    }
    hit_fields(&mut r, &e.hits);
    if let Some(us) = e.added_latency_us {
        r.u64("palisade.added_latency_us", us);
    }
    if let Some(s) = e.upstream_status {
        r.u64("palisade.upstream_status", u64::from(s));
    }
    if let Some(tls) = &e.tls {
        r.str("tls.version", truncate_utf8(&tls.version, 32));
        r.str("tls.cipher", truncate_utf8(&tls.cipher, 64));
    }
    r
}

/// `event.action` of a security event: `<control>_<action>`, e.g. `waf_block`, `geo_deny`.
pub(crate) fn security_action(e: &SecurityEvent) -> String {
    format!("{}_{}", e.control.as_str(), e.action.as_str())
}

/// The record of a security event.
pub(crate) fn security(e: &SecurityEvent, mask_ids: bool, now: SystemTime) -> Record<'_> {
    let action = security_action(e);
    let severity = match e.action {
        crate::event::Action::Ban => 8,
        a if a.is_refusal() => 7,
        crate::event::Action::Monitor => 4,
        _ => 3,
    };
    let mut r = Record::new(
        e.request.time.unwrap_or(now),
        "alert",
        CefHeader {
            signature: Cow::Owned(action.clone()),
            name: Cow::Owned(bound_text(&e.reason, REASON_MAX_BYTES).into_owned()),
            severity,
        },
    );
    let category = match e.control {
        crate::event::Control::Waf => "intrusion_detection",
        _ => "network",
    };
    r.push(
        "event.category",
        Val::list(vec![Cow::Borrowed("web"), Cow::Borrowed(category)]),
    );
    let kind = if e.action.is_refusal() {
        "denied"
    } else {
        "info"
    };
    r.push("event.type", Val::list(vec![Cow::Borrowed(kind)]));
    r.str("event.action", action);
    r.str("event.reason", bound_text(&e.reason, REASON_MAX_BYTES));
    request_fields(&mut r, &e.request, mask_ids);
    if let Some(s) = e.status {
        r.u64("http.response.status_code", u64::from(s));
    }
    r.str("palisade.action", e.action.as_str());
    r.str("palisade.control", e.control.as_str());
    if e.anomaly_score > 0 || e.threshold.is_some() {
        r.u64("palisade.anomaly_score", u64::from(e.anomaly_score));
    }
    if let Some(t) = e.threshold {
        r.u64("palisade.anomaly_threshold", u64::from(t));
    }
    if let Some(b) = e.ban_seconds {
        r.u64("palisade.ban_seconds", b);
    }
    hit_fields(&mut r, &e.hits);
    r
}

/// The record of a startup event.
pub(crate) fn startup(e: &StartupEvent, now: SystemTime) -> Record<'_> {
    let mut r = Record::new(
        e.time.unwrap_or(now),
        "state",
        CefHeader {
            signature: Cow::Borrowed("startup"),
            name: Cow::Borrowed("Palisade started"),
            severity: 1,
        },
    );
    r.push(
        "event.category",
        Val::list(vec![Cow::Borrowed("configuration")]),
    );
    r.push("event.type", Val::list(vec![Cow::Borrowed("start")]));
    r.str("event.action", "startup");
    r.str("service.version", truncate_utf8(&e.version, 64));
    r.str(
        "palisade.rules_version",
        truncate_utf8(&e.rules_version, 64),
    );
    r.push("palisade.policy", Val::Json(Cow::Borrowed(&e.policy)));
    let hipaa = serde_json::to_value(&e.hipaa).unwrap_or(serde_json::Value::Null);
    r.push("palisade.hipaa", Val::Json(Cow::Owned(hipaa)));
    r
}

pub(crate) fn config_change(e: &ConfigChangeEvent, now: SystemTime) -> Record<'_> {
    let mut r = Record::new(
        e.time.unwrap_or(now),
        "event",
        CefHeader {
            signature: Cow::Borrowed(e.action),
            name: Cow::Borrowed(if e.success {
                "Configuration changed"
            } else {
                "Configuration change failed"
            }),
            severity: if e.success { 3 } else { 6 },
        },
    );
    r.push(
        "event.category",
        Val::list(vec![Cow::Borrowed("configuration")]),
    );
    r.push("event.type", Val::list(vec![Cow::Borrowed(e.event_type)]));
    r.str("event.action", e.action);
    r.str(
        "event.outcome",
        if e.success { "success" } else { "failure" },
    );
    if let Some(reason) = &e.reason {
        r.str("event.reason", truncate_utf8(reason, 64));
    }
    r.str("message", bound_text(&e.message, 500));
    r.push(e.details_key, Val::Json(Cow::Borrowed(&e.details)));
    r
}

/// Interval counters written by the summary event.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct SummaryData {
    pub interval_s: u64,
    pub requests: u64,
    pub blocked: u64,
    pub monitored: u64,
    pub rate_limited: u64,
    pub blocks_by_category: Vec<(String, u64)>,
    pub top_rules: Vec<(String, u64)>,
    pub lost_lines: u64,
    pub lost_lines_total: u64,
    pub dropped_alerts: u64,
    pub alerts_sent: u64,
    pub latency_p50_us: Option<u64>,
    pub latency_p99_us: Option<u64>,
}

/// The record of a summary (counters) event.
pub(crate) fn summary(s: &SummaryData, now: SystemTime) -> Record<'_> {
    let mut r = Record::new(
        now,
        "metric",
        CefHeader {
            signature: Cow::Borrowed("summary"),
            name: Cow::Borrowed("Palisade counters"),
            severity: 0,
        },
    );
    r.push("event.category", Val::list(vec![Cow::Borrowed("web")]));
    r.push("event.type", Val::list(vec![Cow::Borrowed("info")]));
    r.str("event.action", "summary");
    r.u64("palisade.summary.interval_s", s.interval_s);
    r.u64("palisade.summary.requests", s.requests);
    r.u64("palisade.summary.blocked", s.blocked);
    r.u64("palisade.summary.monitored", s.monitored);
    r.u64("palisade.summary.rate_limited", s.rate_limited);
    r.push(
        "palisade.summary.blocks_by_category",
        Val::Counts(s.blocks_by_category.clone()),
    );
    r.push(
        "palisade.summary.top_rules",
        Val::Counts(s.top_rules.clone()),
    );
    r.u64("palisade.summary.lost_lines", s.lost_lines);
    r.u64("palisade.summary.lost_lines_total", s.lost_lines_total);
    r.u64("palisade.summary.dropped_alerts", s.dropped_alerts);
    r.u64("palisade.summary.alerts_sent", s.alerts_sent);
    if let Some(p) = s.latency_p50_us {
        r.u64("palisade.summary.latency_p50_us", p);
    }
    if let Some(p) = s.latency_p99_us {
        r.u64("palisade.summary.latency_p99_us", p);
    }
    r
}

/// A notice that lines with seq `from..=to` were lost on write (stdout closed or full).
pub(crate) fn loss_notice(from: u64, to: u64, now: SystemTime) -> Record<'static> {
    let mut r = Record::new(
        now,
        "event",
        CefHeader {
            signature: Cow::Borrowed("audit_lines_lost"),
            name: Cow::Borrowed("Audit lines lost on write"),
            severity: 6,
        },
    );
    r.push("event.category", Val::list(vec![Cow::Borrowed("process")]));
    r.push("event.type", Val::list(vec![Cow::Borrowed("error")]));
    r.str("event.action", "audit_lines_lost");
    r.u64("palisade.lost.from_seq", from);
    r.u64("palisade.lost.to_seq", to);
    r.u64("palisade.lost.lines", to.saturating_sub(from) + 1);
    r
}

/// A notice that an alert could not be delivered (destination shown without its secret path).
pub(crate) fn alert_failure(
    destination: String,
    error: String,
    events: u64,
    now: SystemTime,
) -> Record<'static> {
    let mut r = Record::new(
        now,
        "event",
        CefHeader {
            signature: Cow::Borrowed("alert_dropped"),
            name: Cow::Borrowed("Alert not delivered"),
            severity: 6,
        },
    );
    r.push("event.category", Val::list(vec![Cow::Borrowed("process")]));
    r.push("event.type", Val::list(vec![Cow::Borrowed("error")]));
    r.str("event.action", "alert_dropped");
    r.str("palisade.alert.destination", destination);
    r.str("error.message", bound_text(&error, 200).into_owned());
    r.u64("palisade.alert.events", events);
    r
}
