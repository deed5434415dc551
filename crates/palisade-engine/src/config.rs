//! Engine settings. Every default is a named constant; [`EngineConfig::default`] is the safe
//! configuration (paranoia 1, block at one critical hit).

use crate::error::RuleError;

/// Default paranoia level: rules that are precise enough for every site.
pub const DEFAULT_PARANOIA: u8 = 1;
/// Default blocking threshold: one critical (score 5) rule hit, or two weaker signals that add up.
pub const DEFAULT_ANOMALY_THRESHOLD: u32 = 5;
/// Default cap on inspected body bytes (the proxy buffers at most this much).
pub const DEFAULT_MAX_INSPECT_BODY: usize = 1024 * 1024;
/// Default: multipart file contents are not inspected (only their names and the form fields).
pub const DEFAULT_INSPECT_FILE_CONTENTS: bool = false;
/// Default cap on leaves per request; beyond it a `leaf_limit` signal fires.
pub const DEFAULT_MAX_LEAVES: usize = 10_000;
/// Default cap on inspected bytes per leaf.
pub const DEFAULT_MAX_LEAF_LEN: usize = 1024 * 1024;
/// Default JSON / XML nesting limit.
pub const DEFAULT_MAX_DEPTH: usize = 64;
/// Most hits recorded in one verdict (the score still counts every rule).
pub const MAX_HITS: usize = 64;

/// Engine settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineConfig {
    /// Paranoia level 1–4: rules above it are not compiled in.
    pub paranoia: u8,
    /// A request whose anomaly score reaches this is blocked.
    pub anomaly_threshold: u32,
    /// Body bytes inspected; the rest is ignored (the proxy enforces its own size limit).
    pub max_inspect_body: usize,
    /// Inspect multipart file contents (as text) in addition to file names.
    pub inspect_file_contents: bool,
    /// Leaves inspected per request.
    pub max_leaves: usize,
    /// Bytes inspected per leaf.
    pub max_leaf_len: usize,
    /// JSON and XML nesting limit.
    pub max_depth: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            paranoia: DEFAULT_PARANOIA,
            anomaly_threshold: DEFAULT_ANOMALY_THRESHOLD,
            max_inspect_body: DEFAULT_MAX_INSPECT_BODY,
            inspect_file_contents: DEFAULT_INSPECT_FILE_CONTENTS,
            max_leaves: DEFAULT_MAX_LEAVES,
            max_leaf_len: DEFAULT_MAX_LEAF_LEN,
            max_depth: DEFAULT_MAX_DEPTH,
        }
    }
}

impl EngineConfig {
    /// Checks ranges; the error names the setting, the value and what is allowed.
    pub fn validate(&self) -> Result<(), RuleError> {
        let bad = |key: &str, msg: String| Err(RuleError::new("engine config", msg).key(key));
        if !(1..=4).contains(&self.paranoia) {
            return bad(
                "paranoia",
                format!("{} is out of range; allowed: 1 to 4", self.paranoia),
            );
        }
        if self.anomaly_threshold == 0 {
            return bad(
                "anomaly_threshold",
                "0 would block every request; allowed: 1 or more".into(),
            );
        }
        if self.max_leaves == 0 || self.max_leaf_len == 0 || self.max_depth == 0 {
            return bad("max_leaves", "limits must be at least 1".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid_and_named() {
        let c = EngineConfig::default();
        assert_eq!(c.paranoia, DEFAULT_PARANOIA);
        assert_eq!(c.anomaly_threshold, DEFAULT_ANOMALY_THRESHOLD);
        assert!(c.validate().is_ok());
    }

    #[test]
    fn bad_paranoia_named() {
        let c = EngineConfig {
            paranoia: 9,
            ..EngineConfig::default()
        };
        let e = c
            .validate()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("paranoia") && e.contains('9'), "{e}");
    }
}
