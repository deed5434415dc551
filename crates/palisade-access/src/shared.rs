//! [`SharedLimiter`]: rate limits and bans shared by every process through Redis.
//!
//! The same GCRA as the local limiter runs inside Redis as a Lua script (atomic per request, one
//! round trip that checks the ban key and every applicable rule). Times come from Redis' own
//! clock (`TIME`, microseconds), so dynos with skewed clocks still agree. Keys:
//! `{prefix}:ban:{ip}`, `{prefix}:bc:{ip}` (block counter), `{prefix}:rl:{rule}:{client}`, where
//! `client` is the IP or `h:` and a 64-bit digest of the header value (API keys are not stored in
//! clear); every key expires on its own when its state runs out. A single (non-cluster) Redis is
//! assumed, as Heroku Data for Redis provides.

use std::sync::Arc;
use std::time::Duration;

use crate::config::RedisConfig;
use crate::error::{AccessError, ConfigError};
use crate::ratelimit::Gcra;
use crate::redis::{RedisClient, RedisConnector, RedisError, RedisUrl, RespValue, TcpConnector};
use crate::window::SlidingWindow;

pub use crate::redis::{SharedStatus, SharedWarning};

/// GCRA over the ban key (KEYS[1]) and rate keys (KEYS[2..]); ARGV holds, per rate key, the
/// emission interval and tolerance in microseconds. Returns `{0,0,0}` allowed,
/// `{1, ban_ms_left, 0}` banned, `{2, rule_index, retry_us}` limited. Rules are applied in order;
/// a refused request consumes nothing in the refusing rule (the local limiter behaves the same).
const CHECK_SCRIPT: &str = r#"
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local ban = redis.call('PTTL', KEYS[1])
if ban > 0 then return {1, ban, 0} end
for i = 2, #KEYS do
  local T = tonumber(ARGV[2 * i - 3])
  local tol = tonumber(ARGV[2 * i - 2])
  local tat = tonumber(redis.call('GET', KEYS[i]) or 0)
  if tat < now then tat = now end
  local new = tat + T
  if new - now > tol then return {2, i - 2, new - tol - now} end
  redis.call('SET', KEYS[i], string.format('%.0f', new), 'PX', math.ceil((new - now) / 1000) + 1)
end
return {0, 0, 0}
"#;

/// Ban counter, the same sliding window as the local one (the current bucket of a third of the
/// window and the three before it all count): KEYS[1] ban key, KEYS[2] counter hash (`i` bucket
/// index, `c0`..`c3` counts, current first); ARGV bucket µs, threshold, ban ms. Returns 1 if this
/// block started a ban.
const BLOCK_SCRIPT: &str = r#"
if redis.replicate_commands then redis.replicate_commands() end
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local b = tonumber(ARGV[1])
local idx = math.floor(now / b)
local st = redis.call('HMGET', KEYS[2], 'i', 'c0', 'c1', 'c2', 'c3')
local c = {0, 0, 0, 0}
local i = tonumber(st[1])
if i then
  local shift = idx - i
  for k = 1, 4 do
    if k + shift <= 4 and shift >= 0 then c[k + shift] = tonumber(st[k + 1]) or 0 end
  end
end
c[1] = c[1] + 1
if c[1] + c[2] + c[3] + c[4] >= tonumber(ARGV[2]) then
  redis.call('SET', KEYS[1], '1', 'PX', ARGV[3])
  redis.call('DEL', KEYS[2])
  return 1
end
redis.call('HSET', KEYS[2], 'i', string.format('%.0f', idx), 'c0', c[1], 'c1', c[2], 'c2', c[3], 'c3', c[4])
redis.call('PEXPIRE', KEYS[2], math.ceil(4 * b / 1000))
return 0
"#;

static SCRIPTS: [&str; 2] = [CHECK_SCRIPT, BLOCK_SCRIPT];
const CHECK: usize = 0;
const BLOCK: usize = 1;

/// One applicable rate rule for a shared check.
#[derive(Debug, Clone)]
pub(crate) struct SharedRate {
    pub(crate) name: Arc<str>,
    key: String,
    gcra: Gcra,
}

impl SharedRate {
    pub(crate) fn new(name: &Arc<str>, client: &str, gcra: Gcra) -> Self {
        SharedRate {
            name: name.clone(),
            key: format!("{name}:{client}"),
            gcra,
        }
    }
}

/// The answer of a shared check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SharedOutcome {
    Allowed,
    Banned { remaining_ms: u64 },
    Limited { index: usize, retry_us: u64 },
}

fn micros(ns: u64) -> String {
    (ns / 1000).max(1).to_string()
}

/// Rate limits and bans in Redis. Build one and pass it to
/// [`crate::AccessControl::with_shared`] (or let [`crate::AccessControl::new`] build a plain-TCP
/// one from `config.redis`).
#[derive(Debug)]
pub struct SharedLimiter {
    client: RedisClient,
    prefix: String,
    timeout: Duration,
}

impl SharedLimiter {
    /// Plain TCP (`redis://`). A `rediss://` URL is an error here: use
    /// [`SharedLimiter::with_connector`] with a TLS connector.
    pub fn new(config: &RedisConfig) -> Result<Self, AccessError> {
        let url = RedisUrl::parse(&config.url)?;
        if url.tls {
            return Err(ConfigError::new(
                "redis url",
                url.to_string(),
                "rediss:// (TLS) needs a TLS connector: build SharedLimiter::with_connector and pass it \
                 to AccessControl::with_shared",
            )
            .into());
        }
        Self::with_connector(config, TcpConnector)
    }

    /// With a caller-supplied connector (e.g. BoringSSL TLS for `rediss://`).
    pub fn with_connector<C: RedisConnector>(
        config: &RedisConfig,
        connector: C,
    ) -> Result<Self, AccessError> {
        let url = RedisUrl::parse(&config.url)?;
        if config.timeout.0.is_zero() {
            return Err(ConfigError::new(
                "redis.timeout",
                "0",
                "must be longer than zero, e.g. `5ms`",
            )
            .into());
        }
        if config.key_prefix.is_empty()
            || config.key_prefix.bytes().any(|b| b.is_ascii_whitespace())
        {
            return Err(ConfigError::new(
                "redis.key_prefix",
                config.key_prefix.clone(),
                "must be non-empty and contain no whitespace",
            )
            .into());
        }
        Ok(SharedLimiter {
            client: RedisClient::new(url, connector, &SCRIPTS),
            prefix: config.key_prefix.clone(),
            timeout: config.timeout.0,
        })
    }

    /// Starts the connection task now (otherwise it starts on the first request).
    pub fn start(&self, handle: &tokio::runtime::Handle) {
        self.client.start(handle);
    }

    /// Health.
    pub fn status(&self) -> SharedStatus {
        self.client.status()
    }

    /// A warning to log, at most once a minute while degraded; see [`RedisClient::take_warning`].
    pub fn take_warning(&self) -> Option<SharedWarning> {
        self.client.take_warning()
    }

    /// The Redis URL (its `Display` masks the password).
    pub fn url(&self) -> &RedisUrl {
        self.client.url()
    }

    /// The per-request timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    pub(crate) fn is_usable(&self) -> bool {
        self.client.is_usable()
    }

    fn ban_key(&self, ip: &str) -> String {
        format!("{}:ban:{ip}", self.prefix)
    }

    pub(crate) async fn check(
        &self,
        ip: &str,
        rates: &[SharedRate],
    ) -> Result<SharedOutcome, RedisError> {
        let ban_key = self.ban_key(ip);
        let rate_keys: Vec<String> = rates
            .iter()
            .map(|r| format!("{}:rl:{}", self.prefix, r.key))
            .collect();
        let mut keys: Vec<&[u8]> = Vec::with_capacity(rates.len() + 1);
        keys.push(ban_key.as_bytes());
        keys.extend(rate_keys.iter().map(|k| k.as_bytes()));
        let params: Vec<String> = rates
            .iter()
            .flat_map(|r| [micros(r.gcra.emission_ns), micros(r.gcra.tolerance_ns)])
            .collect();
        let args: Vec<&[u8]> = params.iter().map(|p| p.as_bytes()).collect();
        let reply = self
            .client
            .eval_script(CHECK, &keys, &args, self.timeout)
            .await?;
        let bad = || RedisError::Protocol(format!("unexpected script reply {reply:?}"));
        let RespValue::Array(Some(items)) = &reply else {
            return Err(bad());
        };
        let ints: Vec<i64> = items
            .iter()
            .map(|v| match v {
                RespValue::Integer(i) => Ok(*i),
                _ => Err(bad()),
            })
            .collect::<Result<_, _>>()?;
        match ints.as_slice() {
            [0, _, _] => Ok(SharedOutcome::Allowed),
            [1, ms, _] => Ok(SharedOutcome::Banned {
                remaining_ms: u64::try_from(*ms).unwrap_or(1),
            }),
            [2, index, retry] => Ok(SharedOutcome::Limited {
                index: usize::try_from(*index).map_err(|_| bad())?,
                retry_us: u64::try_from(*retry).unwrap_or(1_000_000),
            }),
            _ => Err(bad()),
        }
    }

    pub(crate) fn record_block(&self, ip: &str, counter: SlidingWindow, ban: Duration) {
        let ban_key = self.ban_key(ip);
        let count_key = format!("{}:bc:{ip}", self.prefix);
        // Three buckets per window, as in `crate::window`.
        let window = micros(counter.window_ns / 3);
        let threshold = counter.threshold.to_string();
        let ban_ms = ban.as_millis().max(1).to_string();
        self.client.eval_script_and_forget(
            BLOCK,
            &[ban_key.as_bytes(), count_key.as_bytes()],
            &[window.as_bytes(), threshold.as_bytes(), ban_ms.as_bytes()],
        );
    }

    pub(crate) fn publish_ban(&self, ip: &str, ban: Duration) {
        let ban_key = self.ban_key(ip);
        let ban_ms = ban.as_millis().max(1).to_string();
        self.client
            .send_and_forget(&[b"SET", ban_key.as_bytes(), b"1", b"PX", ban_ms.as_bytes()]);
    }
}
