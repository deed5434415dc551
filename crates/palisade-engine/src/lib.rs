//! Palisade's detection engine: pure, synchronous, no I/O.
//!
//! A request is broken into *leaves* — method, path, query arguments (repeats kept), headers,
//! cookies, and body fields decoded by content type (form, JSON with every key and string leaf
//! named by its JSON path, multipart fields and file names, XML text and attributes, HL7 v2
//! components, plain text). Each leaf is normalised through the transform pipelines (*views*)
//! that rules ask for, scanned once per view by an Aho-Corasick automaton over all rule literals,
//! and only the candidate rules run their `regex`-crate confirmation or syntax detector. Each
//! firing rule adds its score once; the request is blocked when the score reaches the threshold.
//! Decoder findings (malformed JSON, XXE markers, multipart ambiguity, double encoding, …) are
//! *signals* that rules turn into hits with their own ids, so policy decides what they cost.
//!
//! # Use
//!
//! ```
//! use palisade_engine::{embedded_rulesets, Engine, EngineConfig, RequestHead, UserRules};
//!
//! let user = UserRules::from_palisade_yml("exclusions: []\n")?;
//! let engine = Engine::compile(embedded_rulesets(), &user, &EngineConfig::default())?;
//! // Hold it in an Arc (it is Send + Sync) and swap it atomically on rule updates.
//!
//! let headers: [(&str, &[u8]); 2] = [("Host", b"app.example.org"), ("User-Agent", b"Mozilla/5.0")];
//! let mut tx = engine.transaction();
//! tx.inspect_head(&RequestHead { method: "GET", target: b"/search?q=%3Cscript%3Ealert(1)%3C/script%3E", headers: &headers });
//! // A body goes to `inspect_body` whole, or first sniffed when `engine.body_plan` says so.
//! tx.inspect_body(None, b"");
//! let verdict = tx.verdict();
//! assert!(verdict.blocked);
//! for hit in &verdict.hits {
//!     // rule id, category, target ("args:q"), masked snippet: safe for audit logs.
//!     println!("{} {} {} {}", hit.rule_id, hit.category, hit.target, hit.snippet);
//! }
//! # Ok::<(), palisade_engine::RuleError>(())
//! ```
//!
//! * [`Engine::compile`]`(&[RuleSource], &UserRules, &EngineConfig) -> Result<Engine, RuleError>`
//! * [`embedded_rulesets`]`() -> &'static [RuleSource]`
//! * [`UserRules::from_palisade_yml`]`(&str) -> Result<UserRules, RuleError>` — reads only the
//!   `rules:` and `exclusions:` keys.
//! * [`EngineConfig`] with named default constants ([`DEFAULT_PARANOIA`],
//!   [`DEFAULT_ANOMALY_THRESHOLD`], …).
//! * [`Engine::transaction`] → [`Transaction::inspect_head`], [`Transaction::inspect_body`],
//!   [`Transaction::verdict`] → [`Verdict`] `{ score, blocked, hits: Vec<RuleHit> }`.
//! * [`Engine::rule_count`], [`Engine::version`] for logs; [`Engine::body_plan`].
//! * [`explain_raw`] / [`explain`] for `palisade explain`; [`parse_raw_request`].
//!
//! The rule format, id ranges, targets, transforms and exclusions are documented in
//! `docs/rules.md`.

mod clean_headers;
pub mod config;
pub mod decode;
pub mod detect;
mod engine;
mod error;
pub mod explain;
pub mod fields;
pub mod leaf;
mod memo;
mod payload;

/// The benchmarks' request fixtures (file content, base64), shared with the unit tests.
#[cfg(test)]
#[allow(dead_code, missing_docs, clippy::unwrap_used)]
#[path = "../benches/fixtures/mod.rs"]
mod bench_fixtures;
pub mod raw;
pub mod request;
mod rule;
pub mod signal;
pub mod transform;
mod user;
pub mod verdict;

pub use config::{
    EngineConfig, DEFAULT_ANOMALY_THRESHOLD, DEFAULT_INSPECT_FILE_CONTENTS, DEFAULT_MAX_DEPTH,
    DEFAULT_MAX_INSPECT_BODY, DEFAULT_MAX_LEAF_LEN, DEFAULT_MAX_LEAVES, DEFAULT_PARANOIA,
};
pub use decode::content_coding::ContentCoding;
pub use engine::{BodyPlan, Engine, Transaction};
pub use error::RuleError;
pub use explain::{explain, explain_raw, Explanation};
pub use raw::{parse_raw_request, RawRequest, RawRequestError};
pub use request::RequestHead;
pub use rule::{RuleDef, RuleSource, MAX_PARANOIA, TARGET_NAMES};
pub use user::{ExclusionDef, UserRules, USER_RULE_ID_MIN};
pub use verdict::{RuleHit, Verdict};

macro_rules! ruleset {
    ($file:literal) => {
        RuleSource {
            name: std::borrow::Cow::Borrowed(concat!("rulesets/", $file)),
            yaml: std::borrow::Cow::Borrowed(include_str!(concat!("../../../rulesets/", $file))),
        }
    };
}

static EMBEDDED: &[RuleSource] = &[
    ruleset!("protocol.yml"),
    ruleset!("scanners.yml"),
    ruleset!("lfi.yml"),
    ruleset!("rce.yml"),
    ruleset!("php.yml"),
    ruleset!("java.yml"),
    ruleset!("injection-misc.yml"),
    ruleset!("xss.yml"),
    ruleset!("sqli.yml"),
];

/// The rulesets shipped in the binary (`rulesets/*.yml`, embedded at build time).
pub fn embedded_rulesets() -> &'static [RuleSource] {
    EMBEDDED
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn embedded_rulesets_compile_at_every_paranoia() {
        for pl in 1..=4 {
            let cfg = EngineConfig {
                paranoia: pl,
                ..EngineConfig::default()
            };
            let e = Engine::compile(embedded_rulesets(), &UserRules::empty(), &cfg).unwrap();
            assert!(e.rule_count() > 0);
            assert!(!e.version().is_empty());
        }
    }
}
