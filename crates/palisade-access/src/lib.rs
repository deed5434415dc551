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
//! let req = AccessRequest { ip, method: "POST", method_overrides: &[], path: b"/login",
//!     user_agent: Some(b"Mozilla/5.0"), headers: &NoHeaders };
//! for _ in 0..5 { assert!(access.check(&req).is_allow()); }
//! assert!(matches!(access.check(&req), AccessDecision::Limit { status: 429, .. }));
//! ```
//!
//! Order of checks (cheapest and most decisive first): trusted → ban → allowlists → blocklists
//! → geo → anonymous networks → bots → rate limits. The full configuration syntax, with a YAML
//! example, is in `docs/access-control.md`.
//!
//! ## What the proxy calls
//! - [`AccessControl::new`]`(AccessConfig) -> Result<AccessControl, AccessError>` once at startup
//!   (opens databases and list files; errors name the file and the problem), or
//!   [`AccessControl::with_shared`] with a [`SharedLimiter`] built by
//!   [`SharedLimiter::with_connector`] for `rediss://`.
//! - [`TrustedProxies::resolve`]`(peer, xff_values) -> IpAddr` via [`AccessControl::identity`],
//!   once per request; use the result everywhere, including the audit log.
//! - [`AccessControl::check`] (sync, local state) or [`AccessControl::check_shared`] (async,
//!   Redis-shared limits and bans, bounded wait, local fallback) →
//!   [`AccessDecision`]`::{Allow, Deny { status: 403, reason }, Limit { status: 429,
//!   retry_after_secs, rule }}`; [`DenyReason::control`], [`DenyReason::rule`] and its `Display`
//!   feed the audit event.
//! - [`AccessControl::record_block`] for every refused request (feeds temporary bans).
//! - [`AccessControl::country`] for `source.geo.country_iso_code`.
//! - [`AccessControl::take_shared_warning`] after requests: `Some` at most once a minute while
//!   Redis is unavailable (the proxy logs it; this crate never logs).
//!
//! ## Modules
//! One job each: [`identity`] (client IP), [`ipset`] (CIDR sets), [`pattern`] (path patterns),
//! [`country`] and [`geo`] (MaxMind-format databases), [`bots`] (one file per signal),
//! [`ratelimit`] (GCRA and rule syntax), [`config`] (the `access:` section), [`control`] (the
//! decision), [`redis`] (RESP client) and [`shared`] (the Redis-backed limiter),
//! [`mmdb_writer`] (MaxMind DB writer for tests and dev tools).
//!
//! Everything is `Send + Sync`; per-client state sits in 64 independently locked shards.

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
mod window;

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
