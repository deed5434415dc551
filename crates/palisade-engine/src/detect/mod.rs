//! Syntax-confirmed detectors (`detector:` in a rule). The engine talks to them through this
//! module only, so the implementation (the `palisade-detect` crate) can change without touching
//! the matcher.

use std::ops::Range;

/// A detector a rule can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DetectorKind {
    /// SQL injection.
    Sqli,
    /// Cross-site scripting.
    Xss,
    /// OS command injection.
    Shell,
}

impl DetectorKind {
    /// Names accepted in YAML.
    pub const NAMES: &'static [&'static str] = &["sqli", "xss", "shell"];

    /// Parses a YAML name.
    pub fn from_name(s: &str) -> Option<DetectorKind> {
        match s {
            "sqli" => Some(DetectorKind::Sqli),
            "xss" => Some(DetectorKind::Xss),
            "shell" => Some(DetectorKind::Shell),
            _ => None,
        }
    }
}

/// What a detector found: the check that fired and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Stable name of the check, e.g. `sqli:union-select`.
    pub fingerprint: &'static str,
    /// Byte range in the inspected value.
    pub span: Range<usize>,
}

/// Runs a detector on a decoded value.
pub fn run(kind: DetectorKind, input: &str) -> Option<Finding> {
    let d = match kind {
        DetectorKind::Sqli => palisade_detect::sqli(input),
        DetectorKind::Xss => palisade_detect::xss(input),
        DetectorKind::Shell => palisade_detect::shell(input),
    }?;
    Some(Finding {
        fingerprint: d.fingerprint,
        span: d.span,
    })
}
