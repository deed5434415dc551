//! The default access line written straight into the batch, without building a [`Record`].
//!
//! Nearly every line the writer produces is a JSON access event without rule hits. Building the
//! generic [`Record`] for it (a vector of ~25 fields, an owned string for the client address, the
//! redacted path and the timestamp, then a dispatch per field and a drop per value) cost about as
//! much as hashing the line. This writes the same bytes directly; a test renders many events both
//! ways and compares them byte for byte. Events with rule hits, and the rare line that would need
//! shrinking to fit the line limit, still go through the record (see [`write_access_json`]).
//!
//! [`Record`]: crate::record::Record

use std::fmt::Write as _;
use std::net::IpAddr;
use std::time::SystemTime;

use super::json::{push_json_str, push_u64};
use crate::event::AccessEvent;
use crate::record::{access_outcome, COUNTRY_MAX_BYTES, METHOD_MAX_BYTES};
use crate::redact::{
    bound_param_names, bound_text, redact_path_into, redact_referrer, sanitize_request_id,
    truncate_utf8, USER_AGENT_MAX_BYTES,
};
use crate::time::write_rfc3339_micros;

/// Appends the event fields of `e`'s JSON access line (opening brace, no chain fields) and returns
/// `true`; returns `false`, having written nothing, when the event has rule hits (those take the
/// record path, which also bounds the hit list).
///
/// `scratch` is a buffer the caller keeps between lines (the redacted path is built in it).
pub(crate) fn write_access_json(
    e: &AccessEvent,
    mask_ids: bool,
    now: SystemTime,
    scratch: &mut String,
    out: &mut String,
) -> bool {
    if !e.hits.is_empty() {
        return false;
    }
    let req = &e.request;
    out.push_str("{\"@timestamp\":\"");
    write_rfc3339_micros(out, req.time.unwrap_or(now));
    out.push_str(concat!(
        "\",\"palisade.schema_version\":",
        // Kept in step with SCHEMA_VERSION by `matches_the_record_path` below.
        "1",
        ",\"event.kind\":\"event\",\"event.category\":[\"web\"],\"event.type\":[\"access\"],",
        "\"event.action\":\"request\",\"event.outcome\":\""
    ));
    out.push_str(access_outcome(e.status));
    out.push_str("\",\"event.duration\":");
    push_u64(out, e.duration_us.saturating_mul(1000));
    if let Some(ip) = req.client_ip {
        out.push_str(",\"client.ip\":\"");
        push_ip(out, ip);
        out.push('"');
    }
    if let Some(c) = &req.country {
        out.push_str(",\"source.geo.country_iso_code\":");
        push_json_str(out, truncate_utf8(c, COUNTRY_MAX_BYTES));
    }
    out.push_str(",\"http.request.method\":");
    push_json_str(out, truncate_utf8(&req.method, METHOD_MAX_BYTES));
    scratch.clear();
    redact_path_into(&req.path, mask_ids, scratch);
    out.push_str(",\"url.path\":");
    push_json_str(out, scratch);
    if !req.query_param_names.is_empty() {
        out.push_str(",\"palisade.query_params\":[");
        for (i, name) in bound_param_names(&req.query_param_names, mask_ids)
            .iter()
            .enumerate()
        {
            if i > 0 {
                out.push(',');
            }
            push_json_str(out, name);
        }
        out.push(']');
    }
    if let Some(ua) = &req.user_agent {
        out.push_str(",\"user_agent.original\":");
        push_json_str(out, &bound_text(ua, USER_AGENT_MAX_BYTES));
    }
    if let Some(referrer) = &req.referrer {
        out.push_str(",\"http.request.referrer\":");
        push_json_str(out, &redact_referrer(referrer, mask_ids));
    }
    if let Some(id) = &req.request_id {
        out.push_str(",\"http.request.id\":");
        push_json_str(out, &sanitize_request_id(id));
    }
    out.push_str(",\"http.response.status_code\":");
    push_u64(out, u64::from(e.status));
    out.push_str(",\"http.request.bytes\":");
    push_u64(out, e.bytes_in);
    out.push_str(",\"http.response.bytes\":");
    push_u64(out, e.bytes_out);
    out.push_str(",\"palisade.action\":\"");
    out.push_str(e.action.as_str());
    out.push('"');
    if let Some(c) = e.control {
        out.push_str(",\"palisade.control\":\"");
        out.push_str(c.as_str());
        out.push('"');
    }
    if e.anomaly_score > 0 {
        out.push_str(",\"palisade.anomaly_score\":");
        push_u64(out, u64::from(e.anomaly_score));
    }
    if let Some(us) = e.added_latency_us {
        out.push_str(",\"palisade.added_latency_us\":");
        push_u64(out, us);
    }
    if let Some(s) = e.upstream_status {
        out.push_str(",\"palisade.upstream_status\":");
        push_u64(out, u64::from(s));
    }
    if let Some(tls) = &e.tls {
        out.push_str(",\"tls.version\":");
        push_json_str(out, truncate_utf8(&tls.version, 32));
        out.push_str(",\"tls.cipher\":");
        push_json_str(out, truncate_utf8(&tls.cipher, 64));
    }
    true
}

/// An address as `IpAddr`'s `Display` writes it (no character in it needs JSON escaping).
fn push_ip(out: &mut String, ip: IpAddr) {
    match ip {
        IpAddr::V4(v4) => {
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    out.push('.');
                }
                push_u64(out, u64::from(octet));
            }
        }
        // Rare on Heroku's router; `Display` handles the `::` compression rules.
        IpAddr::V6(v6) => {
            let _ = write!(out, "{v6}");
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::event::{Action, Control, RuleHit, TlsInfo};
    use crate::record::{self, SCHEMA_VERSION};
    use crate::testing::{canary_access_event, typical_access_event, CANARY};

    fn by_record(e: &AccessEvent, mask: bool, now: SystemTime) -> String {
        let mut out = String::new();
        super::super::write_record(
            crate::config::LogFormat::Json,
            &record::access(e, mask, now),
            &mut out,
        );
        out
    }

    fn direct(e: &AccessEvent, mask: bool, now: SystemTime) -> Option<String> {
        let mut out = String::new();
        let mut scratch = String::from("left over from the previous line");
        write_access_json(e, mask, now, &mut scratch, &mut out).then_some(out)
    }

    fn variants() -> Vec<AccessEvent> {
        let mut base = typical_access_event();
        base.request.path = "/api/v1/patients/12345/appointments;jsessionid=ABC".into();
        base.request.query_param_names.push("12345".into());
        base.request.user_agent = Some("Mozilla/5.0 \"quoted\" \\ back\u{1}slash".into());
        base.request.referrer = Some("https://user:pw@portal.example.org/p/12345?ssn=1".into());
        let mut out = vec![AccessEvent::default(), base.clone()];
        let mut v = base.clone();
        v.request.client_ip = "2001:db8::1:0:0:1".parse().ok();
        v.request.time = Some(SystemTime::UNIX_EPOCH);
        v.request.country = None;
        v.request.user_agent = Some("x".repeat(1000));
        v.request.referrer = Some("/relative/98765".into());
        v.request.request_id = Some("id with spaces\n".into());
        v.request.path = format!("/{}", "é".repeat(700));
        v.status = 503;
        v.action = Action::Limit;
        v.control = Some(Control::RateLimit);
        v.anomaly_score = 7;
        v.added_latency_us = None;
        v.upstream_status = None;
        v.duration_us = u64::MAX;
        v.tls = Some(TlsInfo {
            version: "TLSv1.3".into(),
            cipher: "TLS_AES_128_GCM_SHA256".into(),
        });
        out.push(v);
        let mut v = base;
        v.request.client_ip = "::ffff:10.0.0.1".parse().ok();
        v.request.query_param_names = (0..100).map(|i| format!("p{i}")).collect();
        v.request.method = "A-VERY-LONG-EXTENSION-METHOD".into();
        v.request.country = Some("A-LONG-COUNTRY".into());
        v.request.path = "/\u{7f}a\"b\\c?q=1#f".into();
        v.status = 0;
        out.push(v);
        out
    }

    #[test]
    fn matches_the_record_path() {
        assert_eq!(SCHEMA_VERSION, 1, "update the literal in write_access_json");
        let now = SystemTime::now();
        for e in variants() {
            for mask in [true, false] {
                assert_eq!(
                    direct(&e, mask, now).as_deref(),
                    Some(by_record(&e, mask, now).as_str()),
                    "{e:?}"
                );
            }
        }
    }

    #[test]
    fn events_with_rule_hits_take_the_record_path() {
        let mut e = canary_access_event(CANARY);
        assert!(!e.hits.is_empty());
        assert_eq!(direct(&e, true, SystemTime::now()), None);
        e.hits = vec![RuleHit::default()];
        assert_eq!(direct(&e, true, SystemTime::now()), None);
        e.hits.clear();
        let now = SystemTime::now();
        assert_eq!(direct(&e, true, now), Some(by_record(&e, true, now)));
    }
}
