//! The rule format (YAML), its validation, and the compiled rule.
//!
//! A ruleset file has an optional `defaults:` block that every rule inherits and a `rules:` list.
//! See `docs/rules.md` for the format with examples.

use std::borrow::Cow;

use regex::bytes::{Regex, RegexBuilder};
use serde::Deserialize;

use crate::detect::DetectorKind;
use crate::error::{line_of_rule_id, RuleError};
use crate::leaf::{FieldKind, Location, ARGS_MASK};
use crate::signal::Signal;
use crate::transform::Transform;

/// A named ruleset text (YAML). Embedded rulesets are `'static`; bundles loaded at runtime own
/// their text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSource {
    /// Name shown in errors, e.g. `rulesets/sqli.yml`.
    pub name: Cow<'static, str>,
    /// The YAML text.
    pub yaml: Cow<'static, str>,
}

impl RuleSource {
    /// A source owning its name and text (rules loaded at runtime).
    pub fn new(name: impl Into<String>, yaml: impl Into<String>) -> Self {
        RuleSource {
            name: Cow::Owned(name.into()),
            yaml: Cow::Owned(yaml.into()),
        }
    }
}

/// Highest paranoia level.
pub const MAX_PARANOIA: u8 = 4;
/// Largest score a single rule may add.
pub const MAX_RULE_SCORE: u32 = 100;
/// Largest compiled regex program, per rule (bytes); keeps compile time and memory bounded.
pub const REGEX_SIZE_LIMIT: usize = 2 * 1024 * 1024;

/// One rule as written in YAML. Fields left out inherit the file's `defaults:`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleDef {
    /// Unique numeric id.
    pub id: Option<u32>,
    /// Human-readable description.
    #[serde(default)]
    pub name: Option<String>,
    /// Attack class, e.g. `sqli`.
    #[serde(default)]
    pub category: Option<String>,
    /// Paranoia level 1–4 at which the rule is active.
    #[serde(default)]
    pub paranoia: Option<u8>,
    /// Anomaly score added when the rule fires.
    #[serde(default)]
    pub score: Option<u32>,
    /// Where to look (`args`, `path`, `headers:user-agent`, …).
    #[serde(default)]
    pub targets: Option<Vec<String>>,
    /// Transform pipeline, in order.
    #[serde(default)]
    pub transforms: Option<Vec<String>>,
    /// Field kinds to skip (`url`, `narrative`, `free_text`, `scope`, `generic`).
    #[serde(default)]
    pub skip_fields: Option<Vec<String>>,
    /// Literals (case-insensitive); any hit selects the rule as a candidate.
    #[serde(default)]
    pub literals: Option<Vec<String>>,
    /// When true, a literal that begins with a word byte (ASCII letter, digit or `_`) counts
    /// only where it starts a word: `or` in `' or 1=1` selects the rule, `or` in `reports`
    /// does not. For rules whose regex only ever matches such literals at a word start.
    #[serde(default)]
    pub literals_start_words: Option<bool>,
    /// Confirmation regex (`regex` crate syntax; case-insensitive).
    #[serde(default)]
    pub regex: Option<String>,
    /// Veto regex: when it matches, the rule does not fire.
    #[serde(default)]
    pub unless: Option<String>,
    /// Detector to run: `sqli`, `xss` or `shell`.
    #[serde(default)]
    pub detector: Option<String>,
    /// Signal to match instead of a pattern (see `docs/rules.md`).
    #[serde(default)]
    pub signal: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    #[serde(default)]
    #[allow(dead_code)]
    ruleset: Option<String>,
    #[serde(default)]
    defaults: RuleDef,
    #[serde(default)]
    rules: Vec<RuleDef>,
}

/// Where a rule looks.
#[derive(Debug, Clone, Default)]
pub(crate) struct TargetSpec {
    pub mask: u32,
    pub all_headers: bool,
    pub header_names: Vec<String>,
}

impl TargetSpec {
    pub(crate) fn matches(&self, location: Location, name: &str) -> bool {
        if self.mask & location.bit() == 0 {
            return false;
        }
        if location == Location::Header && !self.all_headers {
            return self.header_names.iter().any(|h| h == name);
        }
        true
    }
}

/// How a rule matches.
#[derive(Debug, Clone)]
pub(crate) enum Matcher {
    Pattern {
        literals: Vec<String>,
        regex: Option<Regex>,
        unless: Option<Regex>,
        detector: Option<DetectorKind>,
    },
    Signal(Signal),
}

/// A validated rule.
#[derive(Debug, Clone)]
pub(crate) struct Rule {
    pub id: u32,
    pub name: String,
    pub category: String,
    pub paranoia: u8,
    pub score: u32,
    pub targets: TargetSpec,
    pub transforms: Vec<Transform>,
    pub field_mask: u8,
    pub matcher: Matcher,
    /// Literals that begin with a word byte count only at a word start (`literals_start_words`).
    pub literals_start_words: bool,
}

/// Target names accepted in `targets:`.
pub const TARGET_NAMES: &[&str] = &[
    "args",
    "query",
    "form",
    "json",
    "xml",
    "multipart",
    "hl7",
    "args_names",
    "path",
    "method",
    "headers",
    "headers:<name>",
    "cookies",
    "cookie_names",
    "filenames",
    "body",
];

fn parse_targets(list: &[String]) -> Result<TargetSpec, String> {
    let mut t = TargetSpec::default();
    for raw in list {
        let s = raw.trim();
        if let Some(h) = s.strip_prefix("headers:") {
            if h.is_empty() {
                return Err("'headers:' needs a header name".into());
            }
            t.mask |= Location::Header.bit();
            t.header_names.push(h.to_ascii_lowercase());
            continue;
        }
        t.mask |= match s {
            "args" => ARGS_MASK,
            "query" => Location::Query.bit(),
            "form" => Location::Form.bit(),
            "json" => Location::Json.bit(),
            "xml" => Location::Xml.bit(),
            "multipart" => Location::Multipart.bit(),
            "hl7" => Location::Hl7.bit(),
            "args_names" => Location::ArgName.bit(),
            "path" => Location::Path.bit(),
            "method" => Location::Method.bit(),
            "headers" => {
                t.all_headers = true;
                Location::Header.bit()
            }
            "cookies" => Location::Cookie.bit(),
            "cookie_names" => Location::CookieName.bit(),
            "filenames" => Location::Filename.bit(),
            "body" => Location::Body.bit(),
            other => {
                return Err(format!(
                    "unknown target '{other}'; allowed: {}",
                    TARGET_NAMES.join(", ")
                ))
            }
        };
    }
    if t.mask == 0 {
        return Err("at least one target is required".into());
    }
    Ok(t)
}

fn build_regex(pattern: &str) -> Result<Regex, String> {
    RegexBuilder::new(pattern)
        .case_insensitive(true)
        .unicode(false)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| format!("invalid regex: {e}"))
}

fn is_category(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 32
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// Merges a rule with its file's defaults and validates it.
pub(crate) fn validate(
    def: &RuleDef,
    defaults: &RuleDef,
    source: &str,
    text: &str,
) -> Result<Rule, RuleError> {
    let Some(id) = def.id else {
        return Err(RuleError::new(source, "a rule has no 'id'").key("id"));
    };
    let err = |key: &str, msg: String| {
        RuleError::new(source, msg)
            .rule(id)
            .key(key)
            .at_line(line_of_rule_id(text, id))
    };
    let category = def
        .category
        .clone()
        .or_else(|| defaults.category.clone())
        .ok_or_else(|| err("category", "missing; e.g. 'sqli', 'xss', 'lfi'".into()))?;
    if !is_category(&category) {
        return Err(err(
            "category",
            format!("'{category}' is not a category name (lowercase letters, digits, '_' or '-', ≤ 32 chars)"),
        ));
    }
    let paranoia = def.paranoia.or(defaults.paranoia).unwrap_or(1);
    if !(1..=MAX_PARANOIA).contains(&paranoia) {
        return Err(err(
            "paranoia",
            format!("{paranoia} is out of range; allowed: 1 to {MAX_PARANOIA}"),
        ));
    }
    let score = def.score.or(defaults.score).unwrap_or(5);
    if score > MAX_RULE_SCORE {
        return Err(err(
            "score",
            format!("{score} is too large; allowed: 0 to {MAX_RULE_SCORE}"),
        ));
    }
    let transforms = def
        .transforms
        .as_ref()
        .or(defaults.transforms.as_ref())
        .map(|list| {
            list.iter()
                .map(|n| {
                    Transform::from_name(n).ok_or_else(|| {
                        let all: Vec<&str> = Transform::ALL.iter().map(|t| t.name()).collect();
                        err(
                            "transforms",
                            format!("unknown transform '{n}'; allowed: {}", all.join(", ")),
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?
        .unwrap_or_default();
    let mut field_mask: u8 = 0xff;
    if let Some(skips) = def.skip_fields.as_ref().or(defaults.skip_fields.as_ref()) {
        for s in skips {
            let k = FieldKind::from_name(s).ok_or_else(|| {
                err(
                    "skip_fields",
                    format!("unknown field kind '{s}'; allowed: generic, url, redirect, narrative, free_text, scope"),
                )
            })?;
            field_mask &= !k.bit();
            if k == FieldKind::Url {
                field_mask &= !FieldKind::Redirect.bit();
            }
        }
    }
    let name = def.name.clone().unwrap_or_default();
    let signal = def.signal.as_deref();
    let matcher = if let Some(sig) = signal {
        if def.regex.is_some() || def.literals.is_some() || def.detector.is_some() {
            return Err(err(
                "signal",
                "a signal rule cannot also have literals, regex or detector".into(),
            ));
        }
        let s = Signal::from_name(sig).ok_or_else(|| {
            let all: Vec<&str> = Signal::ALL.iter().map(|s| s.name()).collect();
            err(
                "signal",
                format!("unknown signal '{sig}'; allowed: {}", all.join(", ")),
            )
        })?;
        Matcher::Signal(s)
    } else {
        let literals: Vec<String> = def.literals.clone().unwrap_or_default();
        if literals.iter().any(String::is_empty) {
            return Err(err(
                "literals",
                "empty literal (it would match everything)".into(),
            ));
        }
        let regex = def
            .regex
            .as_deref()
            .map(build_regex)
            .transpose()
            .map_err(|m| err("regex", m))?;
        let unless = def
            .unless
            .as_deref()
            .map(build_regex)
            .transpose()
            .map_err(|m| err("unless", m))?;
        let detector = def
            .detector
            .as_deref()
            .map(|d| {
                DetectorKind::from_name(d).ok_or_else(|| {
                    err(
                        "detector",
                        format!(
                            "unknown detector '{d}'; allowed: {}",
                            DetectorKind::NAMES.join(", ")
                        ),
                    )
                })
            })
            .transpose()?;
        if def.literals_start_words.is_some() && literals.is_empty() {
            return Err(err(
                "literals_start_words",
                "applies to literals, and this rule has none".into(),
            ));
        }
        if literals.is_empty() && regex.is_none() && detector.is_none() {
            return Err(err(
                "literals",
                "a rule needs literals, a regex, a detector or a signal".into(),
            ));
        }
        Matcher::Pattern {
            literals,
            regex,
            unless,
            detector,
        }
    };
    let targets = match &matcher {
        // Signals carry their own location; targets are not used.
        Matcher::Signal(_) => TargetSpec {
            mask: u32::MAX,
            all_headers: true,
            header_names: Vec::new(),
        },
        Matcher::Pattern { .. } => {
            let list = def
                .targets
                .as_ref()
                .or(defaults.targets.as_ref())
                .ok_or_else(|| {
                    err(
                        "targets",
                        format!("missing; allowed: {}", TARGET_NAMES.join(", ")),
                    )
                })?;
            parse_targets(list).map_err(|m| err("targets", m))?
        }
    };
    Ok(Rule {
        id,
        name,
        category,
        paranoia,
        score,
        targets,
        transforms,
        field_mask,
        matcher,
        literals_start_words: def
            .literals_start_words
            .or(defaults.literals_start_words)
            .unwrap_or(false),
    })
}

/// Parses and validates one ruleset file.
pub(crate) fn parse_source(source: &str, text: &str) -> Result<Vec<Rule>, RuleError> {
    let file: RuleFile =
        serde_yaml::from_str(text).map_err(|e| RuleError::from_yaml(source, &e))?;
    file.rules
        .iter()
        .map(|d| validate(d, &file.defaults, source, text))
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn defaults_are_inherited() {
        let y = "defaults:\n  category: sqli\n  targets: [args]\n  transforms: [url_decode]\nrules:\n  - id: 1\n    literals: [union]\n";
        let r = parse_source("t.yml", y).unwrap();
        assert_eq!(r[0].category, "sqli");
        assert_eq!(r[0].transforms, vec![Transform::UrlDecode]);
        assert_eq!(r[0].paranoia, 1);
    }

    #[test]
    fn bad_regex_points_at_rule_line() {
        let y = "rules:\n  - id: 7\n    category: x\n    targets: [args]\n    regex: '('\n";
        let e = parse_source("t.yml", y).unwrap_err();
        assert_eq!(e.rule_id, Some(7));
        assert_eq!(e.key.as_deref(), Some("regex"));
        assert_eq!(e.line, Some(2));
    }

    #[test]
    fn unknown_key_has_yaml_location() {
        let y = "rules:\n  - id: 7\n    categori: x\n";
        let e = parse_source("t.yml", y).unwrap_err();
        assert_eq!(e.line, Some(3));
        assert!(e.message.contains("categori"), "{e}");
    }

    #[test]
    fn unknown_target_and_transform_rejected() {
        let y = "rules:\n  - id: 7\n    category: x\n    targets: [argz]\n    literals: [a]\n";
        assert!(parse_source("t.yml", y)
            .unwrap_err()
            .message
            .contains("argz"));
        let y = "rules:\n  - id: 7\n    category: x\n    targets: [args]\n    transforms: [rot13]\n    literals: [a]\n";
        assert!(parse_source("t.yml", y)
            .unwrap_err()
            .message
            .contains("rot13"));
    }

    #[test]
    fn paranoia_range_checked() {
        let y = "rules:\n  - id: 7\n    category: x\n    paranoia: 5\n    targets: [args]\n    literals: [a]\n";
        let e = parse_source("t.yml", y).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("paranoia"));
    }

    #[test]
    fn header_targets() {
        let t = parse_targets(&["headers:User-Agent".to_string()]).unwrap();
        assert!(t.matches(Location::Header, "user-agent"));
        assert!(!t.matches(Location::Header, "referer"));
        assert!(!t.matches(Location::Query, "q"));
    }
}
