//! Request limits and slow-client settings (issue #8): sizes and counts a request may not exceed,
//! the total deadline for a request head, the minimum body rate, and the concurrency caps.

use std::time::Duration;

use crate::{settings, values, ConfigError, Resolver};

/// Default longest request target ([`settings::MAX_URI_LENGTH`]).
pub const DEFAULT_MAX_URI_LENGTH: usize = 8 << 10;
/// Default most header fields ([`settings::MAX_HEADER_COUNT`]).
pub const DEFAULT_MAX_HEADER_COUNT: usize = 100;
/// Pingora's own hard limit on header fields (more is a 400 before Palisade sees the request).
pub const PINGORA_MAX_HEADERS: usize = 256;
/// Default largest total header size ([`settings::MAX_HEADER_BYTES`]).
pub const DEFAULT_MAX_HEADER_BYTES: usize = 32 << 10;
/// Default largest body ([`settings::MAX_BODY`]).
pub const DEFAULT_MAX_BODY: u64 = 100 << 20;
/// Default most query arguments ([`settings::MAX_ARGS`]).
pub const DEFAULT_MAX_ARGS: usize = 256;
/// Default request-head deadline ([`settings::HEADER_TIMEOUT`]).
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Default minimum body rate in bytes per second ([`settings::MIN_BODY_RATE`]).
pub const DEFAULT_MIN_BODY_RATE: u64 = 1 << 10;
/// Default grace before the body rate is judged ([`settings::BODY_RATE_GRACE`]).
pub const DEFAULT_BODY_RATE_GRACE: Duration = Duration::from_secs(10);
/// Default per-client-IP concurrency cap ([`settings::MAX_CONCURRENT_PER_IP`]).
pub const DEFAULT_MAX_CONCURRENT_PER_IP: usize = 64;
/// Default global in-flight cap ([`settings::MAX_INFLIGHT`]).
pub const DEFAULT_MAX_INFLIGHT: usize = 1024;

/// The validated limits. `None` means "no limit" where a setting accepts `off`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitsPolicy {
    /// Longest request target in bytes (414).
    pub max_uri_length: usize,
    /// Most header fields (431).
    pub max_header_count: usize,
    /// Largest total of header names and values in bytes (431).
    pub max_header_bytes: usize,
    /// Largest request body in bytes (413).
    pub max_body: Option<u64>,
    /// Most query-string arguments (400).
    pub max_args: usize,
    /// Total deadline for a request head.
    pub header_timeout: Duration,
    /// Slowest accepted average body rate, bytes per second (408).
    pub min_body_rate: Option<u64>,
    /// Time before the body rate is judged; also the longest stall between two body reads.
    pub body_rate_grace: Duration,
    /// Most concurrent requests per client IP (429).
    pub max_concurrent_per_ip: Option<usize>,
    /// Most requests in flight in the process (503, shed).
    pub max_inflight: Option<usize>,
}

impl Default for LimitsPolicy {
    fn default() -> Self {
        LimitsPolicy {
            max_uri_length: DEFAULT_MAX_URI_LENGTH,
            max_header_count: DEFAULT_MAX_HEADER_COUNT,
            max_header_bytes: DEFAULT_MAX_HEADER_BYTES,
            max_body: Some(DEFAULT_MAX_BODY),
            max_args: DEFAULT_MAX_ARGS,
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            min_body_rate: Some(DEFAULT_MIN_BODY_RATE),
            body_rate_grace: DEFAULT_BODY_RATE_GRACE,
            max_concurrent_per_ip: Some(DEFAULT_MAX_CONCURRENT_PER_IP),
            max_inflight: Some(DEFAULT_MAX_INFLIGHT),
        }
    }
}

fn is_off(t: &str) -> bool {
    matches!(
        t.trim().to_ascii_lowercase().as_str(),
        "off" | "none" | "false"
    )
}

/// `off`, or what `parse` accepts (the error message mentions `off`).
fn or_off<T>(
    parse: impl Fn(&str) -> Result<T, String>,
) -> impl Fn(&str) -> Result<Option<T>, String> {
    move |t| {
        if is_off(t) {
            Ok(None)
        } else {
            parse(t).map(Some).map_err(|e| format!("{e}, or off"))
        }
    }
}

fn size(lo: u64, hi: u64) -> impl Fn(&str) -> Result<usize, String> {
    move |t| values::parse_size(t, lo, hi).map(|n| usize::try_from(n).unwrap_or(usize::MAX))
}

fn count(lo: u64, hi: u64) -> impl Fn(&str) -> Result<usize, String> {
    move |t| values::parse_int(t, lo, hi).map(|n| usize::try_from(n).unwrap_or(usize::MAX))
}

/// Reads the limit settings.
pub(crate) fn resolve(r: &mut Resolver<'_>) -> Result<LimitsPolicy, ConfigError> {
    use settings as s;
    let d = LimitsPolicy::default();
    Ok(LimitsPolicy {
        max_uri_length: r.get(s::MAX_URI_LENGTH, d.max_uri_length, size(256, 1 << 20))?,
        max_header_count: r.get(
            s::MAX_HEADER_COUNT,
            d.max_header_count,
            count(1, PINGORA_MAX_HEADERS as u64),
        )?,
        max_header_bytes: r.get(
            s::MAX_HEADER_BYTES,
            d.max_header_bytes,
            size(1 << 10, 1 << 20),
        )?,
        max_body: r.get(
            s::MAX_BODY,
            d.max_body,
            or_off(|t| values::parse_size(t, 1 << 10, 1 << 40)),
        )?,
        max_args: r.get(s::MAX_ARGS, d.max_args, count(1, 100_000))?,
        header_timeout: r.get(s::HEADER_TIMEOUT, d.header_timeout, |t| {
            values::parse_duration(t, Duration::from_millis(500), Duration::from_secs(300))
        })?,
        min_body_rate: r.get(
            s::MIN_BODY_RATE,
            d.min_body_rate,
            or_off(|t| values::parse_size(t, 1, 1 << 30)),
        )?,
        body_rate_grace: r.get(s::BODY_RATE_GRACE, d.body_rate_grace, |t| {
            values::parse_duration(t, Duration::from_millis(500), Duration::from_secs(3600))
        })?,
        max_concurrent_per_ip: r.get(
            s::MAX_CONCURRENT_PER_IP,
            d.max_concurrent_per_ip,
            or_off(count(1, 1_000_000)),
        )?,
        max_inflight: r.get(
            s::MAX_INFLIGHT,
            d.max_inflight,
            or_off(count(1, 10_000_000)),
        )?,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::path::PathBuf;

    use crate::{load, Inputs};

    use super::*;

    fn inputs(env: &[(&str, &str)], file: Option<&str>) -> Inputs {
        Inputs {
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            file: file.map(|t| (PathBuf::from("palisade.yml"), t.to_string())),
        }
    }

    #[test]
    fn defaults_are_bounded() {
        let p = load(&inputs(&[], None)).unwrap();
        assert_eq!(p.limits, LimitsPolicy::default());
        assert_eq!(p.limits.max_body, Some(100 << 20));
        assert_eq!(p.limits.header_timeout, Duration::from_secs(10));
        assert!(p.limits.max_header_count <= PINGORA_MAX_HEADERS);
    }

    #[test]
    fn env_file_and_off() {
        let p = load(&inputs(
            &[("PALISADE_MAX_BODY", "off"), ("PALISADE_HEADER_TIMEOUT", "3s")],
            Some("limits:\n  max_uri_length: 2KiB\n  max_inflight: 'off'\n  max_concurrent_per_ip: 8\n"),
        ))
        .unwrap();
        assert_eq!(p.limits.max_body, None);
        assert_eq!(p.limits.header_timeout, Duration::from_secs(3));
        assert_eq!(p.limits.max_uri_length, 2048);
        assert_eq!(p.limits.max_inflight, None);
        assert_eq!(p.limits.max_concurrent_per_ip, Some(8));
    }

    #[test]
    fn bad_values_name_the_setting_and_what_is_allowed() {
        let e = load(&inputs(&[("PALISADE_MAX_HEADER_COUNT", "300")], None)).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("PALISADE_MAX_HEADER_COUNT"), "{msg}");
        assert!(msg.contains("\"300\""), "{msg}");
        assert!(msg.contains("from 1 to 256"), "{msg}");
        let e = load(&inputs(&[("PALISADE_MAX_BODY", "lots")], None)).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("PALISADE_MAX_BODY") && msg.contains("or off"),
            "{msg}"
        );
        let e = load(&inputs(&[], Some("limits:\n  header_timeout: 1h\n"))).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("header_timeout") && msg.contains("line 2"),
            "{msg}"
        );
    }
}
