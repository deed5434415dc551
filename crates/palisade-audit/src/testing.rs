//! Helpers for PHI tests, here and in the proxy's end-to-end tests.
//!
//! The proxy's end-to-end test sends one unique canary in every part of a request and asserts the
//! canary appears in no audit line. [`canary_access_event`] and [`canary_security_event`] are the
//! unit-level equivalent: events built the way the proxy builds them from such a request.
//!
//! What the canary may NOT be expected absent from: `User-Agent` and `X-Request-Id` are logged
//! (bounded) by design, and a path segment is only masked when it looks like an identifier, so the
//! canary must contain 3+ digits (like [`CANARY`]) and `mask_path_ids` must be on.

use std::time::SystemTime;

use crate::chain::Chain;
use crate::config::LogFormat;
use crate::event::{AccessEvent, Action, Control, RequestInfo, RuleHit, SecurityEvent};
use crate::record::{self, Record};
use crate::redact::query_param_names;
use crate::writer::{format_access_line, format_line};

/// A canary shaped like a record number (letters and 3+ digits).
pub const CANARY: &str = "PHICANARY73519";

/// An ordinary allowed request as the proxy describes it (a portal page with a patient id in the
/// path, two query names, a browser user agent and a referrer): the benchmarks' typical line.
pub fn typical_access_event() -> AccessEvent {
    AccessEvent {
        request: RequestInfo {
            time: None,
            client_ip: "203.0.113.10".parse().ok(),
            country: Some("US".into()),
            method: "GET".into(),
            path: "/api/v1/patients/12345/appointments".into(),
            query_param_names: vec!["from".into(), "to".into()],
            user_agent: Some(
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_1) AppleWebKit/605.1.15 Safari/605.1.15"
                    .into(),
            ),
            referrer: Some("https://portal.example.org/dashboard?tab=1".into()),
            request_id: Some("0b3c6a2e-5c1f-4f7a-9d3e-2a1b0c9d8e7f".into()),
        },
        status: 200,
        action: Action::Allow,
        duration_us: 2300,
        added_latency_us: Some(85),
        bytes_in: 734,
        bytes_out: 5120,
        upstream_status: Some(200),
        ..AccessEvent::default()
    }
}

/// The request the proxy would describe after receiving `canary` in the path (as an id segment and
/// a matrix parameter), every query value, a bare query token, the referrer's query, fragment and
/// credentials, the body, cookies and `Authorization` (the last three have no field at all).
pub fn canary_request(canary: &str) -> RequestInfo {
    let raw_query = format!("q={canary}&{canary}&name={canary}%20x");
    RequestInfo {
        time: Some(SystemTime::now()),
        client_ip: "198.51.100.7".parse().ok(),
        country: Some("US".into()),
        method: "POST".into(),
        path: format!("/patients/{canary}/notes;jsessionid={canary}?leak={canary}"),
        query_param_names: query_param_names(&raw_query, true),
        user_agent: Some("Mozilla/5.0 (X11; Linux x86_64) canary-test".into()),
        referrer: Some(format!(
            "https://user:{canary}@portal.example.org/chart/{canary}?mrn={canary}#{canary}"
        )),
        request_id: Some("0b3c6a2e-5c1f-4f7a-9d3e-2a1b0c9d8e7f".into()),
    }
}

/// An access event for [`canary_request`] with a rule hit whose snippet carries the canary's digits.
pub fn canary_access_event(canary: &str) -> AccessEvent {
    AccessEvent {
        request: canary_request(canary),
        status: 403,
        action: Action::Block,
        control: Some(Control::Waf),
        anomaly_score: 10,
        hits: vec![RuleHit {
            id: "942100".into(),
            category: "sqli".into(),
            target: "args:q".into(),
            snippet: format!("' or 1=1 -- {canary}"),
            score: 5,
        }],
        duration_us: 1500,
        added_latency_us: Some(120),
        bytes_in: 512,
        bytes_out: 128,
        upstream_status: None,
        tls: None,
    }
}

/// The matching security event.
pub fn canary_security_event(canary: &str) -> SecurityEvent {
    let access = canary_access_event(canary);
    SecurityEvent {
        anomaly_score: 10,
        threshold: Some(5),
        hits: access.hits,
        status: Some(403),
        ..SecurityEvent::new(
            access.request,
            Action::Block,
            Control::Waf,
            "anomaly score over threshold",
        )
    }
}

fn render(mut rec: Record<'_>, format: LogFormat) -> String {
    let mut chain = Chain::new(None);
    // The writer formats into a reused buffer of this size.
    let mut line = String::with_capacity(2048);
    format_line(
        format,
        &mut rec,
        &mut chain,
        "web.1",
        "0000000000000000",
        &mut line,
    );
    line
}

/// The line the writer would produce for an access event (first line of a fresh unkeyed chain).
pub fn render_access_line(event: &AccessEvent, format: LogFormat, mask_path_ids: bool) -> String {
    let mut chain = Chain::new(None);
    let mut line = String::with_capacity(2048);
    format_access_line(
        format,
        event,
        mask_path_ids,
        SystemTime::now(),
        &mut chain,
        "web.1",
        "0000000000000000",
        &mut String::new(),
        &mut line,
    );
    line
}

/// The line the writer would produce for a security event (first line of a fresh unkeyed chain).
pub fn render_security_line(
    event: &SecurityEvent,
    format: LogFormat,
    mask_path_ids: bool,
) -> String {
    render(
        record::security(event, mask_path_ids, SystemTime::now()),
        format,
    )
}

/// Panics with the offending excerpt if `canary` occurs in `text` (case-insensitive).
pub fn assert_no_canary(text: &str, canary: &str) {
    let hay = text.to_ascii_lowercase();
    let needle = canary.to_ascii_lowercase();
    if let Some(i) = hay.find(&needle) {
        let from = i.saturating_sub(60);
        let to = (i + needle.len() + 60).min(text.len());
        let excerpt = text.get(from..to).unwrap_or(text);
        panic!("canary {canary:?} leaked into audit output: …{excerpt}…");
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn canary_never_reaches_any_format() {
        for format in [LogFormat::Json, LogFormat::L2met, LogFormat::Cef] {
            let access = render_access_line(&canary_access_event(CANARY), format, true);
            let security = render_security_line(&canary_security_event(CANARY), format, true);
            assert_no_canary(&access, CANARY);
            assert_no_canary(&security, CANARY);
            // The safe parts are there: the path shape, parameter names, the rule id.
            assert!(
                access.contains("/patients/{id}/notes;jsessionid"),
                "{access}"
            );
            assert!(access.contains("942100") && security.contains("942100"));
            assert!(access.contains("name"), "{access}");
        }
    }

    #[test]
    fn without_masking_only_paths_carry_the_canary() {
        let line = render_access_line(&canary_access_event(CANARY), LogFormat::Json, false);
        let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
        let path = v["url.path"].as_str().unwrap_or_default().to_owned();
        let referrer = v["http.request.referrer"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert_eq!(path, format!("/patients/{CANARY}/notes;jsessionid=*"));
        assert_eq!(
            referrer,
            format!("https://portal.example.org/chart/{CANARY}")
        );
        let rest = line.replace(&path, "").replace(&referrer, "");
        assert_no_canary(&rest, CANARY);
    }

    #[test]
    fn random_events_always_fit_the_line_limit() {
        // A small deterministic generator: field lengths from 0 to several times the bounds.
        struct Rng(u64, Vec<char>);
        impl Rng {
            fn next(&mut self, max: u64) -> u64 {
                self.0 ^= self.0 << 13;
                self.0 ^= self.0 >> 7;
                self.0 ^= self.0 << 17;
                self.0 % max.max(1)
            }
            fn text(&mut self, max: u64) -> String {
                let n = self.next(max);
                (0..n)
                    .map(|_| {
                        let i = self.next(self.1.len() as u64) as usize;
                        self.1[i]
                    })
                    .collect()
            }
        }
        let mut r = Rng(
            0x2545_f491_4f6c_dd1d,
            "a1/%@;=?# \n\"\\é\u{1}{}|".chars().collect(),
        );
        for round in 0..60 {
            let mut e = canary_access_event(CANARY);
            e.request.path = r.text(4000);
            e.request.user_agent = Some(r.text(2000));
            e.request.referrer = Some(r.text(2000));
            e.request.method = r.text(40);
            e.request.request_id = Some(r.text(600));
            e.request.query_param_names = (0..r.next(80)).map(|_| r.text(200)).collect();
            e.hits = (0..r.next(60))
                .map(|i| RuleHit {
                    id: r.text(100),
                    category: r.text(60),
                    target: r.text(150),
                    snippet: r.text(400),
                    score: i as u32,
                })
                .collect();
            let s = SecurityEvent {
                hits: e.hits.clone(),
                ..canary_security_event(CANARY)
            };
            for format in [LogFormat::Json, LogFormat::L2met, LogFormat::Cef] {
                for line in [
                    render_access_line(&e, format, round % 2 == 0),
                    render_security_line(&s, format, true),
                ] {
                    assert!(
                        line.len() < crate::MAX_LINE_BYTES,
                        "{format:?} line of {} bytes",
                        line.len()
                    );
                    assert!(!line.contains('\n'), "raw newline in a line");
                    if format == LogFormat::Json {
                        assert!(
                            serde_json::from_str::<serde_json::Value>(&line).is_ok(),
                            "invalid JSON: {line}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    #[should_panic(expected = "leaked")]
    fn the_assertion_itself_fires() {
        assert_no_canary("x phicanary73519 y", CANARY);
    }
}
