//! Bots and scanners: attack-tool fingerprints, empty/malformed user agents and probes for paths
//! the app does not have. Each signal can block the request, only add to the client's bot score
//! (which leads to a temporary ban when it crosses the threshold), or be off.

pub mod probe_paths;
pub mod scanner_ua;
pub mod user_agent_shape;

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use crate::error::ConfigError;
use crate::pattern::PathPattern;
use crate::request::HeaderLookup;
use scanner_ua::{ScannerUserAgents, SCANNER_HEADERS};
use user_agent_shape::UserAgentShape;

/// Score added by a scanner fingerprint.
pub const SCANNER_SCORE: u32 = 10;
/// Score added by a probe path.
pub const PROBE_SCORE: u32 = 5;
/// Score added by a malformed user agent.
pub const MALFORMED_USER_AGENT_SCORE: u32 = 5;
/// Score added by an empty user agent.
pub const EMPTY_USER_AGENT_SCORE: u32 = 1;

/// What to do when a bot signal fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BotAction {
    /// Ignore the signal.
    Off,
    /// Add to the client's bot score only.
    Score,
    /// Deny the request (403) and add to the score.
    Block,
}

impl FromStr for BotAction {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, ConfigError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "off" | "false" | "no" => Ok(BotAction::Off),
            "score" => Ok(BotAction::Score),
            "block" | "deny" | "true" | "yes" => Ok(BotAction::Block),
            _ => Err(ConfigError::new(
                "bot action",
                s,
                "expected `block`, `score` or `off`",
            )),
        }
    }
}

/// Which bot signal fired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BotFinding {
    /// A scanner's user agent (the tool's name).
    ScannerUserAgent(&'static str),
    /// A header only a scanner sends: `(tool, header)`.
    ScannerHeader(&'static str, &'static str),
    /// A built-in probe path (the matched segment name).
    Probe(&'static str),
    /// A configured extra probe pattern.
    ExtraProbe(Arc<str>),
    /// Missing or empty user agent.
    EmptyUserAgent,
    /// Control characters or oversize user agent.
    MalformedUserAgent,
}

impl BotFinding {
    /// Stable rule name for audit events.
    pub fn rule(&self) -> &str {
        match self {
            BotFinding::ScannerUserAgent(t) | BotFinding::ScannerHeader(t, _) => t,
            BotFinding::Probe(p) => p,
            BotFinding::ExtraProbe(p) => p,
            BotFinding::EmptyUserAgent => "empty-user-agent",
            BotFinding::MalformedUserAgent => "malformed-user-agent",
        }
    }
}

impl fmt::Display for BotFinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BotFinding::ScannerUserAgent(t) => write!(f, "scanner user agent ({t})"),
            BotFinding::ScannerHeader(t, h) => write!(f, "scanner header `{h}` ({t})"),
            BotFinding::Probe(p) => write!(f, "probe for `{p}`"),
            BotFinding::ExtraProbe(p) => write!(f, "probe matching `{p}`"),
            BotFinding::EmptyUserAgent => f.write_str("empty user agent"),
            BotFinding::MalformedUserAgent => f.write_str("malformed user agent"),
        }
    }
}

/// Bot-signal settings.
#[derive(Debug, Clone)]
pub struct BotPolicy {
    /// Scanner user agents and headers.
    pub scanners: BotAction,
    /// Probe paths (built-in list plus `extra_probe_paths`).
    pub probes: BotAction,
    /// Missing/empty user agent (off by default: health checks and API clients often send none).
    pub empty_user_agent: BotAction,
    /// Control characters or oversize user agent.
    pub malformed_user_agent: BotAction,
    /// More probe patterns, e.g. `/old-admin/**`.
    pub extra_probe_paths: Vec<PathPattern>,
}

impl Default for BotPolicy {
    fn default() -> Self {
        BotPolicy {
            scanners: BotAction::Block,
            probes: BotAction::Block,
            empty_user_agent: BotAction::Off,
            malformed_user_agent: BotAction::Block,
            extra_probe_paths: Vec::new(),
        }
    }
}

/// Outcome of the bot checks for one request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BotVerdict {
    /// The first signal whose action is `Block`.
    pub block: Option<BotFinding>,
    /// Sum of the scores of every signal that is not off.
    pub score: u32,
}

/// Compiled bot checks.
#[derive(Debug, Clone)]
pub struct BotDetector {
    policy: BotPolicy,
    scanners: ScannerUserAgents,
    extra: Vec<(PathPattern, Arc<str>)>,
}

impl BotDetector {
    /// Compiles a policy.
    pub fn new(policy: BotPolicy) -> Self {
        let extra = policy
            .extra_probe_paths
            .iter()
            .map(|p| (p.clone(), Arc::from(p.as_str())))
            .collect();
        BotDetector {
            policy,
            scanners: ScannerUserAgents::new(),
            extra,
        }
    }

    /// The policy in force.
    pub fn policy(&self) -> &BotPolicy {
        &self.policy
    }

    /// Runs every enabled signal.
    pub fn inspect(
        &self,
        user_agent: Option<&[u8]>,
        path: &[u8],
        headers: &dyn HeaderLookup,
    ) -> BotVerdict {
        let mut verdict = BotVerdict::default();
        let mut note = |action: BotAction, score: u32, finding: BotFinding| {
            if action == BotAction::Off {
                return;
            }
            verdict.score = verdict.score.saturating_add(score);
            if action == BotAction::Block && verdict.block.is_none() {
                verdict.block = Some(finding);
            }
        };
        if self.policy.scanners != BotAction::Off {
            if let Some(tool) = user_agent.and_then(|ua| self.scanners.detect(ua)) {
                note(
                    self.policy.scanners,
                    SCANNER_SCORE,
                    BotFinding::ScannerUserAgent(tool),
                );
            } else if let Some((tool, header)) = SCANNER_HEADERS
                .iter()
                .find(|(_, h)| headers.header(h).is_some())
            {
                note(
                    self.policy.scanners,
                    SCANNER_SCORE,
                    BotFinding::ScannerHeader(tool, header),
                );
            }
        }
        if self.policy.probes != BotAction::Off {
            if let Some(p) = probe_paths::probe_in_path(path) {
                note(self.policy.probes, PROBE_SCORE, BotFinding::Probe(p));
            } else if let Some((_, name)) = self.extra.iter().find(|(p, _)| p.matches(path)) {
                note(
                    self.policy.probes,
                    PROBE_SCORE,
                    BotFinding::ExtraProbe(name.clone()),
                );
            }
        }
        match user_agent_shape::classify(user_agent) {
            UserAgentShape::Normal => {}
            UserAgentShape::Empty => note(
                self.policy.empty_user_agent,
                EMPTY_USER_AGENT_SCORE,
                BotFinding::EmptyUserAgent,
            ),
            UserAgentShape::Malformed => note(
                self.policy.malformed_user_agent,
                MALFORMED_USER_AGENT_SCORE,
                BotFinding::MalformedUserAgent,
            ),
        }
        verdict
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::request::NoHeaders;

    #[test]
    fn scanner_blocks_with_tool_name() {
        let d = BotDetector::new(BotPolicy::default());
        let v = d.inspect(Some(b"sqlmap/1.7"), b"/", &NoHeaders);
        assert_eq!(v.block, Some(BotFinding::ScannerUserAgent("sqlmap")));
        assert_eq!(v.score, SCANNER_SCORE);
    }

    #[test]
    fn scanner_header_detected() {
        let d = BotDetector::new(BotPolicy::default());
        let headers: &[(&str, &[u8])] = &[("Acunetix-Product", b"WVS/10")];
        let v = d.inspect(Some(b"Mozilla/5.0"), b"/", &headers);
        assert_eq!(
            v.block,
            Some(BotFinding::ScannerHeader("acunetix", "acunetix-product"))
        );
    }

    #[test]
    fn probe_score_only_mode() {
        let policy = BotPolicy {
            probes: BotAction::Score,
            ..BotPolicy::default()
        };
        let d = BotDetector::new(policy);
        let v = d.inspect(Some(b"Mozilla/5.0"), b"/.git/config", &NoHeaders);
        assert_eq!(v.block, None);
        assert_eq!(v.score, PROBE_SCORE);
    }

    #[test]
    fn extra_probe_patterns_and_off() {
        let policy = BotPolicy {
            extra_probe_paths: vec![PathPattern::parse("/old-admin/**").unwrap()],
            ..BotPolicy::default()
        };
        let d = BotDetector::new(policy);
        let v = d.inspect(Some(b"Mozilla/5.0"), b"/old-admin/x", &NoHeaders);
        assert_eq!(
            v.block,
            Some(BotFinding::ExtraProbe("/old-admin/**".into()))
        );
        let off = BotDetector::new(BotPolicy {
            probes: BotAction::Off,
            scanners: BotAction::Off,
            ..BotPolicy::default()
        });
        let v = off.inspect(Some(b"nikto"), b"/.env", &NoHeaders);
        assert_eq!(v, BotVerdict::default());
    }

    #[test]
    fn user_agent_shapes_follow_policy() {
        let d = BotDetector::new(BotPolicy::default());
        assert_eq!(d.inspect(None, b"/", &NoHeaders), BotVerdict::default());
        let v = d.inspect(Some(b"x\x01y"), b"/", &NoHeaders);
        assert_eq!(v.block, Some(BotFinding::MalformedUserAgent));
        let strict = BotDetector::new(BotPolicy {
            empty_user_agent: BotAction::Block,
            ..BotPolicy::default()
        });
        assert_eq!(
            strict.inspect(Some(b""), b"/", &NoHeaders).block,
            Some(BotFinding::EmptyUserAgent)
        );
    }

    #[test]
    fn clean_request_passes() {
        let d = BotDetector::new(BotPolicy::default());
        let v = d.inspect(
            Some(b"Mozilla/5.0 (X11; Linux x86_64)"),
            b"/api/patients",
            &NoHeaders,
        );
        assert_eq!(v, BotVerdict::default());
    }

    #[test]
    fn action_parse() {
        assert_eq!("Block".parse::<BotAction>().unwrap(), BotAction::Block);
        let e = "ban".parse::<BotAction>().unwrap_err();
        assert!(e.to_string().contains("`ban`") && e.to_string().contains("score"));
    }
}
