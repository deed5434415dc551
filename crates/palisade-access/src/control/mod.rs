//! [`AccessControl`]: the compiled policy and the per-request decision.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::bots::{BotDetector, BotPolicy};
use crate::config::AccessConfig;
use crate::country::CountryCode;
use crate::error::{AccessError, ConfigError};
use crate::geo::{AnonymousCategory, AnonymousDb, AnonymousSet, GeoDb};
use crate::identity::TrustedProxies;
use crate::ipset::{IpSet, IpSetBuilder};
use crate::pattern::PathPattern;
use crate::ratelimit::{Gcra, RateKey, RateLimit, RateRule};
use crate::request::{AccessDecision, AccessRequest, DenyReason, LIMIT_STATUS};
use crate::shared::{SharedLimiter, SharedOutcome, SharedRate, SharedStatus, SharedWarning};
use crate::timemap::{Expiry, TimeMap};
use crate::window::SlidingWindow;

mod country_policy;
mod describe;
mod named_sets;

use country_policy::CountryPolicy;
use named_sets::NamedSets;

/// Cap on simultaneous bans tracked locally.
const MAX_BANS: usize = 100_000;
const GLOBAL: &str = "global";

/// Namespaces for hashed state keys.
const NS_RATE: u8 = 1;
const NS_BAN: u8 = 2;
const NS_BAN_COUNT: u8 = 3;
const NS_BOT_SCORE: u8 = 4;
/// Header-keyed rate state: a namespace of its own so a header value can never alias an IP key.
const NS_RATE_HEADER: u8 = 5;
/// Rule index used for the global limit.
const GLOBAL_RULE: u16 = u16::MAX;

#[derive(Debug)]
struct PathRule {
    pattern: PathPattern,
    scope: Arc<str>,
    allow: NamedSets,
    block: NamedSets,
    geo: CountryPolicy,
}

#[derive(Debug)]
struct CompiledRate {
    rule: RateRule,
    gcra: Gcra,
}

#[derive(Debug, Clone, Copy)]
struct BanPolicy {
    counter: SlidingWindow,
    duration_ns: u64,
}

/// What [`AccessControl::record_block`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockRecord {
    /// Counted towards a ban.
    Counted,
    /// This block started a ban of this length.
    Banned(Duration),
    /// Not counted: the client is trusted, already banned, or bans are off.
    Ignored,
}

/// The compiled access policy. `Send + Sync`: share one behind an `Arc` across worker threads.
///
/// State (rate limits, scores, bans) lives in sharded tables with 64 independent locks, held for
/// a hash-table operation only; lists and databases are immutable after [`AccessControl::new`].
pub struct AccessControl {
    identity: TrustedProxies,
    trusted: IpSet,
    allow: NamedSets,
    block: NamedSets,
    paths: Vec<PathRule>,
    geo_db: Option<GeoDb>,
    geo: CountryPolicy,
    anon_db: Option<(AnonymousDb, Arc<str>)>,
    anon_block: AnonymousSet,
    anon_lists: Vec<(AnonymousCategory, Arc<str>, IpSet)>,
    bots: BotDetector,
    bot_score: Option<Gcra>,
    global_rate: Option<Gcra>,
    global_limit: Option<RateLimit>,
    bot_ban_score: u32,
    rates: Vec<CompiledRate>,
    ban: Option<BanPolicy>,
    limiter: TimeMap,
    bot_scores: TimeMap,
    ban_counts: TimeMap,
    bans: TimeMap,
    hasher: RandomState,
    /// Mask applied to IPv6 clients for per-client state (see [`AccessControl::client_unit`]).
    ipv6_mask: u128,
    /// The name reported for the global limit.
    global_name: Arc<str>,
    /// Set once the first ban is made, so the ban lookup costs nothing until then.
    any_ban: AtomicBool,
    epoch: Instant,
    shared: Option<SharedLimiter>,
}

impl std::fmt::Debug for AccessControl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessControl")
            .field("identity", &self.identity.mode())
            .field("path_rules", &self.paths.len())
            .field("rate_rules", &self.rates.len())
            .field("shared", &self.shared.is_some())
            .finish_non_exhaustive()
    }
}

impl AccessControl {
    /// Compiles `config`: parses lists, opens databases, and (if `config.redis` is set with a
    /// `redis://` URL) prepares the shared limiter over plain TCP. A missing or corrupt file is
    /// an error naming it.
    pub fn new(config: AccessConfig) -> Result<Self, AccessError> {
        let shared = match &config.redis {
            Some(r) => Some(SharedLimiter::new(r)?),
            None => None,
        };
        Self::with_shared(config, shared)
    }

    /// Like [`AccessControl::new`] but with a shared limiter built by the caller (for `rediss://`
    /// with the caller's TLS connector); `config.redis` is ignored.
    pub fn with_shared(
        config: AccessConfig,
        shared: Option<SharedLimiter>,
    ) -> Result<Self, AccessError> {
        let trusted_proxies = NamedSets::load(
            &config.client_ip.trusted_proxies,
            "client_ip.trusted_proxies",
        )?;
        let identity = TrustedProxies::new(config.client_ip.mode, trusted_proxies.any.clone());
        let trusted = NamedSets::load(&config.trusted, "trusted.ips")?.any;
        let allow = NamedSets::load(&config.allow, "allow.ips")?;
        let block = NamedSets::load(&config.block, "block.ips")?;

        let geo = CountryPolicy::new(
            &config.geo.allow_countries,
            &config.geo.block_countries,
            config.geo.unknown_country,
            GLOBAL,
        )?;
        let mut paths = Vec::new();
        for p in &config.paths {
            let scope: Arc<str> = Arc::from(p.path.as_str());
            paths.push(PathRule {
                pattern: p.path.clone(),
                allow: NamedSets::load(&p.allow, "paths[].allow.ips")?,
                block: NamedSets::load(&p.block, "paths[].block.ips")?,
                geo: CountryPolicy::new(
                    &p.allow_countries,
                    &p.block_countries,
                    p.unknown_country,
                    &scope,
                )?,
                scope,
            });
        }
        let geo_needed = geo.is_active() || paths.iter().any(|p| p.geo.is_active());
        let geo_db = match &config.geo.database {
            Some(path) => Some(GeoDb::open(path)?),
            None if geo_needed => {
                return Err(ConfigError::new(
                    "geo.database",
                    "(not set)",
                    "country rules need a MaxMind-format Country database path (GeoLite2-Country.mmdb, \
                     GeoIP2-Country.mmdb or a DB-IP country .mmdb)",
                )
                .into())
            }
            None => None,
        };

        let anon_block: AnonymousSet = config.anonymous.block.iter().copied().collect();
        let anon_db = match &config.anonymous.database {
            Some(path) => Some((
                AnonymousDb::open(path)?,
                Arc::from(path.display().to_string()),
            )),
            None => None,
        };
        let mut anon_lists = Vec::new();
        for category in AnonymousCategory::ALL {
            let Some(files) = config.anonymous.lists.get(&category) else {
                continue;
            };
            if !anon_block.contains(category) {
                return Err(ConfigError::new(
                    "anonymous.lists",
                    category.as_str(),
                    format!("a list is given for `{category}` but `{category}` is not in anonymous.block"),
                )
                .into());
            }
            for file in files {
                let mut b = IpSetBuilder::new();
                b.add_list_file(file)?;
                anon_lists.push((category, Arc::from(file.display().to_string()), b.build()));
            }
        }
        if !anon_block.is_empty() && anon_db.is_none() && anon_lists.is_empty() {
            return Err(ConfigError::new(
                "anonymous.block",
                config
                    .anonymous
                    .block
                    .iter()
                    .map(|c| c.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                "needs anonymous.database (GeoIP2-Anonymous-IP.mmdb) or anonymous.lists files",
            )
            .into());
        }

        let bots = BotDetector::new(BotPolicy {
            scanners: config.bots.scanners,
            probes: config.bots.probes,
            empty_user_agent: config.bots.empty_user_agent,
            malformed_user_agent: config.bots.malformed_user_agent,
            extra_probe_paths: config.bots.extra_probe_paths.clone(),
        });
        let bot_score = (config.bots.ban_score > 0).then(|| {
            Gcra::new(
                config.bots.ban_score,
                config.bots.score_window.0,
                config.bots.ban_score - 1,
            )
        });
        let ban = if config.bans.after_blocks > 0 {
            if config.bans.duration.0.is_zero() {
                return Err(ConfigError::new(
                    "bans.duration",
                    "0",
                    "must be longer than zero (set bans.after_blocks: 0 to turn bans off)",
                )
                .into());
            }
            if u64::from(config.bans.after_blocks) > crate::window::MAX_COUNT {
                return Err(ConfigError::new(
                    "bans.after_blocks",
                    config.bans.after_blocks.to_string(),
                    "expected 0 (off) to 1023",
                )
                .into());
            }
            if config.bans.within.0 < Duration::from_secs(1) {
                return Err(ConfigError::new(
                    "bans.within",
                    format!("{:?}", config.bans.within.0),
                    "must be at least 1s (e.g. `5m`)",
                )
                .into());
            }
            Some(BanPolicy {
                counter: SlidingWindow {
                    window_ns: u64::try_from(config.bans.within.0.as_nanos()).unwrap_or(u64::MAX),
                    threshold: config.bans.after_blocks,
                },
                duration_ns: u64::try_from(config.bans.duration.0.as_nanos()).unwrap_or(u64::MAX),
            })
        } else {
            None
        };
        if config.rate_limits.rules.len() >= usize::from(GLOBAL_RULE) {
            return Err(ConfigError::new(
                "rate_limits.rules",
                config.rate_limits.rules.len().to_string(),
                "at most 65534 rules",
            )
            .into());
        }
        let rates = config
            .rate_limits
            .rules
            .iter()
            .map(|rule| CompiledRate {
                gcra: rule.limit.gcra(),
                rule: rule.clone(),
            })
            .collect();
        let max = config.max_tracked_clients.max(1024);
        let prefix = config.ipv6_client_prefix;
        if !(32..=128).contains(&prefix) {
            return Err(ConfigError::new(
                "ipv6_client_prefix",
                prefix.to_string(),
                "expected a prefix length from 32 to 128 (64 = one subscriber's /64)",
            )
            .into());
        }
        let ipv6_mask = u128::MAX
            .checked_shr(u32::from(prefix))
            .map_or(u128::MAX, |low| !low);
        Ok(AccessControl {
            identity,
            trusted,
            allow,
            block,
            paths,
            geo_db,
            geo,
            anon_db,
            anon_block,
            anon_lists,
            bots,
            bot_score,
            global_rate: config.rate_limits.global.map(|l| l.gcra()),
            global_limit: config.rate_limits.global,
            bot_ban_score: config.bots.ban_score,
            rates,
            ban,
            limiter: TimeMap::new(max),
            bot_scores: TimeMap::new(max / 4),
            ban_counts: TimeMap::with_expiry(
                max / 4,
                Expiry::Window(ban.map_or(1, |b| b.counter.window_ns)),
            ),
            bans: TimeMap::new(MAX_BANS),
            hasher: RandomState::new(),
            any_ban: AtomicBool::new(false),
            global_name: Arc::from(GLOBAL),
            ipv6_mask,
            epoch: Instant::now(),
            shared,
        })
    }

    /// The client-identity setting (call [`TrustedProxies::resolve`] once per request and use
    /// the result for every control and the audit log).
    pub fn identity(&self) -> &TrustedProxies {
        &self.identity
    }

    /// The country of `ip` from the geo database (usable for audit logs even when no country
    /// rule is set); `None` without a database or if the address is unknown.
    pub fn country(&self, ip: IpAddr) -> Option<CountryCode> {
        self.geo_db.as_ref()?.country(ip)
    }

    /// True if `ip` is in the `trusted` list (exempt from access controls).
    pub fn is_trusted(&self, ip: IpAddr) -> bool {
        self.trusted.contains(ip)
    }

    /// The shared (Redis) limiter, if configured.
    pub fn shared(&self) -> Option<&SharedLimiter> {
        self.shared.as_ref()
    }

    /// Shared-state health (`Disabled` without Redis).
    pub fn shared_status(&self) -> SharedStatus {
        self.shared
            .as_ref()
            .map_or(SharedStatus::Disabled, SharedLimiter::status)
    }

    /// A warning to log, at most once a minute while Redis is unavailable (and once when it
    /// recovers). The caller logs it; this crate does not log.
    pub fn take_shared_warning(&self) -> Option<SharedWarning> {
        self.shared.as_ref()?.take_warning()
    }

    fn now_ns(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX - 1) + 1
    }

    fn key(&self, ns: u8, rule: u16, bytes: &[u8]) -> u64 {
        self.hasher.hash_one((ns, rule, bytes))
    }

    /// Keyed SipHash of the client address, computed once per request; per-table keys are
    /// derived from it with [`derive_key`].
    fn ip_hash(&self, ip: IpAddr) -> u64 {
        match self.client_unit(ip) {
            IpAddr::V4(v4) => self.hasher.hash_one(v4.octets()),
            IpAddr::V6(v6) => self.hasher.hash_one(v6.octets()),
        }
    }

    /// The unit that rate limits, bot scores and bans count: the IPv4 address, or the IPv6
    /// address cut to `ipv6_client_prefix` bits (one subscriber usually holds a whole /64, so
    /// counting single IPv6 addresses would let one client rotate through 2^64 identities).
    pub fn client_unit(&self, ip: IpAddr) -> IpAddr {
        match ip.to_canonical() {
            IpAddr::V6(v6) if self.ipv6_mask != u128::MAX => {
                IpAddr::V6((u128::from(v6) & self.ipv6_mask).into())
            }
            other => other,
        }
    }

    fn ip_key(&self, ns: u8, rule: u16, ip: IpAddr) -> u64 {
        derive_key(self.ip_hash(ip), ns, rule)
    }

    /// Decides a request using this process's state only. Synchronous, no I/O, no allocation on
    /// the allow path.
    pub fn check(&self, req: &AccessRequest<'_>) -> AccessDecision {
        let now = LazyNow::new(&self.epoch);
        let ip_hash = self.ip_hash(req.ip);
        match self.check_policy(req, &now, ip_hash) {
            Some(decision) => decision,
            None => self.check_rates_local(req, &now, ip_hash),
        }
    }

    /// Decides a request with limits and bans shared through Redis when configured; without
    /// Redis, or when Redis is down or slower than the configured timeout, it uses local state
    /// exactly like [`AccessControl::check`]. Never blocks a worker thread.
    pub async fn check_shared(&self, req: &AccessRequest<'_>) -> AccessDecision {
        let now = LazyNow::new(&self.epoch);
        let ip_hash = self.ip_hash(req.ip);
        if let Some(decision) = self.check_policy(req, &now, ip_hash) {
            return decision;
        }
        let Some(shared) = self.shared.as_ref().filter(|s| s.is_usable()) else {
            return self.check_rates_local(req, &now, ip_hash);
        };
        let ip_text = self.client_unit(req.ip).to_string();
        let mut rates: Vec<SharedRate> = Vec::with_capacity(self.rates.len() + 1);
        for r in &self.rates {
            if r.rule.applies_to(req) {
                let key = match &r.rule.key {
                    RateKey::Header(h) => match req.headers.header(h) {
                        Some(v) => format!("h:{:016x}", fnv1a(v)),
                        None => ip_text.clone(),
                    },
                    RateKey::Ip => ip_text.clone(),
                };
                rates.push(SharedRate::new(&r.rule.name, &key, r.gcra));
            }
        }
        if let Some(g) = self.global_rate {
            rates.push(SharedRate::new(&self.global_name, &ip_text, g));
        }
        if rates.is_empty() && self.ban.is_none() && self.bot_score.is_none() {
            // Nothing shared applies to this request: no round trip.
            return AccessDecision::Allow;
        }
        match shared.check(&ip_text, &rates).await {
            Ok(SharedOutcome::Allowed) => AccessDecision::Allow,
            Ok(SharedOutcome::Banned { remaining_ms }) => {
                AccessDecision::deny(DenyReason::Banned {
                    remaining_secs: remaining_ms.div_ceil(1000).max(1),
                })
            }
            Ok(SharedOutcome::Limited { index, retry_us }) => {
                let rule: Arc<str> = match rates.get(index) {
                    Some(r) => r.name.clone(),
                    None => self.global_name.clone(),
                };
                AccessDecision::Limit {
                    status: LIMIT_STATUS,
                    retry_after_secs: retry_us.div_ceil(1_000_000).max(1),
                    rule,
                }
            }
            Err(_) => self.check_rates_local(req, &now, ip_hash),
        }
    }

    /// Every control except rate limits; `None` means "carry on to rate limits".
    fn check_policy(
        &self,
        req: &AccessRequest<'_>,
        now: &LazyNow<'_>,
        ip_hash: u64,
    ) -> Option<AccessDecision> {
        let ip = req.ip.to_canonical();
        if self.trusted.contains(ip) {
            return Some(AccessDecision::Allow);
        }
        if self.any_ban.load(Ordering::Relaxed) {
            let now = now.get();
            if let Some(until) = self.bans.get(derive_key(ip_hash, NS_BAN, 0), now) {
                return Some(AccessDecision::deny(DenyReason::Banned {
                    remaining_secs: (until - now).div_ceil(1_000_000_000).max(1),
                }));
            }
        }
        if !self.allow.is_empty() && self.allow.find(ip).is_none() {
            return Some(AccessDecision::deny(DenyReason::NotAllowlisted {
                scope: self.global_name.clone(),
            }));
        }
        if let Some(list) = self.block.find(ip) {
            return Some(AccessDecision::deny(DenyReason::Blocklisted {
                scope: self.global_name.clone(),
                list: list.clone(),
            }));
        }
        let mut country: Option<Option<CountryCode>> = None;
        let lookup_country = |country: &mut Option<Option<CountryCode>>| -> Option<CountryCode> {
            *country.get_or_insert_with(|| self.country(ip))
        };
        if self.geo.is_active() {
            let c = lookup_country(&mut country);
            if let Some(rule) = self.geo.judge(c) {
                return Some(AccessDecision::deny(DenyReason::Country {
                    scope: self.global_name.clone(),
                    country: c,
                    rule,
                }));
            }
        }
        for p in &self.paths {
            if !p.pattern.matches(req.path) {
                continue;
            }
            if !p.allow.is_empty() && p.allow.find(ip).is_none() {
                return Some(AccessDecision::deny(DenyReason::NotAllowlisted {
                    scope: p.scope.clone(),
                }));
            }
            if let Some(list) = p.block.find(ip) {
                return Some(AccessDecision::deny(DenyReason::Blocklisted {
                    scope: p.scope.clone(),
                    list: list.clone(),
                }));
            }
            if p.geo.is_active() {
                let c = lookup_country(&mut country);
                if let Some(rule) = p.geo.judge(c) {
                    return Some(AccessDecision::deny(DenyReason::Country {
                        scope: p.scope.clone(),
                        country: c,
                        rule,
                    }));
                }
            }
        }
        if let Some(d) = self.check_anonymous(ip) {
            return Some(d);
        }
        let verdict = self.bots.inspect(req.user_agent, req.path, req.headers);
        if verdict.score > 0 {
            if let Some(gcra) = self.bot_score {
                let key = derive_key(ip_hash, NS_BOT_SCORE, 0);
                let now = now.get();
                let tripped = self.bot_scores.update(key, now, |tat| {
                    let tripped = gcra.apply(tat, now, u64::from(verdict.score)).is_err();
                    if tripped {
                        // The ban takes over; the score starts afresh when it ends.
                        *tat = None;
                    }
                    tripped
                });
                if tripped {
                    let duration = self
                        .ban
                        .map_or(crate::config::DEFAULT_BAN_DURATION.as_nanos() as u64, |b| {
                            b.duration_ns
                        });
                    self.ban_ip(ip, now, duration);
                    if verdict.block.is_none() {
                        return Some(AccessDecision::deny(DenyReason::Banned {
                            remaining_secs: duration.div_ceil(1_000_000_000).max(1),
                        }));
                    }
                }
            }
        }
        if let Some(finding) = verdict.block {
            return Some(AccessDecision::deny(DenyReason::Bot(finding)));
        }
        None
    }

    fn check_anonymous(&self, ip: IpAddr) -> Option<AccessDecision> {
        if self.anon_block.is_empty() {
            return None;
        }
        if let Some((db, source)) = &self.anon_db {
            if let Some(category) = db.categories(ip).first_common(self.anon_block) {
                return Some(AccessDecision::deny(DenyReason::AnonymousNetwork {
                    category,
                    source: source.clone(),
                }));
            }
        }
        self.anon_lists
            .iter()
            .find(|(_, _, set)| set.contains(ip))
            .map(|(category, source, _)| {
                AccessDecision::deny(DenyReason::AnonymousNetwork {
                    category: *category,
                    source: source.clone(),
                })
            })
    }

    fn check_rates_local(
        &self,
        req: &AccessRequest<'_>,
        now: &LazyNow<'_>,
        ip_hash: u64,
    ) -> AccessDecision {
        for (index, r) in self.rates.iter().enumerate() {
            if !r.rule.applies_to(req) {
                continue;
            }
            // `index` < GLOBAL_RULE is checked in `with_shared`.
            let rule_id = index as u16;
            let key = match &r.rule.key {
                RateKey::Header(h) => match req.headers.header(h) {
                    Some(v) => self.key(NS_RATE_HEADER, rule_id, v),
                    None => derive_key(ip_hash, NS_RATE, rule_id),
                },
                RateKey::Ip => derive_key(ip_hash, NS_RATE, rule_id),
            };
            let result = self
                .limiter
                .update(key, now.get(), |tat| r.gcra.apply(tat, now.get(), 1));
            if let Err(wait_ns) = result {
                return AccessDecision::Limit {
                    status: LIMIT_STATUS,
                    retry_after_secs: wait_ns.div_ceil(1_000_000_000).max(1),
                    rule: r.rule.name.clone(),
                };
            }
        }
        if let Some(g) = self.global_rate {
            let key = derive_key(ip_hash, NS_RATE, GLOBAL_RULE);
            let now = now.get();
            if let Err(wait_ns) = self.limiter.update(key, now, |tat| g.apply(tat, now, 1)) {
                return AccessDecision::Limit {
                    status: LIMIT_STATUS,
                    retry_after_secs: wait_ns.div_ceil(1_000_000_000).max(1),
                    rule: self.global_name.clone(),
                };
            }
        }
        AccessDecision::Allow
    }

    fn ban_ip(&self, ip: IpAddr, now: u64, duration_ns: u64) {
        let until = now.saturating_add(duration_ns);
        self.any_ban.store(true, Ordering::Relaxed);
        self.bans.update(self.ip_key(NS_BAN, 0, ip), now, |v| {
            *v = Some(v.map_or(until, |old| old.max(until)));
        });
        if let Some(shared) = &self.shared {
            shared.publish_ban(
                &self.client_unit(ip).to_string(),
                Duration::from_nanos(duration_ns),
            );
        }
    }

    /// Tells access control that the proxy blocked a request from `ip` (for any reason: this
    /// crate's 403/429 or the inspection engine's). Any `bans.after_blocks` blocks within
    /// `bans.within` (a sliding window, see `docs/access-control.md`) ban the client for
    /// `bans.duration`. Requests refused because of a ban
    /// are not counted, so a ban does not extend itself. With Redis the count is also kept there
    /// (fire-and-forget, never waits).
    pub fn record_block(&self, ip: IpAddr) -> BlockRecord {
        let ip = ip.to_canonical();
        let Some(policy) = self.ban else {
            return BlockRecord::Ignored;
        };
        if self.trusted.contains(ip) {
            return BlockRecord::Ignored;
        }
        let now = self.now_ns();
        if self.any_ban.load(Ordering::Relaxed)
            && self.bans.get(self.ip_key(NS_BAN, 0, ip), now).is_some()
        {
            return BlockRecord::Ignored;
        }
        if let Some(shared) = &self.shared {
            shared.record_block(
                &self.client_unit(ip).to_string(),
                policy.counter,
                Duration::from_nanos(policy.duration_ns),
            );
        }
        let key = self.ip_key(NS_BAN_COUNT, 0, ip);
        let tripped = self.ban_counts.update(key, now, |state| {
            let tripped = policy.counter.record(state, now);
            if tripped {
                // The ban takes over; counting starts afresh when it ends.
                *state = None;
            }
            tripped
        });
        if tripped {
            self.ban_ip(ip, now, policy.duration_ns);
            BlockRecord::Banned(Duration::from_nanos(policy.duration_ns))
        } else {
            BlockRecord::Counted
        }
    }

    /// How long `ip` (its [`AccessControl::client_unit`]) stays banned in this process, if it
    /// is, for the audit event's ban state.
    pub fn ban_remaining(&self, ip: IpAddr) -> Option<Duration> {
        if !self.any_ban.load(Ordering::Relaxed) {
            return None;
        }
        let now = self.now_ns();
        self.bans
            .get(self.ip_key(NS_BAN, 0, ip), now)
            .map(|until| Duration::from_nanos(until - now))
    }

    /// Number of clients currently tracked by the local rate limiter (for metrics and the
    /// memory example).
    pub fn tracked_clients(&self) -> usize {
        self.limiter.len()
    }
}

/// The current time (ns since the policy's epoch), read from the clock only when first needed:
/// `Instant::now()` costs about 150 ns on virtualised hosts, and most requests need no time at
/// all when they touch no rate limit, score or ban.
struct LazyNow<'a> {
    epoch: &'a Instant,
    value: std::cell::Cell<u64>,
}

impl<'a> LazyNow<'a> {
    fn new(epoch: &'a Instant) -> Self {
        LazyNow {
            epoch,
            value: std::cell::Cell::new(0),
        }
    }

    #[inline]
    fn get(&self) -> u64 {
        let v = self.value.get();
        if v != 0 {
            return v;
        }
        let v = u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX - 1) + 1;
        self.value.set(v);
        v
    }
}

/// Derives a per-table key from the client hash: the tag is folded in and the result mixed by a
/// bijection (the SplitMix64 finalizer), so different tags never map one client to the same key.
#[inline]
fn derive_key(base: u64, ns: u8, rule: u16) -> u64 {
    let mut z = base ^ (u64::from(ns) << 56) ^ (u64::from(rule) << 32);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// FNV-1a, 64 bit: a stable (same in every process) digest for header values used as Redis keys,
/// so API keys are not stored in Redis in clear.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}
