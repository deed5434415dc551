//! Loading rules at boot and keeping them current: verify → compile (off the request path) →
//! swap. The embedded rulesets are the floor: a bundle that fails any check changes nothing.

use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use palisade_audit::alert::url::WebhookUrl;
use palisade_audit::AlertConnector;
use palisade_engine::{embedded_rulesets, Engine, EngineConfig, RuleError, UserRules};
use serde_json::json;
use tokio::sync::watch;

use crate::bundle::{Bundle, BundleError};
use crate::fetch::{fetch, Fetched};
use crate::handle::{Retired, RulesHandle, RulesOrigin, RulesetInfo};
use crate::keys::KeyRing;
use crate::version::Version;

/// Default time between polls of `PALISADE_RULES_URL`.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(15 * 60);
/// Shortest poll interval allowed.
pub const MIN_POLL_INTERVAL: Duration = Duration::from_secs(1);
/// Limit for one fetch (connect, request, whole response).
pub const DEFAULT_FETCH_TIMEOUT: Duration = Duration::from_secs(30);
/// After failures the interval doubles, up to this many times (so at most 8× the interval).
pub const MAX_BACKOFF_DOUBLINGS: u32 = 3;
/// How long the updater waits for the last request on replaced rules before leaving the freeing
/// of the old engine to that request.
const RETIRE_PATIENCE: Duration = Duration::from_secs(10 * 60);
/// The updater thread's nice value: compiling a bundle takes ~150 ms of CPU, and on a small dyno
/// it must not take that CPU from the proxy's workers (that showed as p99 latency during swaps).
const UPDATER_NICE: i32 = 19;

/// Something that happened to the rules, for the audit trail. Every swap and every refusal is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RulesEvent {
    /// New rules are in force.
    Swapped {
        /// Version replaced.
        from: String,
        /// Version now in force.
        to: String,
        /// Active rules now.
        rule_count: usize,
        /// Where the new rules came from.
        origin: RulesOrigin,
        /// Label of the signing key.
        signer: String,
        /// Id of the signing key.
        key_id: String,
    },
    /// A bundle was refused; the rules in force stay.
    Refused {
        /// Where it came from.
        origin: RulesOrigin,
        /// [`BundleError::reason`].
        reason: &'static str,
        /// What was wrong, for a human.
        message: String,
        /// Version in force (unchanged).
        in_force: String,
    },
    /// The bundle URL could not be fetched; the rules in force stay.
    Unreachable {
        /// The URL (without its path).
        origin: RulesOrigin,
        /// What went wrong.
        message: String,
        /// Consecutive failures so far.
        failures: u32,
        /// Version in force (unchanged).
        in_force: String,
    },
}

impl RulesEvent {
    /// `event.action`: `rules-updated`, `rules-update-refused`, `rules-update-unreachable`.
    pub fn action(&self) -> &'static str {
        match self {
            RulesEvent::Swapped { .. } => "rules-updated",
            RulesEvent::Refused { .. } => "rules-update-refused",
            RulesEvent::Unreachable { .. } => "rules-update-unreachable",
        }
    }

    /// One JSON object with Elastic Common Schema names where they exist.
    pub fn to_json(&self) -> serde_json::Value {
        let ts = palisade_audit::time::format_rfc3339_micros(SystemTime::now());
        match self {
            RulesEvent::Swapped {
                from,
                to,
                rule_count,
                origin,
                signer,
                key_id,
            } => json!({
                "@timestamp": ts,
                "event": {"kind": "event", "category": ["configuration"], "type": ["change"], "action": self.action(), "outcome": "success"},
                "message": format!("rules {from} -> {to} ({rule_count} rules) from {origin}, signed by {signer} ({key_id})"),
                "palisade": {"rules": {"from": from, "to": to, "count": rule_count, "source": origin.to_string(), "signer": signer, "key_id": key_id}},
            }),
            RulesEvent::Refused {
                origin,
                reason,
                message,
                in_force,
            } => json!({
                "@timestamp": ts,
                "event": {"kind": "event", "category": ["configuration"], "type": ["change"], "action": self.action(), "outcome": "failure", "reason": reason},
                "message": format!("rules bundle from {origin} refused ({reason}): {message}; rules {in_force} stay in force"),
                "palisade": {"rules": {"in_force": in_force, "source": origin.to_string()}},
            }),
            RulesEvent::Unreachable {
                origin,
                message,
                failures,
                in_force,
            } => json!({
                "@timestamp": ts,
                "event": {"kind": "event", "category": ["configuration"], "type": ["access"], "action": self.action(), "outcome": "failure", "reason": "fetch"},
                "message": format!("rules bundle from {origin} unreachable ({failures} in a row): {message}; rules {in_force} stay in force"),
                "palisade": {"rules": {"in_force": in_force, "source": origin.to_string(), "failures": failures}},
            }),
        }
    }
}

/// Receives every [`RulesEvent`] (called from the updater thread; must not block for long).
pub type AuditCallback = Arc<dyn Fn(&RulesEvent) + Send + Sync>;

/// Compiles rules the same way every time: bundle (or embedded) rulesets + the user's rules and
/// exclusions from `palisade.yml`, at the policy's engine config.
#[derive(Debug, Clone)]
pub struct RulesLoader {
    /// Keys a bundle must be signed by.
    pub keys: KeyRing,
    /// User rules and exclusions, applied on top of every ruleset.
    pub user_rules: UserRules,
    /// Paranoia, threshold, limits.
    pub engine_config: EngineConfig,
    /// The Palisade version bundles' `min_palisade` is checked against (this build's).
    pub running: Version,
}

impl RulesLoader {
    /// A loader for this build.
    pub fn new(keys: KeyRing, user_rules: UserRules, engine_config: EngineConfig) -> RulesLoader {
        RulesLoader {
            keys,
            user_rules,
            engine_config,
            running: Version::palisade(),
        }
    }

    /// The embedded rulesets with the user's rules: the floor. An error here means the user's
    /// rules are wrong; Palisade must not start.
    pub fn embedded(&self) -> Result<(Engine, RulesetInfo), RuleError> {
        let engine = Engine::compile(embedded_rulesets(), &self.user_rules, &self.engine_config)?;
        let info = RulesetInfo::embedded(&engine);
        Ok((engine, info))
    }

    /// Verifies and compiles a bundle against the version in force. `Ok(None)`: that version is
    /// already in force. Runs on the caller's thread: never call it from a proxy worker.
    pub fn compile_bundle(
        &self,
        bytes: &[u8],
        origin: RulesOrigin,
        in_force: &str,
    ) -> Result<Option<(Engine, RulesetInfo)>, BundleError> {
        let verified = Bundle::parse(bytes)?.verify(&self.keys, self.running)?;
        if let Ok(in_force) = Version::parse(in_force) {
            if verified.version < in_force {
                return Err(BundleError::Older {
                    bundle: verified.version.to_string(),
                    running: in_force.to_string(),
                });
            }
            if verified.version == in_force {
                return Ok(None);
            }
        }
        let engine = Engine::compile(&verified.sources, &self.user_rules, &self.engine_config)
            .map_err(|e| BundleError::Compile(e.to_string()))?;
        let info = RulesetInfo {
            version: verified.version.to_string(),
            engine_version: engine.version().to_string(),
            rule_count: engine.rule_count(),
            origin,
            signer: Some(verified.signer_label),
            key_id: Some(verified.signer_id),
            created_at: Some(verified.manifest.created_at),
            loaded_at: SystemTime::now(),
        };
        Ok(Some((engine, info)))
    }

    /// [`Self::compile_bundle`], then swaps the result into `handle` (requests in flight finish
    /// on the old rules).
    pub fn apply(
        &self,
        handle: &RulesHandle,
        bytes: &[u8],
        origin: RulesOrigin,
    ) -> Result<Option<(RulesEvent, Retired)>, BundleError> {
        let in_force = handle.info().version.clone();
        let Some((engine, info)) = self.compile_bundle(bytes, origin, &in_force)? else {
            return Ok(None);
        };
        let event = swapped_event(&in_force, &info);
        let retired = handle.swap(Arc::new(engine), info);
        Ok(Some((event, retired)))
    }

    /// The rules to start with: the bundle file if one is given and it passes every check, else
    /// the embedded floor. Returns the events to audit (a refused file is one; Palisade still
    /// starts, on the embedded rules). The bundle is tried first so that the user's exclusions
    /// may name rules only the bundle has. `Err` only when the embedded rules do not compile with
    /// the user's rules (their `palisade.yml` is wrong).
    pub fn boot(
        &self,
        bundle_file: Option<&Path>,
    ) -> Result<(RulesHandle, Vec<RulesEvent>), RuleError> {
        let floor = env!("CARGO_PKG_VERSION");
        let mut events = Vec::new();
        if let Some(path) = bundle_file {
            let origin = RulesOrigin::File(path.display().to_string());
            let result = std::fs::read(path)
                .map_err(|e| BundleError::Malformed(format!("cannot read {}: {e}", path.display())))
                .and_then(|bytes| self.compile_bundle(&bytes, origin.clone(), floor));
            match result {
                Ok(Some((engine, info))) => {
                    events.push(swapped_event(floor, &info));
                    return Ok((RulesHandle::new(engine, info), events));
                }
                Ok(None) => {}
                Err(e) => events.push(RulesEvent::Refused {
                    origin,
                    reason: e.reason(),
                    message: e.to_string(),
                    in_force: floor.to_string(),
                }),
            }
        }
        let (engine, info) = self.embedded()?;
        Ok((RulesHandle::new(engine, info), events))
    }
}

fn swapped_event(from: &str, info: &RulesetInfo) -> RulesEvent {
    RulesEvent::Swapped {
        from: from.to_string(),
        to: info.version.clone(),
        rule_count: info.rule_count,
        origin: info.origin.clone(),
        signer: info.signer.clone().unwrap_or_default(),
        key_id: info.key_id.clone().unwrap_or_default(),
    }
}

/// Counters of the updater's work (read them for the summary event or metrics).
#[derive(Debug, Default)]
pub struct UpdaterStats {
    /// Polls made.
    pub polls: AtomicU64,
    /// Bundles put in force.
    pub swaps: AtomicU64,
    /// Bundles refused (signature, checksum, version, compile).
    pub refused: AtomicU64,
    /// Polls that failed to fetch.
    pub fetch_failures: AtomicU64,
    /// Polls answered 304 or with the version already in force.
    pub unchanged: AtomicU64,
}

/// How the updater polls.
#[derive(Clone)]
pub struct UpdaterConfig {
    /// Bundle URL (`PALISADE_RULES_URL`).
    pub url: WebhookUrl,
    /// Time between polls (`PALISADE_RULES_POLL_INTERVAL`); jitter only shortens it.
    pub poll_interval: Duration,
    /// Limit for one fetch.
    pub fetch_timeout: Duration,
    /// Plain TCP, or the TLS connector for `https://`.
    pub connector: Arc<dyn AlertConnector>,
    /// Verification and compilation.
    pub loader: RulesLoader,
}

/// The running updater.
pub struct Updater {
    stats: Arc<UpdaterStats>,
    stop: watch::Sender<bool>,
    thread: Option<JoinHandle<()>>,
}

impl Updater {
    /// Counters.
    pub fn stats(&self) -> &Arc<UpdaterStats> {
        &self.stats
    }

    /// Stops polling and waits for the thread (a fetch or compile in progress finishes first).
    pub fn stop(mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The delay before the next poll: the interval, doubled per consecutive failure (at most
/// [`MAX_BACKOFF_DOUBLINGS`] times), minus up to 10% jitter so many dynos do not poll in step.
pub fn next_delay(interval: Duration, failures: u32, random: u64) -> Duration {
    let base = interval.saturating_mul(1 << failures.min(MAX_BACKOFF_DOUBLINGS));
    let jitter_ms = u64::try_from(base.as_millis() / 10).unwrap_or(u64::MAX);
    let cut = if jitter_ms == 0 {
        0
    } else {
        random % jitter_ms
    };
    base.saturating_sub(Duration::from_millis(cut))
}

/// A small xorshift generator for jitter (not for anything secret).
struct Jitter(u64);

impl Jitter {
    fn seeded() -> Jitter {
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        Jitter(u64::from(nanos) ^ (u64::from(std::process::id()) << 32) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Starts the updater on its own thread (with its own small tokio runtime: fetching and compiling
/// never run on a proxy worker). The first poll happens at once; then every `poll_interval`.
pub fn spawn_updater(
    handle: RulesHandle,
    config: UpdaterConfig,
    audit: AuditCallback,
) -> io::Result<Updater> {
    let stats = Arc::new(UpdaterStats::default());
    let (stop_tx, stop_rx) = watch::channel(false);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let thread_stats = Arc::clone(&stats);
    let thread = std::thread::Builder::new()
        .name("palisade-rules".into())
        .spawn(move || {
            lower_this_threads_priority();
            runtime.block_on(poll_loop(handle, config, audit, thread_stats, stop_rx))
        })?;
    Ok(Updater {
        stats,
        stop: stop_tx,
        thread: Some(thread),
    })
}

/// Linux nice values are per thread: this lowers the updater's priority only, so the scheduler
/// runs proxy workers first whenever both want the CPU. Failing to do so changes nothing else.
fn lower_this_threads_priority() {
    let tid = rustix::thread::gettid();
    if let Err(e) = rustix::process::setpriority_process(Some(tid), UPDATER_NICE) {
        tracing::debug!("rules updater: could not lower its thread priority: {e}");
    }
}

async fn poll_loop(
    handle: RulesHandle,
    config: UpdaterConfig,
    audit: AuditCallback,
    stats: Arc<UpdaterStats>,
    mut stop: watch::Receiver<bool>,
) {
    let origin = RulesOrigin::Url(config.url.redacted());
    let mut etag: Option<String> = None;
    let mut failures = 0u32;
    let mut jitter = Jitter::seeded();
    let mut delay = Duration::ZERO;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = stop.changed() => return,
        }
        stats.polls.fetch_add(1, Relaxed);
        match fetch(
            config.connector.as_ref(),
            &config.url,
            etag.as_deref(),
            config.fetch_timeout,
        )
        .await
        {
            Ok(Fetched::NotModified) => {
                stats.unchanged.fetch_add(1, Relaxed);
                failures = 0;
            }
            Ok(Fetched::Bundle {
                bytes,
                etag: new_etag,
            }) => {
                // Compiling blocks this thread only: it is the updater's own.
                match config.loader.apply(&handle, &bytes, origin.clone()) {
                    Ok(Some((event, retired))) => {
                        // Freed here, on this thread, once its last request is done.
                        tokio::spawn(retired.release(RETIRE_PATIENCE));
                        stats.swaps.fetch_add(1, Relaxed);
                        tracing::info!(action = event.action(), "{}", event.to_json()["message"]);
                        audit(&event);
                        failures = 0;
                    }
                    Ok(None) => {
                        stats.unchanged.fetch_add(1, Relaxed);
                        failures = 0;
                    }
                    Err(e) => {
                        stats.refused.fetch_add(1, Relaxed);
                        let event = RulesEvent::Refused {
                            origin: origin.clone(),
                            reason: e.reason(),
                            message: e.to_string(),
                            in_force: handle.info().version.clone(),
                        };
                        tracing::warn!(
                            action = event.action(),
                            reason = e.reason(),
                            "{}",
                            event.to_json()["message"]
                        );
                        audit(&event);
                        // With an ETag the same bad bundle comes back as 304 (no new event);
                        // without one, back off so it is not re-audited every interval.
                        if new_etag.is_none() {
                            failures = failures.saturating_add(1);
                        }
                    }
                }
                etag = new_etag;
            }
            Err(e) => {
                stats.fetch_failures.fetch_add(1, Relaxed);
                failures = failures.saturating_add(1);
                let event = RulesEvent::Unreachable {
                    origin: origin.clone(),
                    message: e.to_string(),
                    failures,
                    in_force: handle.info().version.clone(),
                };
                tracing::warn!(action = event.action(), "{}", event.to_json()["message"]);
                audit(&event);
            }
        }
        delay = next_delay(config.poll_interval, failures, jitter.next());
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn delay_backs_off_and_jitter_only_shortens() {
        let i = Duration::from_secs(900);
        for r in [0u64, 1, 12345, u64::MAX] {
            let d = next_delay(i, 0, r);
            assert!(d <= i && d >= i * 9 / 10, "{d:?}");
        }
        assert!(next_delay(i, 1, 0) == i * 2);
        assert!(next_delay(i, 3, 0) == i * 8);
        assert!(next_delay(i, 30, 0) == i * 8);
        assert_eq!(
            next_delay(Duration::from_millis(5), 0, 7),
            Duration::from_millis(5)
        );
    }

    #[test]
    fn events_render_with_ecs_names() {
        let e = RulesEvent::Swapped {
            from: "0.1.0".into(),
            to: "0.1.1".into(),
            rule_count: 10,
            origin: RulesOrigin::Url("http://h:80/…".into()),
            signer: "palisade-2026".into(),
            key_id: "00aa".into(),
        };
        let j = e.to_json();
        assert_eq!(j["event"]["action"], "rules-updated");
        assert_eq!(j["palisade"]["rules"]["to"], "0.1.1");
        assert_eq!(j["palisade"]["rules"]["key_id"], "00aa");
        let r = RulesEvent::Refused {
            origin: RulesOrigin::File("x".into()),
            reason: "signature",
            message: "m".into(),
            in_force: "0.1.0".into(),
        };
        assert_eq!(r.to_json()["event"]["reason"], "signature");
    }
}
