//! The rules in force, shared with every proxy worker and swapped atomically.
//!
//! A request takes one `Arc<Engine>` at its start ([`RulesHandle::current`]) and keeps it to its
//! end, so a swap never changes the rules under a request in flight. Freeing an engine is real
//! work (megabytes of automata and regex programs), so a swap hands the old engine back as
//! [`Retired`] and the updater frees it on its own thread once the last request has let go,
//! never on a proxy worker in the middle of someone's request. Reading takes a read lock only
//! long enough to clone the `Arc` (two atomic operations); the writer holds the write lock only
//! to replace two pointers, never while compiling. `benches/handle.rs` measures it.

use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, SystemTime};

use palisade_engine::Engine;

/// Where the rules in force came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RulesOrigin {
    /// The rulesets built into the binary.
    Embedded,
    /// A bundle file read at boot (`PALISADE_RULES_BUNDLE`).
    File(String),
    /// A bundle fetched from `PALISADE_RULES_URL` (shown without its path).
    Url(String),
}

impl fmt::Display for RulesOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RulesOrigin::Embedded => f.write_str("embedded"),
            RulesOrigin::File(p) => write!(f, "file {p}"),
            RulesOrigin::Url(u) => write!(f, "url {u}"),
        }
    }
}

/// What is known about the rules in force, for logs, audit events and `palisade check`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RulesetInfo {
    /// Ruleset version (the bundle's `version`, or the Palisade version for embedded rules).
    pub version: String,
    /// The engine's version string (crate version + hash of every rule source).
    pub engine_version: String,
    /// Active rules.
    pub rule_count: usize,
    /// Where they came from.
    pub origin: RulesOrigin,
    /// Label of the key that signed the bundle (`None` for embedded rules).
    pub signer: Option<String>,
    /// Id of that key.
    pub key_id: Option<String>,
    /// When the bundle was packed (RFC 3339), if from a bundle.
    pub created_at: Option<String>,
    /// When these rules were put in force.
    pub loaded_at: SystemTime,
}

impl RulesetInfo {
    /// Info for the embedded rulesets compiled into `engine`.
    pub fn embedded(engine: &Engine) -> RulesetInfo {
        RulesetInfo {
            version: env!("CARGO_PKG_VERSION").to_string(),
            engine_version: engine.version().to_string(),
            rule_count: engine.rule_count(),
            origin: RulesOrigin::Embedded,
            signer: None,
            key_id: None,
            created_at: None,
            loaded_at: SystemTime::now(),
        }
    }
}

struct Active {
    engine: Arc<Engine>,
    info: Arc<RulesetInfo>,
}

/// Shared, atomically swappable rules. Cheap to clone (one `Arc`).
#[derive(Clone)]
pub struct RulesHandle {
    active: Arc<RwLock<Active>>,
}

impl fmt::Debug for RulesHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let info = self.info();
        write!(
            f,
            "RulesHandle({} from {}, {} rules)",
            info.version, info.origin, info.rule_count
        )
    }
}

impl RulesHandle {
    /// A handle holding `engine`, described by `info`.
    pub fn new(engine: Engine, info: RulesetInfo) -> RulesHandle {
        RulesHandle {
            active: Arc::new(RwLock::new(Active {
                engine: Arc::new(engine),
                info: Arc::new(info),
            })),
        }
    }

    /// The engine in force. Call once per request and keep the `Arc` for the whole request.
    pub fn current(&self) -> Arc<Engine> {
        // A poisoned lock only means a writer panicked between two pointer stores, which cannot
        // leave `Active` half-written; keep serving.
        let guard = self.active.read().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(&guard.engine)
    }

    /// Engine and its info, consistent with each other.
    pub fn current_with_info(&self) -> (Arc<Engine>, Arc<RulesetInfo>) {
        let guard = self.active.read().unwrap_or_else(PoisonError::into_inner);
        (Arc::clone(&guard.engine), Arc::clone(&guard.info))
    }

    /// Info on the rules in force.
    pub fn info(&self) -> Arc<RulesetInfo> {
        let guard = self.active.read().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(&guard.info)
    }

    /// Puts `engine` in force; returns the rules it replaced. Requests that already took the old
    /// engine finish on it; pass the result to [`Retired::release`] so that it is freed off the
    /// request path.
    pub fn swap(&self, engine: Arc<Engine>, info: RulesetInfo) -> Retired {
        let info = Arc::new(info);
        let mut guard = self.active.write().unwrap_or_else(PoisonError::into_inner);
        let engine = std::mem::replace(&mut guard.engine, engine);
        let info = std::mem::replace(&mut guard.info, info);
        Retired { engine, info }
    }
}

/// The rules a swap replaced, still shared with the requests that started on them.
#[must_use = "dropping a Retired frees the old engine here, or in whichever request lets go last"]
pub struct Retired {
    engine: Arc<Engine>,
    /// What the replaced rules were.
    pub info: Arc<RulesetInfo>,
}

impl Retired {
    /// How often [`Retired::release`] looks whether the last request has let go.
    const POLL: Duration = Duration::from_millis(50);

    /// Waits until no request holds the old engine any more and frees it on the calling thread.
    /// After `patience` (a WebSocket or a long download may hold it for hours) it stops waiting
    /// and leaves the freeing to whichever request finishes last.
    pub async fn release(self, patience: Duration) {
        let deadline = tokio::time::Instant::now() + patience;
        while Arc::strong_count(&self.engine) > 1 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Self::POLL).await;
        }
        drop(self);
    }

    /// Whether requests still hold the old engine.
    pub fn in_use(&self) -> bool {
        Arc::strong_count(&self.engine) > 1
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use palisade_engine::{EngineConfig, RequestHead, RuleSource, UserRules};

    fn engine(rules: &str) -> Engine {
        Engine::compile(
            &[RuleSource::new("t.yml", rules)],
            &UserRules::empty(),
            &EngineConfig::default(),
        )
        .unwrap()
    }

    fn blocks(e: &Engine, target: &[u8]) -> bool {
        let mut tx = e.transaction();
        tx.inspect_head(&RequestHead {
            method: "GET",
            target,
            headers: &[],
        });
        tx.verdict().blocked
    }

    const CANARY: &str = "rules:\n  - id: 990001\n    category: test\n    paranoia: 1\n    score: 5\n    targets: [args]\n    literals: [\"canary-attack\"]\n";

    #[test]
    fn in_flight_requests_keep_their_engine() {
        let e0 = engine("rules: []\n");
        let info0 = RulesetInfo::embedded(&e0);
        let h = RulesHandle::new(e0, info0);
        let before = h.current();
        assert!(!blocks(&before, b"/?q=canary-attack"));
        let e1 = engine(CANARY);
        let mut info1 = RulesetInfo::embedded(&e1);
        info1.version = "9.9.9".into();
        let old = h.swap(Arc::new(e1), info1);
        assert_eq!(old.info.version, env!("CARGO_PKG_VERSION"));
        assert!(
            old.in_use(),
            "the request that started before the swap holds the old engine"
        );
        // The request that started before the swap still sees the old rules...
        assert!(!blocks(&before, b"/?q=canary-attack"));
        // ...new ones see the new rules.
        let after = h.current();
        assert!(blocks(&after, b"/?q=canary-attack"));
        let (e, i) = h.current_with_info();
        assert_eq!(i.version, "9.9.9");
        assert_eq!(e.rule_count(), 1);
        drop(before);
        assert!(!old.in_use());
    }

    #[tokio::test(start_paused = true)]
    async fn release_waits_for_the_last_request_then_frees_the_engine() {
        let e0 = engine("rules: []\n");
        let info0 = RulesetInfo::embedded(&e0);
        let h = RulesHandle::new(e0, info0);
        let in_flight = h.current();
        let weak = Arc::downgrade(&in_flight);
        let e1 = engine(CANARY);
        let info1 = RulesetInfo::embedded(&e1);
        let release = tokio::spawn(h.swap(Arc::new(e1), info1).release(Duration::from_secs(60)));
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert!(
            !release.is_finished(),
            "released while a request still held the engine"
        );
        drop(in_flight);
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(release.is_finished());
        assert!(
            weak.upgrade().is_none(),
            "the old engine was not freed by release"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn release_gives_up_after_its_patience() {
        let e0 = engine("rules: []\n");
        let info0 = RulesetInfo::embedded(&e0);
        let h = RulesHandle::new(e0, info0);
        let websocket = h.current();
        let weak = Arc::downgrade(&websocket);
        let e1 = engine(CANARY);
        let info1 = RulesetInfo::embedded(&e1);
        let release = h.swap(Arc::new(e1), info1).release(Duration::from_secs(60));
        let gave_up = tokio::time::timeout(Duration::from_secs(61), release).await;
        assert!(gave_up.is_ok(), "release kept waiting past its patience");
        // The long-lived request still has its engine; it frees it when it ends.
        assert!(weak.upgrade().is_some());
        drop(websocket);
        assert!(weak.upgrade().is_none());
    }
}
