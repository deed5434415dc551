//! Rate limits: the GCRA algorithm and the rule syntax (`POST /login 5/minute burst=5 key=ip`).
//!
//! # Algorithm and accuracy
//! GCRA (generic cell rate algorithm, a leaky bucket stored as one timestamp per key): with
//! `count` requests per `period` the emission interval is `T = period / count`; a request is
//! allowed if the key's theoretical arrival time, advanced by `T`, is at most `burst × T` ahead of
//! now. The result is exact up to the clock (nanoseconds locally, microseconds in Redis): a
//! client that was idle may send `burst` requests at once and then one every `T`; sustained
//! traffic never exceeds `count` per `period`, and any window of length `period` holds at most
//! `count + burst` allowed requests. Set `burst=1` for a strict "no more than one every `T`".
//! A limited request consumes nothing, and `Retry-After` is the exact time until the next request
//! would pass, rounded up to whole seconds.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use crate::error::ConfigError;
use crate::pattern::PathPattern;

/// GCRA parameters in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gcra {
    /// Emission interval `T`.
    pub emission_ns: u64,
    /// How far ahead of now the arrival time may run: `capacity × T`.
    pub tolerance_ns: u64,
}

impl Gcra {
    /// `count` per `period`, with room for `capacity` units at once.
    pub fn new(count: u32, period: Duration, capacity: u32) -> Self {
        let period_ns = u64::try_from(period.as_nanos()).unwrap_or(u64::MAX);
        let emission_ns = (period_ns / u64::from(count.max(1))).max(1);
        Gcra {
            emission_ns,
            tolerance_ns: emission_ns.saturating_mul(u64::from(capacity)),
        }
    }

    /// Applies a request of `cost` units at `now` to the state `tat`: `Ok` (state advanced) or
    /// `Err(nanoseconds until it would be allowed)` (state unchanged).
    #[inline]
    pub fn apply(&self, tat: &mut Option<u64>, now: u64, cost: u64) -> Result<(), u64> {
        let base = tat.unwrap_or(now).max(now);
        let new_tat = base.saturating_add(self.emission_ns.saturating_mul(cost));
        let ahead = new_tat - now;
        if ahead > self.tolerance_ns {
            return Err(ahead - self.tolerance_ns);
        }
        *tat = Some(new_tat);
        Ok(())
    }
}

/// A rate: `count` requests per `period`, with a `burst`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests per period.
    pub count: u32,
    /// The period.
    pub period: Duration,
    /// Requests allowed at once after idleness (defaults to `count`).
    pub burst: u32,
}

impl RateLimit {
    /// The GCRA parameters for this rate.
    pub fn gcra(&self) -> Gcra {
        Gcra::new(self.count, self.period, self.burst)
    }

    /// Parses `5/minute`, `100/10s`, `1000/hour burst=50`.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let mut tokens = text.split_whitespace();
        let rate = tokens.next().ok_or_else(|| {
            ConfigError::new(
                "rate limit",
                text,
                "expected `COUNT/PERIOD [burst=N]`, e.g. `300/minute burst=100`",
            )
        })?;
        let mut limit = parse_rate(rate)?;
        for opt in tokens {
            match opt.split_once('=') {
                Some(("burst", n)) => limit.burst = parse_burst(n)?,
                _ => {
                    return Err(ConfigError::new(
                        "rate limit option",
                        opt,
                        "expected `burst=N`",
                    ))
                }
            }
        }
        Ok(limit)
    }
}

impl FromStr for RateLimit {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, ConfigError> {
        RateLimit::parse(s)
    }
}

impl fmt::Display for RateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}s burst={}",
            self.count,
            self.period.as_secs_f64(),
            self.burst
        )
    }
}

const RATE_HELP: &str = "expected `COUNT/PERIOD` such as `5/minute`, `100/10s`, `1000/hour` \
     (units: second|s, minute|m, hour|h, day|d; COUNT 1..=1000000000)";

fn parse_rate(token: &str) -> Result<RateLimit, ConfigError> {
    let err = || ConfigError::new("rate", token, RATE_HELP);
    let (count, period) = token.split_once('/').ok_or_else(err)?;
    let count: u32 = count.parse().map_err(|_| err())?;
    if count == 0 || count > 1_000_000_000 {
        return Err(err());
    }
    let digits = period.bytes().take_while(u8::is_ascii_digit).count();
    let multiple: u64 = if digits == 0 {
        1
    } else {
        period[..digits].parse().map_err(|_| err())?
    };
    let unit_secs = match &period[digits..] {
        "s" | "sec" | "second" | "seconds" => 1,
        "m" | "min" | "minute" | "minutes" => 60,
        "h" | "hour" | "hours" => 3600,
        "d" | "day" | "days" => 86_400,
        _ => return Err(err()),
    };
    if multiple == 0 || multiple > 1_000_000 {
        return Err(err());
    }
    Ok(RateLimit {
        count,
        period: Duration::from_secs(multiple * unit_secs),
        burst: count,
    })
}

fn parse_burst(n: &str) -> Result<u32, ConfigError> {
    match n.parse::<u32>() {
        Ok(b) if (1..=1_000_000_000).contains(&b) => Ok(b),
        _ => Err(ConfigError::new(
            "burst",
            n,
            "expected a whole number from 1 to 1000000000",
        )),
    }
}

/// What a rate rule counts by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RateKey {
    /// The client IP.
    Ip,
    /// The value of this request header (lower-case name), e.g. an API key. Requests without the
    /// header are counted by IP instead, so leaving it out does not escape the limit.
    Header(String),
}

/// One per-route rate rule.
///
/// Syntax: `[METHODS] PATTERN COUNT/PERIOD [burst=N] [key=ip|header:NAME] [name=ID]`
/// - `METHODS`: `GET`, `POST|PUT`, or `*` (any); may be left out (any).
/// - `PATTERN`: a [`PathPattern`] such as `/login`, `/api/**`, `/api/*/export`.
/// - `burst` defaults to `COUNT`; `key` defaults to `ip`; `name` (used in audit events, Redis
///   keys and the 429 reason) defaults to `METHODS PATTERN`.
///
/// Example: `POST /login 5/minute burst=5 key=ip`.
#[derive(Debug, Clone)]
pub struct RateRule {
    /// Rule name for audit events and shared-state keys.
    pub name: Arc<str>,
    /// Upper-case methods; empty means any.
    pub methods: Vec<String>,
    /// Path pattern.
    pub pattern: PathPattern,
    /// The rate.
    pub limit: RateLimit,
    /// What to count by.
    pub key: RateKey,
}

impl RateRule {
    /// Parses the rule syntax described on [`RateRule`].
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let usage = "expected `[METHOD] PATTERN COUNT/PERIOD [burst=N] [key=ip|header:NAME] \
                     [name=ID]`, e.g. `POST /login 5/minute burst=5 key=ip`";
        let mut tokens = text.split_whitespace().peekable();
        let mut methods = Vec::new();
        let method_token = match tokens.peek() {
            Some(t) if !t.starts_with('/') => tokens.next(),
            Some(_) => None,
            None => return Err(ConfigError::new("rate rule", text, usage)),
        };
        if let Some(m) = method_token {
            if m != "*" && !m.eq_ignore_ascii_case("any") {
                for part in m.split('|') {
                    if part.is_empty() || !part.bytes().all(|b| b.is_ascii_alphabetic()) {
                        return Err(ConfigError::new(
                            "rate rule method",
                            m,
                            "expected an HTTP method such as `POST`, several joined by `|`, or `*`",
                        ));
                    }
                    methods.push(part.to_ascii_uppercase());
                }
            }
        }
        let pattern_text = tokens
            .next()
            .ok_or_else(|| ConfigError::new("rate rule", text, usage))?;
        let pattern = PathPattern::parse(pattern_text)?;
        let rate = tokens
            .next()
            .ok_or_else(|| ConfigError::new("rate rule", text, usage))?;
        let mut limit = parse_rate(rate)?;
        let mut key = RateKey::Ip;
        let mut name: Option<String> = None;
        for opt in tokens {
            match opt.split_once('=') {
                Some(("burst", n)) => limit.burst = parse_burst(n)?,
                Some(("key", "ip")) => key = RateKey::Ip,
                Some(("key", k)) => {
                    let header = k.strip_prefix("header:").filter(|h| {
                        !h.is_empty()
                            && h.bytes()
                                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                    });
                    match header {
                        Some(h) => key = RateKey::Header(h.to_ascii_lowercase()),
                        None => {
                            return Err(ConfigError::new(
                                "rate rule key",
                                k,
                                "expected `ip` or `header:NAME` (e.g. `header:X-Api-Key`)",
                            ))
                        }
                    }
                }
                Some(("name", n)) if !n.is_empty() && n.len() <= 64 => name = Some(n.to_owned()),
                _ => {
                    return Err(ConfigError::new(
                        "rate rule option",
                        opt,
                        "expected `burst=N`, `key=ip`, `key=header:NAME` or `name=ID` (ID up to 64 bytes)",
                    ))
                }
            }
        }
        let name = name.unwrap_or_else(|| {
            let m = if methods.is_empty() {
                "*".to_owned()
            } else {
                methods.join("|")
            };
            format!("{m} {}", pattern.as_str())
        });
        Ok(RateRule {
            name: name.into(),
            methods,
            pattern,
            limit,
            key,
        })
    }

    /// True if the rule applies to this method and path.
    #[inline]
    pub fn applies(&self, method: &str, path: &[u8]) -> bool {
        self.covers_method(method) && self.pattern.matches(path)
    }

    /// True if the rule applies to this request: its path, and its method or any method an
    /// override makes of it (a limit on `DELETE` also counts a `POST` the app runs as `DELETE`).
    #[inline]
    pub fn applies_to(&self, req: &crate::AccessRequest<'_>) -> bool {
        (self.covers_method(req.method)
            || req.method_overrides.iter().any(|m| self.covers_method(m)))
            && self.pattern.matches(req.path)
    }

    fn covers_method(&self, method: &str) -> bool {
        self.methods.is_empty() || self.methods.iter().any(|m| m.eq_ignore_ascii_case(method))
    }
}

impl FromStr for RateRule {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, ConfigError> {
        RateRule::parse(s)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    #[test]
    fn gcra_allows_burst_then_rate() {
        let g = RateLimit::parse("5/minute burst=3").unwrap().gcra();
        assert_eq!(g.emission_ns, 12 * S);
        let mut tat = None;
        let now = 1000 * S;
        for _ in 0..3 {
            assert!(g.apply(&mut tat, now, 1).is_ok());
        }
        let retry = g.apply(&mut tat, now, 1).unwrap_err();
        assert_eq!(retry, 12 * S);
        // Rejection consumed nothing.
        assert_eq!(g.apply(&mut tat, now, 1).unwrap_err(), 12 * S);
        assert!(g.apply(&mut tat, now + 12 * S, 1).is_ok());
        assert!(g.apply(&mut tat, now + 12 * S, 1).is_err());
        // After a long idle period the full burst is back.
        let later = now + 3600 * S;
        for _ in 0..3 {
            assert!(g.apply(&mut tat, later, 1).is_ok());
        }
    }

    #[test]
    fn sustained_rate_matches_limit() {
        let g = RateLimit::parse("10/second").unwrap().gcra();
        let mut tat = None;
        let mut allowed = 0;
        // One request per millisecond for 10 seconds.
        for ms in 0..10_000u64 {
            if g.apply(&mut tat, S + ms * 1_000_000, 1).is_ok() {
                allowed += 1;
            }
        }
        // 10 burst + 10/s × 10 s (the last one lands at exactly 10 s).
        assert!((100..=110).contains(&allowed), "{allowed}");
    }

    #[test]
    fn rule_parse_full_and_defaults() {
        let r = RateRule::parse("POST /login 5/minute burst=5 key=ip").unwrap();
        assert_eq!(r.methods, vec!["POST"]);
        assert_eq!(&*r.name, "POST /login");
        assert_eq!(r.limit.count, 5);
        assert_eq!(r.limit.period, Duration::from_secs(60));
        assert_eq!(r.key, RateKey::Ip);
        assert!(r.applies("POST", b"/login"));
        assert!(r.applies("post", b"/LOGIN/"));
        assert!(!r.applies("GET", b"/login"));
        assert!(!r.applies("POST", b"/logout"));

        let r = RateRule::parse("/api/** 100/10s key=header:X-Api-Key name=api").unwrap();
        assert!(r.methods.is_empty());
        assert_eq!(&*r.name, "api");
        assert_eq!(r.limit.burst, 100);
        assert_eq!(r.limit.period, Duration::from_secs(10));
        assert_eq!(r.key, RateKey::Header("x-api-key".into()));
        assert!(r.applies("DELETE", b"/api/v1/x"));

        let r = RateRule::parse("DELETE /records/* 2/minute").unwrap();
        let overridden = |overrides: &[String]| {
            r.applies_to(&crate::AccessRequest {
                ip: std::net::IpAddr::from([192, 0, 2, 1]),
                method: "POST",
                method_overrides: overrides,
                path: b"/records/7",
                user_agent: None,
                headers: &crate::NoHeaders,
            })
        };
        assert!(overridden(&["DELETE".into()]));
        assert!(!overridden(&["PUT".into()]));
        assert!(!overridden(&[]));

        let r = RateRule::parse("GET|HEAD /export 1/h").unwrap();
        assert_eq!(r.methods, vec!["GET", "HEAD"]);
        assert_eq!(&*r.name, "GET|HEAD /export");
    }

    #[test]
    fn rule_errors_name_the_bad_part() {
        let cases = [
            ("", "rate rule"),
            ("POST", "rate rule"),
            ("POST /login", "rate rule"),
            ("POST /login five/minute", "rate"),
            ("POST /login 5/fortnight", "rate"),
            ("POST /login 0/minute", "rate"),
            ("POST /login 5/minute burst=0", "burst"),
            ("POST /login 5/minute key=cookie", "rate rule key"),
            ("POST /login 5/minute colour=red", "rate rule option"),
            ("PO-ST /login 5/minute", "rate rule method"),
            ("POST login 5/minute", "path pattern"),
        ];
        for (text, what) in cases {
            let e = RateRule::parse(text).unwrap_err();
            assert_eq!(e.what, what, "{text}: {e}");
        }
        let e = RateRule::parse("POST /login 5/fortnight").unwrap_err();
        assert!(e.to_string().contains("5/fortnight") && e.to_string().contains("minute"));
    }

    #[test]
    fn global_limit_parse() {
        let l = RateLimit::parse("300/minute burst=100").unwrap();
        assert_eq!((l.count, l.burst), (300, 100));
        assert!(RateLimit::parse("300/minute speed=9").is_err());
        assert!(RateLimit::parse("").is_err());
    }
}
