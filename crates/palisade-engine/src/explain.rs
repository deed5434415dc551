//! Explain: run one request through the engine and render every rule that fired, on which
//! target, after which transforms, with its score and the verdict.

use std::fmt;

use crate::engine::Engine;
use crate::raw::{parse_raw_request, RawRequestError};
use crate::request::RequestHead;
use crate::verdict::Verdict;

/// The result of explaining one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    /// Method of the request.
    pub method: String,
    /// Request-target (lossy text, for display).
    pub target: String,
    /// The verdict with all hits.
    pub verdict: Verdict,
    /// Blocking threshold in force.
    pub threshold: u32,
    /// Paranoia level in force.
    pub paranoia: u8,
    /// Ruleset version.
    pub rules_version: String,
    /// Number of active rules.
    pub rule_count: usize,
}

/// Explains a request given as parts.
pub fn explain(
    engine: &Engine,
    head: &RequestHead<'_>,
    content_type: Option<&[u8]>,
    body: &[u8],
) -> Explanation {
    let mut tx = engine.transaction();
    tx.inspect_head(head);
    tx.inspect_body(content_type, body);
    Explanation {
        method: head.method.to_string(),
        target: String::from_utf8_lossy(head.target).into_owned(),
        verdict: tx.into_verdict(),
        threshold: engine.config().anomaly_threshold,
        paranoia: engine.config().paranoia,
        rules_version: engine.version().to_string(),
        rule_count: engine.rule_count(),
    }
}

/// Parses a raw HTTP/1.1 request (chunked bodies allowed) and explains it.
pub fn explain_raw(engine: &Engine, raw: &[u8]) -> Result<Explanation, RawRequestError> {
    let req = parse_raw_request(raw)?;
    let headers = req.header_refs();
    let head = RequestHead {
        method: &req.method,
        target: &req.target,
        headers: &headers,
    };
    Ok(explain(
        engine,
        &head,
        req.header("content-type"),
        &req.body,
    ))
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let target: String = self.target.chars().take(120).collect();
        writeln!(f, "request: {} {}", self.method, target)?;
        writeln!(
            f,
            "engine: rules {} ({} active), paranoia {}, threshold {}",
            self.rules_version, self.rule_count, self.paranoia, self.threshold
        )?;
        if self.verdict.hits.is_empty() {
            writeln!(f, "no rule fired")?;
        }
        for h in &self.verdict.hits {
            writeln!(
                f,
                "- rule {} [{}] PL{} +{}: {}",
                h.rule_id, h.category, h.paranoia, h.score, h.message
            )?;
            let transforms = if h.transforms.is_empty() {
                "none".to_string()
            } else {
                h.transforms.join(" → ")
            };
            writeln!(f, "    target: {}", h.target)?;
            writeln!(f, "    transforms: {transforms}")?;
            if let Some(d) = h.detector {
                writeln!(f, "    detector/signal: {d}")?;
            }
            writeln!(f, "    matched (masked): {:?}", h.snippet)?;
        }
        writeln!(
            f,
            "verdict: score {} / threshold {} → {}",
            self.verdict.score,
            self.threshold,
            if self.verdict.blocked {
                "BLOCK"
            } else {
                "pass"
            }
        )
    }
}
