//! # palisade-access
//!
//! Client identity, IP allow/block lists, geo-blocking, anonymous networks, bot and scanner
//! detection, rate limits and temporary bans for Palisade. No Pingora here: the proxy calls this
//! crate from its request hooks.
//!
//! ```
//! use palisade_access::{AccessConfig, AccessControl, AccessRequest, AccessDecision, NoHeaders,
//!     RateRule, TrustedProxies, IpSet};
//!
//! let mut config = AccessConfig::default();
//! config.rate_limits.rules.push(RateRule::parse("POST /login 5/minute burst=5").unwrap());
//! let access = AccessControl::new(config).unwrap();
//!
//! // One identity function for every control and the audit log.
//! let proxies = TrustedProxies::heroku(IpSet::new());
//! let ip = proxies.resolve("10.1.2.3".parse().unwrap(), &[b"1.2.3.4, 203.0.113.9"]);
//! assert_eq!(ip.to_string(), "203.0.113.9");
//!
//! let req = AccessRequest { ip, method: "POST", path: b"/login",
//!     user_agent: Some(b"Mozilla/5.0"), headers: &NoHeaders };
//! for _ in 0..5 { assert!(access.check(&req).is_allow()); }
//! assert!(matches!(access.check(&req), AccessDecision::Limit { status: 429, .. }));
//! ```
//!
//! Order of checks (cheapest and most decisive first): trusted → ban → allowlists → blocklists
//! → geo → anonymous networks → bots → rate limits. See `docs/access-control.md`.

pub mod bots;
pub mod config;
pub mod control;
pub mod country;
pub mod duration;
pub mod error;
pub mod geo;
pub mod identity;
pub mod ipset;
pub mod mmdb_writer;
pub mod pattern;
pub mod ratelimit;
pub mod redis;
pub mod request;
pub mod shared;
mod timemap;

pub use bots::{BotAction, BotFinding, BotPolicy};
pub use config::{
    AccessConfig, AnonymousConfig, BanConfig, BotConfig, ClientIpConfig, ConfigDuration, GeoConfig,
    IpListConfig, PathRuleConfig, RateLimitConfig, RedisConfig, UnknownCountry,
};
pub use control::{AccessControl, BlockRecord};
pub use country::{CountryCode, CountrySet};
pub use error::{AccessError, ConfigError};
pub use geo::{AnonymousCategory, AnonymousDb, AnonymousSet, GeoDb};
pub use identity::{ForwardedMode, TrustedProxies};
pub use ipset::{IpSet, IpSetBuilder};
pub use pattern::PathPattern;
pub use ratelimit::{RateKey, RateLimit, RateRule};
pub use redis::{RedisConnector, RedisUrl, TcpConnector};
pub use request::{
    AccessDecision, AccessRequest, Control, DenyReason, GeoRule, HeaderLookup, NoHeaders,
};
pub use shared::{SharedLimiter, SharedStatus, SharedWarning};
