//! Syntax-confirmed detectors (`detector:` in a rule). The engine talks to them through this
//! module only, so the implementation (the `palisade-detect` crate) can change without touching
//! the matcher.

use std::collections::HashMap;
use std::hash::BuildHasher;
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

/// Longest value whose detector result is remembered.
const MEMO_MAX_VALUE: usize = 256;
/// Most values remembered per request.
const MEMO_MAX_ENTRIES: usize = 512;

/// Detector results already computed for one request.
///
/// Requests repeat short values: a FHIR bundle names the same coding systems, units and
/// profiles in every entry, a form repeats its options. Detectors are pure functions of the
/// value, so each distinct (detector, value) pair runs once per request. The key is a keyed
/// hash (keys random per process); the value bytes are compared on every hit, so a collision costs a
/// fresh run and can never return another value's result.
#[derive(Debug, Default)]
pub(crate) struct Memo {
    index: HashMap<(DetectorKind, u64), usize>,
    /// Range of each remembered value in `values`, and its result.
    entries: Vec<(Range<usize>, Option<Finding>)>,
    values: Vec<u8>,
}

impl Memo {
    /// [`run`], remembered for this request.
    pub(crate) fn run(&mut self, kind: DetectorKind, input: &str) -> Option<Finding> {
        if input.len() > MEMO_MAX_VALUE {
            return run(kind, input);
        }
        // The map's own hasher: SipHash with keys random per process.
        let hash = self.index.hasher().hash_one(input.as_bytes());
        if let Some(&i) = self.index.get(&(kind, hash)) {
            if let Some((range, result)) = self.entries.get(i) {
                if self.values.get(range.clone()) == Some(input.as_bytes()) {
                    return result.clone();
                }
            }
            return run(kind, input);
        }
        let result = run(kind, input);
        if self.entries.len() < MEMO_MAX_ENTRIES {
            let start = self.values.len();
            self.values.extend_from_slice(input.as_bytes());
            self.index.insert((kind, hash), self.entries.len());
            self.entries
                .push((start..self.values.len(), result.clone()));
        }
        result
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
        ];
        for _ in 0..3 {
            for v in values {
                for kind in [DetectorKind::Sqli, DetectorKind::Xss, DetectorKind::Shell] {
                    assert_eq!(memo.run(kind, v), run(kind, v), "{kind:?} {v}");
                }
            }
        }
        // One entry per (detector, value), however often each was asked.
        assert_eq!(memo.entries.len(), values.len() * 3);
    }

    #[test]
    fn memo_is_bounded() {
        let mut memo = Memo::default();
        for i in 0..MEMO_MAX_ENTRIES + 50 {
            let v = format!("value {i}");
            assert_eq!(memo.run(DetectorKind::Xss, &v), None);
        }
        assert_eq!(memo.entries.len(), MEMO_MAX_ENTRIES);
        let long = "x".repeat(MEMO_MAX_VALUE + 1);
        memo.run(DetectorKind::Sqli, &long);
        assert!(memo.values.len() <= MEMO_MAX_ENTRIES * 16);
        // Attacks past the bound are still found.
        assert!(memo.run(DetectorKind::Sqli, "1' or 1=1--").is_some());
    }
}
