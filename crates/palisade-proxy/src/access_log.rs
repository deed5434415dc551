//! One JSON line per request on stdout, with Elastic Common Schema names. Carries no PHI: the
//! path without its query, the referrer without its query, a bounded user agent.

use std::io::Write;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::json;

/// Longest user agent logged.
pub const MAX_USER_AGENT: usize = 512;

/// What one request produced.
#[derive(Debug)]
pub struct AccessRecord<'a> {
    /// Request id.
    pub request_id: &'a str,
    /// Client address.
    pub client_ip: Option<IpAddr>,
    /// Method.
    pub method: &'a str,
    /// Path (no query).
    pub path: &'a str,
    /// Status sent (0: none, the client went away).
    pub status: u16,
    /// `User-Agent`.
    pub user_agent: Option<&'a [u8]>,
    /// `Referer`.
    pub referrer: Option<&'a [u8]>,
    /// Time from request headers to the end.
    pub duration: Duration,
    /// Request body bytes read.
    pub bytes_in: usize,
    /// Response body bytes sent.
    pub bytes_out: usize,
    /// Outcome word.
    pub outcome: &'a str,
}

/// The access log writer.
#[derive(Debug, Clone)]
pub struct AccessLog {
    enabled: bool,
    dyno: Option<Arc<str>>,
    lost: Arc<AtomicU64>,
}

impl AccessLog {
    /// A writer to stdout; `enabled = false` writes nothing.
    pub fn new(enabled: bool, dyno: Option<String>) -> Self {
        AccessLog {
            enabled,
            dyno: dyno.map(Arc::from),
            lost: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Lines that could not be written (stdout closed or full).
    pub fn lost_lines(&self) -> u64 {
        self.lost.load(Ordering::Relaxed)
    }

    /// Writes one access event.
    pub fn emit(&self, r: &AccessRecord<'_>) {
        if !self.enabled {
            return;
        }
        let ua = r.user_agent.map(|u| {
            let s = String::from_utf8_lossy(u);
            s.chars().take(MAX_USER_AGENT).collect::<String>()
        });
        let referrer = r.referrer.map(|v| {
            let s = String::from_utf8_lossy(v);
            let cut = s.find(['?', '#']).unwrap_or(s.len());
            s[..cut].chars().take(1024).collect::<String>()
        });
        let line = json!({
            "@timestamp": rfc3339_now(),
            "event.kind": "event",
            "event.category": "web",
            "event.action": "request",
            "event.outcome": r.outcome,
            "event.duration": r.duration.as_nanos() as u64,
            "client.ip": r.client_ip.map(|i| i.to_string()),
            "http.request.id": r.request_id,
            "http.request.method": r.method,
            "url.path": r.path,
            "http.response.status_code": r.status,
            "http.request.body.bytes": r.bytes_in,
            "http.response.body.bytes": r.bytes_out,
            "user_agent.original": ua,
            "http.request.referrer": referrer,
            "service.node.name": self.dyno.as_deref(),
        });
        let mut text = line.to_string();
        text.push('\n');
        let mut out = std::io::stdout().lock();
        if out.write_all(text.as_bytes()).is_err() {
            self.lost.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Current UTC time as RFC 3339 with microseconds.
pub fn rfc3339_now() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:06}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60,
        now.subsec_micros()
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_426), (2025, 12, 4));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }
}
