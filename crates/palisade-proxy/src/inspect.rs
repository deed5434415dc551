//! Request-head inspection with the rules in force (issue #10). Each request takes the engine
//! once, at `request_filter`, and keeps it in its context: a rules swap never changes the rules
//! under a request in flight.

use std::sync::Arc;

use palisade_engine::{Engine, RequestHead};
use palisade_rules::RulesHandle;
use pingora::http::RequestHeader;

/// The rules handle and whether verdicts are enforced (`block` mode) or only logged.
#[derive(Debug, Clone)]
pub struct Inspection {
    /// The rules in force, swapped by the updater.
    pub rules: RulesHandle,
    /// `true` in block mode.
    pub enforce: bool,
}

/// Runs the head (method, path, query, headers, cookies) through `engine`; `true` when the
/// verdict is to block.
pub fn head_blocked(engine: &Engine, req: &RequestHeader) -> bool {
    let headers: Vec<(&str, &[u8])> = req
        .headers
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_bytes()))
        .collect();
    let mut tx = engine.transaction();
    tx.inspect_head(&RequestHead {
        method: req.method.as_str(),
        target: req.raw_path(),
        headers: &headers,
    });
    tx.verdict().blocked
}

/// The engine for one request.
pub fn engine_for_request(inspection: &Inspection) -> Arc<Engine> {
    inspection.rules.current()
}
