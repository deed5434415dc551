//! The request as access control sees it, and the decision it gets back.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use crate::bots::BotFinding;
use crate::country::CountryCode;
use crate::geo::AnonymousCategory;

/// Header access for key-by-header rate limits and scanner-header checks.
///
/// `name` is lower case. The proxy implements this over its request header map; return the first
/// value if there are several.
pub trait HeaderLookup {
    /// The value of header `name`, if present.
    fn header(&self, name: &str) -> Option<&[u8]>;
}

/// A request without headers.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHeaders;

impl HeaderLookup for NoHeaders {
    fn header(&self, _name: &str) -> Option<&[u8]> {
        None
    }
}

impl HeaderLookup for [(&str, &[u8])] {
    fn header(&self, name: &str) -> Option<&[u8]> {
        self.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }
}

impl HeaderLookup for &[(&str, &[u8])] {
    fn header(&self, name: &str) -> Option<&[u8]> {
        (**self).header(name)
    }
}

#[cfg(feature = "http")]
impl HeaderLookup for http::HeaderMap {
    fn header(&self, name: &str) -> Option<&[u8]> {
        self.get(name).map(|v| v.as_bytes())
    }
}

/// The parts of a request that access control looks at.
#[derive(Clone, Copy)]
pub struct AccessRequest<'a> {
    /// Client address from [`crate::TrustedProxies::resolve`].
    pub ip: IpAddr,
    /// HTTP method, e.g. `POST`.
    pub method: &'a str,
    /// Other methods the app may run the request as (a `POST`'s `X-HTTP-Method-Override` or
    /// `_method`, upper-cased; see `palisade_engine::request::method_overrides`). A rate limit
    /// scoped to methods applies when it covers the method or any of these.
    pub method_overrides: &'a [String],
    /// Path, percent-decoded and normalised by the caller, without the query.
    pub path: &'a [u8],
    /// `User-Agent` value, if any.
    pub user_agent: Option<&'a [u8]>,
    /// Header lookup (for key-by-header rate limits and scanner headers).
    pub headers: &'a (dyn HeaderLookup + Sync),
}

impl fmt::Debug for AccessRequest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessRequest")
            .field("ip", &self.ip)
            .field("method", &self.method)
            .field("method_overrides", &self.method_overrides)
            .field("path", &String::from_utf8_lossy(self.path))
            .finish_non_exhaustive()
    }
}

/// The control that made a decision (ECS-friendly names via [`Control::as_str`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Control {
    /// A temporary ban.
    Ban,
    /// An allowlist the client is not in.
    IpAllowlist,
    /// A blocklist the client is in.
    IpBlocklist,
    /// Geo-blocking.
    Geo,
    /// Anonymous networks.
    AnonymousNetwork,
    /// Bots and scanners.
    Bot,
    /// Rate limiting.
    RateLimit,
}

impl Control {
    /// `ban`, `ip_allowlist`, `ip_blocklist`, `geo`, `anonymous_network`, `bot`, `rate_limit`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Control::Ban => "ban",
            Control::IpAllowlist => "ip_allowlist",
            Control::IpBlocklist => "ip_blocklist",
            Control::Geo => "geo",
            Control::AnonymousNetwork => "anonymous_network",
            Control::Bot => "bot",
            Control::RateLimit => "rate_limit",
        }
    }
}

impl fmt::Display for Control {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a geo rule denied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GeoRule {
    /// The country is on a block list.
    Blocked,
    /// An allow list exists and the country is not on it.
    NotAllowed,
    /// The database does not know the address and the unknown-country policy is `block`.
    Unknown,
}

/// Why a request was denied, for the audit event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DenyReason {
    /// The client is temporarily banned.
    Banned {
        /// Seconds until the ban ends (at least 1).
        remaining_secs: u64,
    },
    /// An allowlist applies here and the client is not on it.
    NotAllowlisted {
        /// `global` or the path pattern of the scoped rule.
        scope: Arc<str>,
    },
    /// The client is on a blocklist.
    Blocklisted {
        /// `global` or the path pattern of the scoped rule.
        scope: Arc<str>,
        /// `config` for inline entries, else the list file.
        list: Arc<str>,
    },
    /// Geo-blocking.
    Country {
        /// `global` or the path pattern of the scoped rule.
        scope: Arc<str>,
        /// The client's country, if known.
        country: Option<CountryCode>,
        /// Which geo rule.
        rule: GeoRule,
    },
    /// An anonymising network.
    AnonymousNetwork {
        /// Which category.
        category: AnonymousCategory,
        /// The database or list file that said so.
        source: Arc<str>,
    },
    /// A bot signal with action `block`.
    Bot(BotFinding),
}

impl DenyReason {
    /// The control that denied.
    pub fn control(&self) -> Control {
        match self {
            DenyReason::Banned { .. } => Control::Ban,
            DenyReason::NotAllowlisted { .. } => Control::IpAllowlist,
            DenyReason::Blocklisted { .. } => Control::IpBlocklist,
            DenyReason::Country { .. } => Control::Geo,
            DenyReason::AnonymousNetwork { .. } => Control::AnonymousNetwork,
            DenyReason::Bot(_) => Control::Bot,
        }
    }

    /// A short rule identifier for `rule.id`-style fields: the scope, list, category or tool.
    pub fn rule(&self) -> String {
        match self {
            DenyReason::Banned { .. } => "temporary-ban".to_owned(),
            DenyReason::NotAllowlisted { scope } => format!("allow:{scope}"),
            DenyReason::Blocklisted { scope, list } => format!("block:{scope}:{list}"),
            DenyReason::Country { scope, .. } => format!("geo:{scope}"),
            DenyReason::AnonymousNetwork { category, .. } => format!("anonymous:{category}"),
            DenyReason::Bot(f) => format!("bot:{}", f.rule()),
        }
    }
}

impl fmt::Display for DenyReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DenyReason::Banned { remaining_secs } => {
                write!(f, "client is temporarily banned ({remaining_secs}s left)")
            }
            DenyReason::NotAllowlisted { scope } => {
                write!(f, "client is not on the allowlist for {scope}")
            }
            DenyReason::Blocklisted { scope, list } => {
                write!(f, "client is on blocklist {list} ({scope})")
            }
            DenyReason::Country {
                scope,
                country,
                rule,
            } => {
                let c = country.map_or_else(|| "unknown".to_owned(), |c| c.to_string());
                let why = match rule {
                    GeoRule::Blocked => "is blocked",
                    GeoRule::NotAllowed => "is not allowed",
                    GeoRule::Unknown => "is unknown and unknown countries are blocked",
                };
                write!(f, "country {c} {why} ({scope})")
            }
            DenyReason::AnonymousNetwork { category, source } => {
                write!(f, "anonymous network: {category} (per {source})")
            }
            DenyReason::Bot(finding) => write!(f, "bot: {finding}"),
        }
    }
}

/// HTTP status for denials.
pub const DENY_STATUS: u16 = 403;
/// HTTP status for rate-limited requests.
pub const LIMIT_STATUS: u16 = 429;

/// The access-control decision for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessDecision {
    /// Let it through (on to the inspection engine).
    Allow,
    /// Refuse it.
    Deny {
        /// Always [`DENY_STATUS`] (403).
        status: u16,
        /// Why, for the audit event.
        reason: DenyReason,
    },
    /// Too many requests.
    Limit {
        /// Always [`LIMIT_STATUS`] (429).
        status: u16,
        /// Value for the `Retry-After` header (at least 1).
        retry_after_secs: u64,
        /// The rate rule's name (`global` for the global per-IP limit).
        rule: Arc<str>,
    },
}

impl AccessDecision {
    /// True for [`AccessDecision::Allow`].
    pub fn is_allow(&self) -> bool {
        matches!(self, AccessDecision::Allow)
    }

    /// The deciding control, if the request was refused.
    pub fn control(&self) -> Option<Control> {
        match self {
            AccessDecision::Allow => None,
            AccessDecision::Deny { reason, .. } => Some(reason.control()),
            AccessDecision::Limit { .. } => Some(Control::RateLimit),
        }
    }

    /// HTTP status to answer with, if refused.
    pub fn status(&self) -> Option<u16> {
        match self {
            AccessDecision::Allow => None,
            AccessDecision::Deny { status, .. } | AccessDecision::Limit { status, .. } => {
                Some(*status)
            }
        }
    }

    /// The `Retry-After` value, for a 429.
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            AccessDecision::Limit {
                retry_after_secs, ..
            } => Some(*retry_after_secs),
            _ => None,
        }
    }

    pub(crate) fn deny(reason: DenyReason) -> Self {
        AccessDecision::Deny {
            status: DENY_STATUS,
            reason,
        }
    }
}

#[cfg(all(test, feature = "http"))]
#[allow(clippy::unwrap_used)]
mod http_tests {
    use super::HeaderLookup;

    #[test]
    fn header_map_lookup() {
        let mut map = http::HeaderMap::new();
        map.insert("x-api-key", http::HeaderValue::from_static("k1"));
        assert_eq!(map.header("x-api-key"), Some(&b"k1"[..]));
        assert_eq!(map.header("X-Api-Key"), Some(&b"k1"[..]));
        assert_eq!(map.header("missing"), None);
    }
}

impl fmt::Display for AccessDecision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AccessDecision::Allow => f.write_str("allow"),
            AccessDecision::Deny { status, reason } => {
                write!(f, "deny {status} [{}] {reason}", reason.control())
            }
            AccessDecision::Limit {
                status,
                retry_after_secs,
                rule,
            } => write!(
                f,
                "limit {status} [rate_limit] rule `{rule}`, retry after {retry_after_secs}s"
            ),
        }
    }
}

#[cfg(test)]
mod decision_tests {
    use super::*;

    #[test]
    fn display_and_accessors() {
        let d = AccessDecision::deny(DenyReason::Banned { remaining_secs: 30 });
        assert_eq!(
            d.to_string(),
            "deny 403 [ban] client is temporarily banned (30s left)"
        );
        assert_eq!(d.status(), Some(403));
        assert_eq!(d.control(), Some(Control::Ban));
        assert_eq!(d.retry_after_secs(), None);
        let l = AccessDecision::Limit {
            status: LIMIT_STATUS,
            retry_after_secs: 12,
            rule: Arc::from("POST /login"),
        };
        assert_eq!(
            l.to_string(),
            "limit 429 [rate_limit] rule `POST /login`, retry after 12s"
        );
        assert_eq!(l.retry_after_secs(), Some(12));
        assert_eq!(AccessDecision::Allow.to_string(), "allow");
        assert_eq!(AccessDecision::Allow.status(), None);
        let r = DenyReason::Blocklisted {
            scope: Arc::from("global"),
            list: Arc::from("config/tor.txt"),
        };
        assert_eq!(r.rule(), "block:global:config/tor.txt");
    }
}
