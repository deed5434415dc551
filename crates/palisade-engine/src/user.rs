//! User rules and exclusions from the `rules:` and `exclusions:` keys of `palisade.yml`.
//! Other top-level keys belong to the policy crate and are ignored here.

use serde::Deserialize;

use crate::error::{line_of_rule_id, RuleError};
use crate::rule::{validate, Rule, RuleDef};

/// Source name used in errors for user rules.
pub const USER_SOURCE: &str = "palisade.yml";
/// Lowest id a user rule may use (built-in rules stay below it).
pub const USER_RULE_ID_MIN: u32 = 900_000;

/// An exclusion as written in YAML.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExclusionDef {
    /// One rule id.
    #[serde(default)]
    pub rule: Option<u32>,
    /// Several rule ids.
    #[serde(default)]
    pub rules: Option<Vec<u32>>,
    /// Every rule of a category.
    #[serde(default)]
    pub category: Option<String>,
    /// Request path (exact, or a prefix when it ends in `*`).
    #[serde(default)]
    pub path: Option<String>,
    /// Methods (any when absent).
    #[serde(default)]
    pub methods: Option<Vec<String>>,
    /// Target names (exact, or a prefix when ending in `*`), e.g. `json:$.text.div`, `args:q`.
    #[serde(default)]
    pub targets: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
struct UserFile {
    #[serde(default)]
    rules: Option<Vec<RuleDef>>,
    #[serde(default)]
    exclusions: Option<Vec<ExclusionDef>>,
}

/// An exact-or-prefix (`*` suffix) pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Glob {
    Exact(String),
    Prefix(String),
}

impl Glob {
    fn parse(s: &str) -> Glob {
        match s.strip_suffix('*') {
            Some(p) => Glob::Prefix(p.to_string()),
            None => Glob::Exact(s.to_string()),
        }
    }

    pub(crate) fn matches(&self, s: &str) -> bool {
        match self {
            Glob::Exact(e) => e == s,
            Glob::Prefix(p) => s.starts_with(p.as_str()),
        }
    }
}

/// A validated exclusion.
#[derive(Debug, Clone)]
pub(crate) struct Exclusion {
    pub index: usize,
    pub line: Option<usize>,
    pub rule_ids: Vec<u32>,
    pub category: Option<String>,
    pub path: Option<Glob>,
    pub methods: Vec<String>,
    pub targets: Vec<Glob>,
}

impl Exclusion {
    /// True when it removes a rule for every request (no path, method or target scope).
    pub(crate) fn is_global(&self) -> bool {
        self.path.is_none() && self.methods.is_empty() && self.targets.is_empty()
    }

    pub(crate) fn covers_rule(&self, id: u32, category: &str) -> bool {
        self.rule_ids.contains(&id) || self.category.as_deref() == Some(category)
    }

    pub(crate) fn applies_to_request(&self, method: &str, path: &str) -> bool {
        self.path.as_ref().is_none_or(|p| p.matches(path)) && self.applies_to_method(method)
    }

    pub(crate) fn applies_to_method(&self, method: &str) -> bool {
        self.methods.is_empty() || self.methods.iter().any(|m| m.eq_ignore_ascii_case(method))
    }

    pub(crate) fn covers_target(&self, target: &str) -> bool {
        self.targets.is_empty() || self.targets.iter().any(|t| t.matches(target))
    }
}

/// User rules (virtual patches) and exclusions, validated.
#[derive(Debug, Clone, Default)]
pub struct UserRules {
    pub(crate) rules: Vec<Rule>,
    pub(crate) exclusions: Vec<Exclusion>,
}

/// 1-based line of the n-th list item under the top-level `exclusions:` key.
fn line_of_exclusion(text: &str, index: usize) -> Option<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.iter().position(|l| l.starts_with("exclusions:"))?;
    let mut seen = 0;
    for (i, l) in lines.iter().enumerate().skip(start + 1) {
        if !l.is_empty() && !l.starts_with([' ', '-', '#']) {
            break;
        }
        if l.trim_start().starts_with("- ") && l.len() - l.trim_start().len() <= 2 {
            if seen == index {
                return Some(i + 1);
            }
            seen += 1;
        }
    }
    None
}

impl UserRules {
    /// No user rules, no exclusions.
    pub fn empty() -> Self {
        UserRules::default()
    }

    /// Number of user rules.
    pub fn rule_count(&self) -> usize {
        self.rules.len()
    }

    /// Number of exclusions.
    pub fn exclusion_count(&self) -> usize {
        self.exclusions.len()
    }

    /// Reads the `rules:` and `exclusions:` keys of a whole `palisade.yml`; every other key is
    /// ignored. Errors carry the line (YAML errors from serde, semantic ones from the rule id or
    /// the exclusion's list position) and the key.
    pub fn from_palisade_yml(text: &str) -> Result<UserRules, RuleError> {
        let file: UserFile =
            serde_yaml::from_str(text).map_err(|e| RuleError::from_yaml(USER_SOURCE, &e))?;
        let mut out = UserRules::default();
        let defaults = RuleDef::default();
        for def in file.rules.unwrap_or_default() {
            let rule = validate(&def, &defaults, USER_SOURCE, text)?;
            if rule.id < USER_RULE_ID_MIN {
                return Err(RuleError::new(
                    USER_SOURCE,
                    format!("user rule ids must be {USER_RULE_ID_MIN} or more (built-in rules use lower ids)"),
                )
                .rule(rule.id)
                .key("id")
                .at_line(line_of_rule_id(text, rule.id)));
            }
            if out.rules.iter().any(|r| r.id == rule.id) {
                return Err(RuleError::new(USER_SOURCE, "duplicate rule id")
                    .rule(rule.id)
                    .key("id")
                    .at_line(line_of_rule_id(text, rule.id)));
            }
            out.rules.push(rule);
        }
        for (index, def) in file.exclusions.unwrap_or_default().into_iter().enumerate() {
            let line = line_of_exclusion(text, index);
            let err = |key: &str, msg: &str| {
                RuleError::new(USER_SOURCE, msg.to_string())
                    .key(&format!("exclusions[{index}].{key}"))
                    .at_line(line)
            };
            let mut rule_ids: Vec<u32> = def.rules.unwrap_or_default();
            rule_ids.extend(def.rule);
            if rule_ids.is_empty() && def.category.is_none() {
                return Err(err(
                    "rule",
                    "an exclusion needs 'rule', 'rules' or 'category'",
                ));
            }
            if let Some(p) = &def.path {
                if !p.starts_with('/') {
                    return Err(err(
                        "path",
                        "must start with '/' (exact path, or a prefix ending in '*')",
                    ));
                }
            }
            let methods = def.methods.unwrap_or_default();
            if let Some(m) = methods
                .iter()
                .find(|m| m.is_empty() || !m.bytes().all(|b| b.is_ascii_alphabetic()))
            {
                return Err(err("methods", &format!("'{m}' is not an HTTP method")));
            }
            let targets = def.targets.unwrap_or_default();
            if let Some(t) = targets.iter().find(|t| t.is_empty()) {
                return Err(err(
                    "targets",
                    &format!("'{t}' is empty; use e.g. 'args:q' or 'json:$.text.div'"),
                ));
            }
            out.exclusions.push(Exclusion {
                index,
                line,
                rule_ids,
                category: def.category,
                path: def.path.as_deref().map(Glob::parse),
                methods,
                targets: targets.iter().map(|t| Glob::parse(t)).collect(),
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const YML: &str = "\
mode: block
paranoia: 2
rules:
  - id: 900001
    category: virtual-patch
    targets: [args]
    literals: [\"/cgi-bin/evil\"]
exclusions:
  - rule: 230100
    path: /fhir/*
    methods: [POST, PUT]
    targets: [\"json:$.text.div\"]
  - category: sqli
    path: /search
";

    #[test]
    fn reads_rules_and_exclusions_ignores_other_keys() {
        let u = UserRules::from_palisade_yml(YML).unwrap();
        assert_eq!(u.rule_count(), 1);
        assert_eq!(u.exclusion_count(), 2);
        let e = &u.exclusions[0];
        assert!(e.applies_to_request("POST", "/fhir/Patient"));
        assert!(!e.applies_to_request("GET", "/fhir/Patient"));
        assert!(e.covers_target("json:$.text.div"));
        assert!(!e.covers_target("json:$.note"));
        assert!(u.exclusions[1].covers_rule(1, "sqli"));
    }

    #[test]
    fn empty_file_is_fine() {
        let u = UserRules::from_palisade_yml("mode: monitor\n").unwrap();
        assert_eq!(u.rule_count() + u.exclusion_count(), 0);
    }

    #[test]
    fn low_id_rejected_with_line() {
        let y = "rules:\n  - id: 100\n    category: x\n    targets: [args]\n    literals: [a]\n";
        let e = UserRules::from_palisade_yml(y).unwrap_err();
        assert_eq!((e.rule_id, e.line), (Some(100), Some(2)));
        assert!(e.to_string().contains("900000"), "{e}");
    }

    #[test]
    fn exclusion_errors_point_at_item() {
        let y = "exclusions:\n  - rule: 1\n    path: /a\n  - path: /b\n";
        let e = UserRules::from_palisade_yml(y).unwrap_err();
        assert_eq!(e.line, Some(4));
        assert_eq!(e.key.as_deref(), Some("exclusions[1].rule"));
        let y = "exclusions:\n  - rule: 1\n    path: nope\n";
        let e = UserRules::from_palisade_yml(y).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("exclusions[0].path"));
    }

    #[test]
    fn yaml_type_error_has_location() {
        let y = "exclusions:\n  - rule: abc\n";
        let e = UserRules::from_palisade_yml(y).unwrap_err();
        assert_eq!(e.line, Some(2));
    }
}
