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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::{embedded_rulesets, EngineConfig, UserRules};

    #[test]
    fn explains_raw_chunked_request() {
        let engine = Engine::compile(
            embedded_rulesets(),
            &UserRules::empty(),
            &EngineConfig::default(),
        )
        .unwrap();
        let raw = b"POST /search HTTP/1.1\r\nHost: app\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n1c\r\nq=1%27%20union%20select%20pw\r\n0\r\n\r\n";
        let x = explain_raw(&engine, raw).unwrap();
        assert!(x.verdict.blocked);
        let hit = x.verdict.hits.iter().find(|h| h.rule_id == 240100).unwrap();
        assert_eq!(hit.target, "form:q");
        let text = x.to_string();
        assert!(text.contains("rule 240100 [sqli]"), "{text}");
        assert!(text.contains("target: form:q"), "{text}");
        assert!(text.contains("url_decode →"), "{text}");
        assert!(text.contains("BLOCK"), "{text}");
    }

    #[test]
    fn clean_request_explained_as_pass() {
        let engine = Engine::compile(
            embedded_rulesets(),
            &UserRules::empty(),
            &EngineConfig::default(),
        )
        .unwrap();
        let x = explain_raw(
            &engine,
            b"GET /fhir/Patient?name=smith HTTP/1.1\r\nHost: app\r\n\r\n",
        )
        .unwrap();
        assert!(!x.verdict.blocked);
        assert!(x.to_string().contains("no rule fired"));
    }

    #[test]
    fn unparsable_request_is_an_error() {
        let engine = Engine::compile(
            embedded_rulesets(),
            &UserRules::empty(),
            &EngineConfig::default(),
        )
        .unwrap();
        assert!(explain_raw(&engine, b"").is_err());
    }
}
