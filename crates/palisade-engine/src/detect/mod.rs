//! Syntax-confirmed detectors (`detector:` in a rule). The engine talks to them through this
//! module only, so the implementation (the `palisade-detect` crate) can change without touching
//! the matcher.

use std::ops::Range;

use crate::memo::{Lookup, ValueMemo};

/// A detector a rule can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DetectorKind {
    /// SQL injection.
    Sqli,
    /// Cross-site scripting.
    Xss,
    /// OS command injection.
    Shell,
    /// A URL to a host inside the dyno's network (server-side request forgery).
    Ssrf,
}

impl DetectorKind {
    /// Names accepted in YAML.
    pub const NAMES: &'static [&'static str] = &["sqli", "xss", "shell", "ssrf"];

    /// Parses a YAML name.
    pub fn from_name(s: &str) -> Option<DetectorKind> {
        match s {
            "sqli" => Some(DetectorKind::Sqli),
            "xss" => Some(DetectorKind::Xss),
            "shell" => Some(DetectorKind::Shell),
            "ssrf" => Some(DetectorKind::Ssrf),
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
        DetectorKind::Ssrf => palisade_detect::ssrf(input),
    }?;
    Some(Finding {
        fingerprint: d.fingerprint,
        span: d.span,
    })
}

/// Detector results already computed for one request: each distinct (detector, value) pair
/// runs once (see [`crate::memo`]).
#[derive(Debug, Default)]
pub(crate) struct Memo(ValueMemo<Option<Finding>>);

impl Memo {
    /// Forgets every result (see [`ValueMemo::clear`]).
    pub(crate) fn clear(&mut self) {
        self.0.clear();
    }

    /// [`run`], remembered for this request.
    pub(crate) fn run(&mut self, kind: DetectorKind, input: &str) -> Option<Finding> {
        match self.0.get(kind as u16, input.as_bytes()) {
            Lookup::Hit(result) => result.clone(),
            Lookup::Skip => run(kind, input),
            Lookup::Miss(key) => {
                let result = run(kind, input);
                self.0.insert(key, input.as_bytes(), result.clone());
                result
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn memo_returns_what_the_detector_returns() {
        let mut memo = Memo::default();
        let values = [
            "http://loinc.org",
            "mg/dL",
            "1' union select password from users--",
            "<script>alert(1)</script>",
            "; cat /etc/passwd",
            "http://127.1/",
        ];
        for _ in 0..3 {
            for v in values {
                for kind in [
                    DetectorKind::Sqli,
                    DetectorKind::Xss,
                    DetectorKind::Shell,
                    DetectorKind::Ssrf,
                ] {
                    assert_eq!(memo.run(kind, v), run(kind, v), "{kind:?} {v}");
                }
            }
        }
        // One entry per (detector, value), however often each was asked.
        assert_eq!(memo.0.len(), values.len() * 4);
    }

    #[test]
    fn a_collision_runs_the_detector() {
        let mut memo = Memo::default();
        assert_eq!(memo.run(DetectorKind::Sqli, "harmless"), None);
        let attack = "1' or 1=1--";
        memo.0
            .plant_collision(DetectorKind::Sqli as u16, attack.as_bytes());
        assert!(memo.run(DetectorKind::Sqli, attack).is_some());
    }
}
