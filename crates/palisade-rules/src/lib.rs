//! Ruleset bundles for Palisade: signed, verified, and swapped in at runtime (issue #10).
//!
//! A **bundle** is the YAML rulesets plus a JSON manifest (version, created-at, minimum Palisade
//! version, size and SHA-256 of each file) and detached Ed25519 signatures over the manifest
//! ([`bundle`] documents the format). Palisade trusts the compiled-in project key
//! (`rulesets/keys/palisade-2026.pub`) and one more from `PALISADE_RULES_PUBKEY`.
//!
//! At boot [`RulesLoader::boot`] compiles the embedded rulesets (the floor) and, if
//! `PALISADE_RULES_BUNDLE` names a file, that bundle instead (a bundle is a complete ruleset;
//! a refused one leaves the embedded rules in force). With `PALISADE_RULES_URL` set, [`spawn_updater`] polls it from its own
//! thread, verifies each new bundle (signature, checksums, never older than the rules in force,
//! never one that needs a newer Palisade), compiles it with the user's rules and exclusions on
//! top, and swaps it into the [`RulesHandle`]. Requests hold the `Arc<Engine>` they started with,
//! so a swap drops nothing. Anything refused or unreachable changes nothing and produces a
//! [`RulesEvent`] for the audit trail.
//!
//! ```no_run
//! use std::sync::Arc;
//! use palisade_engine::{EngineConfig, UserRules};
//! use palisade_rules::{fetch::parse_url, spawn_updater, KeyRing, RulesLoader, UpdaterConfig, DEFAULT_FETCH_TIMEOUT};
//!
//! let loader = RulesLoader::new(KeyRing::with_extra(None)?, UserRules::empty(), EngineConfig::default());
//! let (handle, boot_events) = loader.boot(None)?;
//! let audit: palisade_rules::AuditCallback = Arc::new(|e| println!("{}", e.to_json()));
//! boot_events.iter().for_each(|e| audit(e));
//! let updater = spawn_updater(handle.clone(), UpdaterConfig {
//!     url: parse_url("http://rules.internal/palisade.bundle")?,
//!     poll_interval: std::time::Duration::from_secs(900),
//!     fetch_timeout: DEFAULT_FETCH_TIMEOUT,
//!     connector: Arc::new(palisade_audit::TcpConnector),
//!     loader: loader.clone(),
//! }, audit)?;
//! // Per request: let engine = handle.current(); keep it in the request context.
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod bundle;
pub mod fetch;
mod handle;
mod hex;
pub mod keys;
mod updater;
pub mod version;

pub use bundle::{read_bundle_file, Bundle, BundleError, FileEntry, Manifest, VerifiedBundle};
pub use handle::{RulesHandle, RulesOrigin, RulesetInfo};
pub use keys::{KeyError, KeyRing, SecretKey, TrustedKey};
pub use updater::{
    next_delay, spawn_updater, AuditCallback, RulesEvent, RulesLoader, Updater, UpdaterConfig,
    UpdaterStats, DEFAULT_FETCH_TIMEOUT, DEFAULT_POLL_INTERVAL, MAX_BACKOFF_DOUBLINGS,
    MIN_POLL_INTERVAL,
};
pub use version::Version;
