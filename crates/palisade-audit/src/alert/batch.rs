//! Aggregation of security events into one alert per call, and the two body shapes.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::SystemTime;

use serde_json::{json, Map, Value};

use crate::event::{Action, Control, SecurityEvent};
use crate::record::{security_action, SCHEMA_VERSION};
use crate::redact::{bound_text, redact_path, sanitize_request_id, truncate_utf8};
use crate::time::format_rfc3339_micros;

const MAX_SAMPLES: usize = 5;
const MAX_KEYS: usize = 256;
const TOP_N: usize = 5;

/// One example event in an alert: labels only, the path redacted, no request data.
#[derive(Debug, Clone, PartialEq)]
struct Sample {
    time: SystemTime,
    action: String,
    reason: String,
    path: String,
    method: String,
    request_id: Option<String>,
    rules: Vec<String>,
    country: Option<String>,
    client_ip: Option<IpAddr>,
}

/// Security events gathered for one webhook call.
#[derive(Debug, Default)]
pub(crate) struct AlertBatch {
    pub events: u64,
    first: Option<SystemTime>,
    last: Option<SystemTime>,
    by_action: [u64; Action::ALL.len()],
    by_control: [u64; Control::ALL.len()],
    categories: HashMap<String, u64>,
    rules: HashMap<String, u64>,
    client_ips: HashMap<IpAddr, u64>,
    samples: Vec<Sample>,
}

fn bump<K: std::hash::Hash + Eq>(map: &mut HashMap<K, u64>, key: K) {
    if map.len() < MAX_KEYS || map.contains_key(&key) {
        *map.entry(key).or_insert(0) += 1;
    }
}

fn top<K: ToString>(map: &HashMap<K, u64>) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = map.iter().map(|(k, n)| (k.to_string(), *n)).collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v.truncate(TOP_N);
    v
}

impl AlertBatch {
    pub(crate) fn is_empty(&self) -> bool {
        self.events == 0
    }

    pub(crate) fn add(&mut self, e: &SecurityEvent, mask_ids: bool, client_ips: bool) {
        let t = e.request.time.unwrap_or_else(SystemTime::now);
        self.events += 1;
        self.first = Some(self.first.map_or(t, |f| f.min(t)));
        self.last = Some(self.last.map_or(t, |l| l.max(t)));
        if let Some(i) = Action::ALL.iter().position(|a| *a == e.action) {
            self.by_action[i] += 1;
        }
        self.by_control[e.control.index()] += 1;
        for hit in &e.hits {
            bump(&mut self.rules, truncate_utf8(&hit.id, 64).to_owned());
        }
        let mut cats: Vec<&str> = e
            .hits
            .iter()
            .map(|h| truncate_utf8(&h.category, 32))
            .collect();
        cats.dedup();
        if cats.is_empty() {
            cats.push(e.control.as_str());
        }
        for c in cats {
            bump(&mut self.categories, c.to_owned());
        }
        if client_ips {
            if let Some(ip) = e.request.client_ip {
                bump(&mut self.client_ips, ip);
            }
        }
        if self.samples.len() < MAX_SAMPLES {
            self.samples.push(Sample {
                time: t,
                action: security_action(e),
                reason: bound_text(&e.reason, 200).into_owned(),
                path: redact_path(&e.request.path, mask_ids),
                method: truncate_utf8(&e.request.method, 16).to_owned(),
                request_id: e
                    .request
                    .request_id
                    .as_deref()
                    .map(|id| sanitize_request_id(id).into_owned()),
                rules: e
                    .hits
                    .iter()
                    .take(8)
                    .map(|h| truncate_utf8(&h.id, 64).to_owned())
                    .collect(),
                country: e
                    .request
                    .country
                    .as_deref()
                    .map(|c| truncate_utf8(c, 8).to_owned()),
                client_ip: if client_ips {
                    e.request.client_ip
                } else {
                    None
                },
            });
        }
    }

    fn counts_object(pairs: impl Iterator<Item = (String, u64)>) -> Value {
        Value::Object(
            pairs
                .filter(|(_, n)| *n > 0)
                .map(|(k, n)| (k, Value::from(n)))
                .collect::<Map<_, _>>(),
        )
    }

    fn action_counts(&self) -> Vec<(String, u64)> {
        Action::ALL
            .iter()
            .zip(self.by_action)
            .filter(|(_, n)| *n > 0)
            .map(|(a, n)| (a.as_str().to_owned(), n))
            .collect()
    }

    /// One-line human summary (the Slack text, also in the generic body).
    pub(crate) fn text(&self, dyno: &str, window_secs: u64) -> String {
        let actions: Vec<String> = self
            .action_counts()
            .iter()
            .map(|(a, n)| format!("{a} {n}"))
            .collect();
        let mut text = format!(
            "Palisade on {dyno}: {} security event{} in {window_secs} s ({})",
            self.events,
            if self.events == 1 { "" } else { "s" },
            actions.join(", ")
        );
        let cats: Vec<String> = top(&self.categories)
            .iter()
            .map(|(c, n)| format!("{c} {n}"))
            .collect();
        if !cats.is_empty() {
            text.push_str(&format!(". Categories: {}", cats.join(", ")));
        }
        let rules: Vec<String> = top(&self.rules)
            .iter()
            .map(|(r, n)| format!("{r} ×{n}"))
            .collect();
        if !rules.is_empty() {
            text.push_str(&format!(". Top rules: {}", rules.join(", ")));
        }
        if let Some(s) = self.samples.first() {
            text.push_str(&format!(
                ". Example: {} {} {} ({})",
                s.action, s.method, s.path, s.reason
            ));
        }
        text
    }

    /// The generic JSON body.
    pub(crate) fn generic_body(&self, dyno: &str, boot_id: &str, window_secs: u64) -> Value {
        let samples: Vec<Value> = self
            .samples
            .iter()
            .map(|s| {
                let mut o = Map::new();
                o.insert("@timestamp".into(), format_rfc3339_micros(s.time).into());
                o.insert("event.action".into(), s.action.clone().into());
                o.insert("event.reason".into(), s.reason.clone().into());
                o.insert("http.request.method".into(), s.method.clone().into());
                o.insert("url.path".into(), s.path.clone().into());
                if let Some(id) = &s.request_id {
                    o.insert("http.request.id".into(), id.clone().into());
                }
                if !s.rules.is_empty() {
                    o.insert("rule.id".into(), s.rules.clone().into());
                }
                if let Some(c) = &s.country {
                    o.insert("source.geo.country_iso_code".into(), c.clone().into());
                }
                if let Some(ip) = s.client_ip {
                    o.insert("client.ip".into(), ip.to_string().into());
                }
                Value::Object(o)
            })
            .collect();
        let mut body = json!({
            "source": "palisade",
            "schema_version": SCHEMA_VERSION,
            "dyno": dyno,
            "boot_id": boot_id,
            "window_seconds": window_secs,
            "first": self.first.map(format_rfc3339_micros),
            "last": self.last.map(format_rfc3339_micros),
            "events": self.events,
            "by_action": Self::counts_object(self.action_counts().into_iter()),
            "by_control": Self::counts_object(Control::ALL.iter().zip(self.by_control).map(|(c, n)| (c.as_str().to_owned(), n))),
            "by_category": Self::counts_object(top(&self.categories).into_iter()),
            "top_rules": Self::counts_object(top(&self.rules).into_iter()),
            "samples": samples,
            "text": self.text(dyno, window_secs),
        });
        if !self.client_ips.is_empty() {
            body["top_client_ips"] = Self::counts_object(top(&self.client_ips).into_iter());
        }
        body
    }

    /// The Slack-compatible body: `{"text": "..."}` with Slack's `& < >` escaping.
    pub(crate) fn slack_body(&self, dyno: &str, window_secs: u64) -> Value {
        let text = self
            .text(dyno, window_secs)
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;");
        json!({ "text": format!(":shield: {text}") })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::event::{RequestInfo, RuleHit};

    fn event(i: u32) -> SecurityEvent {
        SecurityEvent {
            hits: vec![RuleHit {
                id: format!("94210{}", i % 2),
                category: "sqli".into(),
                target: "args:q".into(),
                snippet: "x".into(),
                score: 5,
            }],
            anomaly_score: 10,
            threshold: Some(5),
            ..SecurityEvent::new(
                RequestInfo {
                    method: "GET".into(),
                    path: "/patients/12345".into(),
                    client_ip: Some("203.0.113.9".parse().unwrap()),
                    ..RequestInfo::default()
                },
                Action::Block,
                Control::Waf,
                "anomaly score over threshold",
            )
        }
    }

    #[test]
    fn aggregates_counts_and_bounds_samples() {
        let mut b = AlertBatch::default();
        for i in 0..20 {
            b.add(&event(i), true, false);
        }
        assert_eq!(b.events, 20);
        let body = b.generic_body("web.1", "abc", 10);
        assert_eq!(body["events"], 20);
        assert_eq!(body["by_action"]["block"], 20);
        assert_eq!(body["by_control"]["waf"], 20);
        assert_eq!(body["by_category"]["sqli"], 20);
        assert_eq!(body["top_rules"]["942100"], 10);
        assert_eq!(body["samples"].as_array().unwrap().len(), MAX_SAMPLES);
        assert_eq!(body["samples"][0]["url.path"], "/patients/{n}");
        let text = body.to_string();
        assert!(
            !text.contains("203.0.113.9"),
            "client IPs are off by default: {text}"
        );
        assert!(!text.contains("12345"));
    }

    #[test]
    fn client_ips_only_when_enabled_and_slack_text_is_escaped() {
        let mut b = AlertBatch::default();
        let mut e = event(0);
        e.request.path = "/a<b>&c".into();
        b.add(&e, true, true);
        let body = b.generic_body("web.1", "abc", 10);
        assert_eq!(body["top_client_ips"]["203.0.113.9"], 1);
        let slack = b.slack_body("web.1", 10);
        let text = slack["text"].as_str().unwrap();
        assert!(text.contains("/a&lt;b&gt;&amp;c"), "{text}");
        assert!(
            text.starts_with(":shield: Palisade on web.1: 1 security event in 10 s (block 1)"),
            "{text}"
        );
    }
}
