//! [`AccessConfig`]: the `access:` section of `palisade.yml`, as plain structs.
//!
//! Every field has a safe default; the struct deserialises with serde (`deny_unknown_fields`, so
//! a misspelt key is an error) and can equally be filled in from code or environment variables.
//! Atoms (`RateRule`, `CountryCode`, durations, …) parse from strings and their errors name the
//! value and what is allowed. See `docs/access-control.md` for the full syntax with examples.

use std::collections::HashMap;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use crate::bots::BotAction;
use crate::country::CountryCode;
use crate::duration::parse_duration;
use crate::error::ConfigError;
use crate::geo::AnonymousCategory;
use crate::identity::ForwardedMode;
use crate::pattern::PathPattern;
use crate::ratelimit::{RateLimit, RateRule};

/// Default cap on clients tracked by the rate limiter (about 35 MB at the cap).
pub const DEFAULT_MAX_TRACKED_CLIENTS: usize = 1_000_000;
/// Default IPv6 prefix length that counts as one client for limits and bans.
pub const DEFAULT_IPV6_CLIENT_PREFIX: u8 = 64;
/// Default number of blocks that leads to a ban.
pub const DEFAULT_BAN_AFTER_BLOCKS: u32 = 20;
/// Default window for counting blocks.
pub const DEFAULT_BAN_WITHIN: Duration = Duration::from_secs(5 * 60);
/// Default ban length.
pub const DEFAULT_BAN_DURATION: Duration = Duration::from_secs(15 * 60);
/// Default bot score that leads to a ban.
pub const DEFAULT_BOT_BAN_SCORE: u32 = 20;
/// Default window over which bot scores add up.
pub const DEFAULT_BOT_SCORE_WINDOW: Duration = Duration::from_secs(10 * 60);
/// Default per-request bound on waiting for Redis before falling back to local state.
pub const DEFAULT_REDIS_TIMEOUT: Duration = Duration::from_millis(5);
/// Default Redis key prefix.
pub const DEFAULT_REDIS_PREFIX: &str = "palisade";

/// Implements `Deserialize` through `FromStr`, accepting strings and (for durations) numbers.
macro_rules! deserialize_via_from_str {
    ($ty:ty) => {
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = d.deserialize_any(TextVisitor)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

struct TextVisitor;

impl serde::de::Visitor<'_> for TextVisitor {
    type Value = String;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a string")
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.to_owned())
    }
    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<String, E> {
        Ok(v.to_string())
    }
}

deserialize_via_from_str!(RateRule);
deserialize_via_from_str!(RateLimit);
deserialize_via_from_str!(PathPattern);
deserialize_via_from_str!(CountryCode);
deserialize_via_from_str!(AnonymousCategory);
deserialize_via_from_str!(ForwardedMode);
deserialize_via_from_str!(BotAction);
deserialize_via_from_str!(UnknownCountry);
deserialize_via_from_str!(ConfigDuration);

/// A duration written as `30s`, `5m`, `1h`, `1d`, `250ms` or plain seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfigDuration(pub Duration);

impl FromStr for ConfigDuration {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, ConfigError> {
        parse_duration("duration", s).map(ConfigDuration)
    }
}

/// What to do with addresses the geo database does not know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnknownCountry {
    /// Let them through.
    Allow,
    /// Deny them.
    Block,
}

impl FromStr for UnknownCountry {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, ConfigError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "allow" => Ok(UnknownCountry::Allow),
            "block" | "deny" => Ok(UnknownCountry::Block),
            _ => Err(ConfigError::new(
                "unknown_country",
                s,
                "expected `allow` or `block`",
            )),
        }
    }
}

/// A list of networks: inline entries and list files.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct IpListConfig {
    /// Inline addresses or CIDRs (`203.0.113.0/24`, `2001:db8::/32`).
    pub ips: Vec<String>,
    /// List files: one address/CIDR per line, `#`/`;` comments (Tor exit lists, FireHOL sets).
    pub files: Vec<PathBuf>,
}

impl IpListConfig {
    /// True if neither entries nor files are given.
    pub fn is_empty(&self) -> bool {
        self.ips.is_empty() && self.files.is_empty()
    }

    /// From inline entries.
    pub fn from_ips<S: Into<String>>(ips: impl IntoIterator<Item = S>) -> Self {
        IpListConfig {
            ips: ips.into_iter().map(Into::into).collect(),
            files: Vec::new(),
        }
    }
}

/// How the client IP is found.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct ClientIpConfig {
    /// `socket`, `heroku` or `trusted_peers`.
    pub mode: ForwardedMode,
    /// Proxy/CDN networks skipped from the right of `X-Forwarded-For`.
    pub trusted_proxies: IpListConfig,
}

impl Default for ClientIpConfig {
    fn default() -> Self {
        ClientIpConfig {
            mode: ForwardedMode::Socket,
            trusted_proxies: IpListConfig::default(),
        }
    }
}

/// Rules that apply to requests whose path matches a pattern.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathRuleConfig {
    /// The path pattern, e.g. `/admin/**`.
    pub path: PathPattern,
    /// If set, only these networks may request matching paths.
    #[serde(default)]
    pub allow: IpListConfig,
    /// These networks may not request matching paths.
    #[serde(default)]
    pub block: IpListConfig,
    /// If set, only these countries may request matching paths.
    #[serde(default)]
    pub allow_countries: Vec<CountryCode>,
    /// These countries may not request matching paths.
    #[serde(default)]
    pub block_countries: Vec<CountryCode>,
    /// Unknown-country policy here (default: `block` if `allow_countries` is set, else `allow`).
    #[serde(default)]
    pub unknown_country: Option<UnknownCountry>,
}

impl PathRuleConfig {
    /// A rule for `path` with nothing set yet.
    pub fn new(path: PathPattern) -> Self {
        PathRuleConfig {
            path,
            allow: IpListConfig::default(),
            block: IpListConfig::default(),
            allow_countries: Vec::new(),
            block_countries: Vec::new(),
            unknown_country: None,
        }
    }
}

/// Geo-blocking.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GeoConfig {
    /// MaxMind-format Country/City database (GeoLite2, GeoIP2, DB-IP lite). Also enables
    /// [`crate::AccessControl::country`] for audit logs when no country rule is set.
    pub database: Option<PathBuf>,
    /// If set, only these countries may connect.
    pub allow_countries: Vec<CountryCode>,
    /// These countries may not connect.
    pub block_countries: Vec<CountryCode>,
    /// Unknown-country policy (default: `block` if `allow_countries` is set, else `allow`).
    pub unknown_country: Option<UnknownCountry>,
}

/// Anonymous networks.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AnonymousConfig {
    /// GeoIP2 Anonymous-IP database.
    pub database: Option<PathBuf>,
    /// Categories to block: `vpn`, `tor`, `public_proxy`, `hosting`, `residential_proxy`.
    pub block: Vec<AnonymousCategory>,
    /// List files per category (e.g. `tor: [/app/config/tor-exits.txt]`).
    pub lists: HashMap<AnonymousCategory, Vec<PathBuf>>,
}

/// Bots and scanners.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BotConfig {
    /// Scanner user agents/headers: `block` (default), `score`, `off`.
    pub scanners: BotAction,
    /// Probe paths (`/.env`, `/wp-login.php`, …): `block` (default), `score`, `off`.
    pub probes: BotAction,
    /// Missing/empty user agent: `off` (default), `score`, `block`.
    pub empty_user_agent: BotAction,
    /// Control characters or oversize user agent: `block` (default), `score`, `off`.
    pub malformed_user_agent: BotAction,
    /// More probe path patterns.
    pub extra_probe_paths: Vec<PathPattern>,
    /// Bot score that bans the client (0 = never).
    pub ban_score: u32,
    /// Window over which scores add up (they leak away linearly).
    pub score_window: ConfigDuration,
}

impl Default for BotConfig {
    fn default() -> Self {
        BotConfig {
            scanners: BotAction::Block,
            probes: BotAction::Block,
            empty_user_agent: BotAction::Off,
            malformed_user_agent: BotAction::Block,
            extra_probe_paths: Vec::new(),
            ban_score: DEFAULT_BOT_BAN_SCORE,
            score_window: ConfigDuration(DEFAULT_BOT_SCORE_WINDOW),
        }
    }
}

/// Rate limits.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Per-IP limit on every request, e.g. `300/minute burst=100`.
    pub global: Option<RateLimit>,
    /// Per-route rules, e.g. `POST /login 5/minute burst=5 key=ip`.
    pub rules: Vec<RateRule>,
}

/// Temporary bans.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct BanConfig {
    /// Blocks (any 403/429 the proxy reports via `record_block`) within `within` that start a
    /// ban; 0 = never, at most 1023.
    pub after_blocks: u32,
    /// Sliding window in which blocks are counted (at least 1 s).
    pub within: ConfigDuration,
    /// Ban length.
    pub duration: ConfigDuration,
}

impl Default for BanConfig {
    fn default() -> Self {
        BanConfig {
            after_blocks: DEFAULT_BAN_AFTER_BLOCKS,
            within: ConfigDuration(DEFAULT_BAN_WITHIN),
            duration: ConfigDuration(DEFAULT_BAN_DURATION),
        }
    }
}

/// Shared state across processes through Redis.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RedisConfig {
    /// `redis://[user:password@]host[:port][/db]` or `rediss://…` (TLS: needs a connector from the
    /// caller, see [`crate::shared::SharedLimiter::with_connector`]).
    pub url: String,
    /// Longest wait for Redis per request before using local state.
    #[serde(default = "default_redis_timeout")]
    pub timeout: ConfigDuration,
    /// Key prefix.
    #[serde(default = "default_redis_prefix")]
    pub key_prefix: String,
    /// For `rediss://`: verify the server certificate. `None`: the caller's default (the binary
    /// verifies unless the URL is Heroku Redis's own `REDIS_URL`).
    #[serde(default)]
    pub tls_verify: Option<bool>,
}

fn default_redis_timeout() -> ConfigDuration {
    ConfigDuration(DEFAULT_REDIS_TIMEOUT)
}

fn default_redis_prefix() -> String {
    DEFAULT_REDIS_PREFIX.to_owned()
}

impl RedisConfig {
    /// Defaults for `url`.
    pub fn new(url: impl Into<String>) -> Self {
        RedisConfig {
            url: url.into(),
            timeout: default_redis_timeout(),
            key_prefix: default_redis_prefix(),
            tls_verify: None,
        }
    }
}

/// The whole access-control configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AccessConfig {
    /// Client identity.
    pub client_ip: ClientIpConfig,
    /// Networks exempt from every access control (health checkers, the office VPN).
    pub trusted: IpListConfig,
    /// If set, only these networks may connect at all.
    pub allow: IpListConfig,
    /// Networks that may not connect.
    pub block: IpListConfig,
    /// Path-scoped rules; every rule whose pattern matches applies.
    pub paths: Vec<PathRuleConfig>,
    /// Geo-blocking.
    pub geo: GeoConfig,
    /// Anonymous networks.
    pub anonymous: AnonymousConfig,
    /// Bots and scanners.
    pub bots: BotConfig,
    /// Rate limits.
    pub rate_limits: RateLimitConfig,
    /// Temporary bans.
    pub bans: BanConfig,
    /// Redis for limits and bans shared by every process.
    pub redis: Option<RedisConfig>,
    /// Cap on clients tracked per table (rate limits, bot scores); memory is bounded by it.
    pub max_tracked_clients: usize,
    /// IPv6 clients are counted per network of this prefix length for rate limits, bot scores
    /// and bans (default 64; 128 = per address). Lists and geo always use the full address.
    pub ipv6_client_prefix: u8,
}

impl Default for AccessConfig {
    fn default() -> Self {
        AccessConfig {
            client_ip: ClientIpConfig::default(),
            trusted: IpListConfig::default(),
            allow: IpListConfig::default(),
            block: IpListConfig::default(),
            paths: Vec::new(),
            geo: GeoConfig::default(),
            anonymous: AnonymousConfig::default(),
            bots: BotConfig::default(),
            rate_limits: RateLimitConfig::default(),
            bans: BanConfig::default(),
            redis: None,
            max_tracked_clients: DEFAULT_MAX_TRACKED_CLIENTS,
            ipv6_client_prefix: DEFAULT_IPV6_CLIENT_PREFIX,
        }
    }
}
