//! `palisade.yml`: parsed once, queried by dotted key, with line numbers for error messages.

use std::path::Path;

use serde_yaml::Value;

use crate::{settings, ConfigError, Source};

/// Top-level sections that other crates read from the same file (their own validation and line
/// numbers): user rules and exclusions belong to the engine, `access` to the access-control crate.
pub const OWNED_SECTIONS: &[&str] = &["rules", "exclusions", "access"];

/// A parsed `palisade.yml`.
#[derive(Debug, Clone)]
pub struct ConfigFile {
    path: String,
    text: String,
    root: Value,
}

impl ConfigFile {
    /// Parses the file and refuses unknown top-level keys (a typo must not silently drop a
    /// protection the user asked for).
    pub fn parse(path: &Path, text: &str) -> Result<ConfigFile, ConfigError> {
        let path_s = path.display().to_string();
        let root: Value = serde_yaml::from_str(text).map_err(|e| ConfigError::File {
            path: path_s.clone(),
            message: e.to_string(),
        })?;
        let file = ConfigFile {
            path: path_s,
            text: text.to_string(),
            root,
        };
        match &file.root {
            Value::Null => {}
            Value::Mapping(map) => {
                for k in map.keys() {
                    let name = k.as_str().unwrap_or_default();
                    let known = settings::ALL
                        .iter()
                        .any(|s| !s.key.is_empty() && s.key.split('.').next() == Some(name))
                        || OWNED_SECTIONS.contains(&name);
                    if !known {
                        let mut keys: Vec<&str> = settings::ALL
                            .iter()
                            .filter(|s| !s.key.is_empty())
                            .map(|s| s.key.split('.').next().unwrap_or(s.key))
                            .chain(OWNED_SECTIONS.iter().copied())
                            .collect();
                        keys.sort_unstable();
                        keys.dedup();
                        return Err(ConfigError::File {
                            path: file.path.clone(),
                            message: format!(
                                "unknown key `{}` at line {}; known keys: {}",
                                name,
                                file.line_of(name).unwrap_or(0),
                                keys.join(", ")
                            ),
                        });
                    }
                }
            }
            _ => {
                return Err(ConfigError::File {
                    path: file.path.clone(),
                    message: "the file must be a mapping of `key: value` lines".into(),
                })
            }
        }
        Ok(file)
    }

    /// The scalar at a dotted key, as text; `None` when absent or null.
    pub fn scalar(&self, key: &str) -> Result<Option<String>, ConfigError> {
        let mut v = &self.root;
        for part in key.split('.') {
            match v.get(part) {
                Some(next) => v = next,
                None => return Ok(None),
            }
        }
        match v {
            Value::Null => Ok(None),
            Value::Bool(b) => Ok(Some(b.to_string())),
            Value::Number(n) => Ok(Some(n.to_string())),
            Value::String(s) => Ok(Some(s.clone())),
            _ => Err(ConfigError::Invalid {
                source: self.source(key),
                value: serde_yaml::to_string(v)
                    .unwrap_or_default()
                    .trim()
                    .to_string(),
                allowed: "a single value, not a list or mapping".into(),
            }),
        }
    }

    /// The raw value at a top-level section, for crates that parse their own sections.
    pub fn section(&self, name: &str) -> Option<&Value> {
        self.root.get(name)
    }

    /// The file's text (for parsers that report their own line numbers).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The source label for a key, including its line when it can be found.
    pub fn source(&self, key: &str) -> Source {
        Source::File {
            path: self.path.clone(),
            key: key.to_string(),
            line: self.line_of(key),
        }
    }

    /// 1-based line of a dotted key: each part must appear as `part:` indented deeper than its
    /// parent.
    fn line_of(&self, key: &str) -> Option<usize> {
        let mut parts = key.split('.').peekable();
        let mut min_indent = 0usize;
        let mut want = parts.next()?;
        for (i, line) in self.text.lines().enumerate() {
            let trimmed = line.trim_start();
            let indent = line.len() - trimmed.len();
            if indent < min_indent || trimmed.starts_with('#') {
                continue;
            }
            let bare = trimmed.trim_start_matches("- ");
            let matches = bare
                .strip_prefix(want)
                .is_some_and(|rest| rest.trim_start().starts_with(':'))
                || bare
                    .strip_prefix(&format!("\"{want}\""))
                    .is_some_and(|rest| rest.trim_start().starts_with(':'));
            if matches {
                match parts.next() {
                    Some(next) => {
                        want = next;
                        min_indent = indent + 1;
                    }
                    None => return Some(i + 1),
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn unknown_key_is_refused_with_line() {
        let e = ConfigFile::parse(Path::new("p.yml"), "mode: block\nparanoai: 2\n").unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("unknown key `paranoai` at line 2"), "{msg}");
        assert!(msg.contains("paranoia"), "{msg}");
    }

    #[test]
    fn syntax_error_has_a_line() {
        let e = ConfigFile::parse(Path::new("p.yml"), "mode: [block\n").unwrap_err();
        assert!(e.to_string().contains("line"), "{e}");
    }

    #[test]
    fn nested_line_lookup() {
        let f = ConfigFile::parse(Path::new("p.yml"), "mode: block\nrules:\n  - id: 1\n").unwrap();
        assert_eq!(f.line_of("rules"), Some(2));
        assert_eq!(f.scalar("mode").unwrap().as_deref(), Some("block"));
        assert!(f.scalar("rules").is_err());
    }
}
