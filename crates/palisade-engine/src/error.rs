//! Rule and configuration errors that point at the source, line and rule.

use std::fmt;

/// An error in a ruleset, a user rule or an exclusion: where it is, which rule or key, and what is
/// wrong. Display form: `rulesets/sqli.yml:12:7: rule 240100: key 'regex': <message>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    /// The source name (`rulesets/sqli.yml`, `palisade.yml`).
    pub source: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column, when known.
    pub column: Option<usize>,
    /// The rule id concerned, when known.
    pub rule_id: Option<u32>,
    /// The YAML key concerned, when known.
    pub key: Option<String>,
    /// What is wrong and what is allowed.
    pub message: String,
}

impl RuleError {
    pub(crate) fn new(source: &str, message: impl Into<String>) -> Self {
        RuleError {
            source: source.to_string(),
            line: None,
            column: None,
            rule_id: None,
            key: None,
            message: message.into(),
        }
    }

    pub(crate) fn from_yaml(source: &str, err: &serde_yaml::Error) -> Self {
        let mut e = RuleError::new(source, err.to_string());
        if let Some(loc) = err.location() {
            e.line = Some(loc.line());
            e.column = Some(loc.column());
        }
        e
    }

    pub(crate) fn rule(mut self, id: u32) -> Self {
        self.rule_id = Some(id);
        self
    }

    pub(crate) fn key(mut self, key: &str) -> Self {
        self.key = Some(key.to_string());
        self
    }

    pub(crate) fn at_line(mut self, line: Option<usize>) -> Self {
        if self.line.is_none() {
            self.line = line;
        }
        self
    }
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.source)?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
            if let Some(c) = self.column {
                write!(f, ":{c}")?;
            }
        }
        write!(f, ": ")?;
        if let Some(id) = self.rule_id {
            write!(f, "rule {id}: ")?;
        }
        if let Some(k) = &self.key {
            write!(f, "key '{k}': ")?;
        }
        write!(f, "{}", self.message)
    }
}

impl std::error::Error for RuleError {}

/// 1-based line of the first `id: <id>` in a YAML text (semantic errors have no serde location).
pub(crate) fn line_of_rule_id(text: &str, id: u32) -> Option<usize> {
    let want = id.to_string();
    text.lines()
        .position(|l| {
            let t = l.trim_start().trim_start_matches("- ").trim_start();
            t.strip_prefix("id:")
                .is_some_and(|rest| rest.trim().trim_matches(['"', '\'']) == want)
        })
        .map(|p| p + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_has_all_parts() {
        let e = RuleError {
            source: "palisade.yml".into(),
            line: Some(4),
            column: Some(7),
            rule_id: Some(900001),
            key: Some("regex".into()),
            message: "bad".into(),
        };
        assert_eq!(
            e.to_string(),
            "palisade.yml:4:7: rule 900001: key 'regex': bad"
        );
    }

    #[test]
    fn finds_rule_line() {
        let t = "rules:\n  - id: 5\n    x: 1\n  - id: 900001\n";
        assert_eq!(line_of_rule_id(t, 900001), Some(4));
        assert_eq!(line_of_rule_id(t, 7), None);
    }
}
