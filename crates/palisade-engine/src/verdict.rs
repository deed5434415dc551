//! Verdicts and rule hits, with PHI-safe snippets.

use std::ops::Range;

/// One rule that fired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleHit {
    /// Rule id.
    pub rule_id: u32,
    /// Rule category (`sqli`, `xss`, …).
    pub category: String,
    /// The rule's paranoia level.
    pub paranoia: u8,
    /// Score the rule added.
    pub score: u32,
    /// Where: `args:q`, `json:$.a.b`, `headers:user-agent`, `path`, …
    pub target: String,
    /// Masked, truncated excerpt of the match (≤ 32 chars); safe for audit logs.
    pub snippet: String,
    /// Transforms applied before matching, in order.
    pub transforms: Vec<&'static str>,
    /// Rule description.
    pub message: String,
    /// Detector check that fired, when the rule used a detector.
    pub detector: Option<&'static str>,
}

/// The outcome of inspecting a request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verdict {
    /// Sum of the scores of the distinct rules that fired.
    pub score: u32,
    /// `score >= anomaly_threshold`.
    pub blocked: bool,
    /// Every rule hit (capped at [`crate::config::MAX_HITS`]).
    pub hits: Vec<RuleHit>,
}

/// Longest snippet, in characters.
pub const MAX_SNIPPET: usize = 32;
/// Characters of context shown on each side of the match (masked).
const CONTEXT: usize = 4;

/// Builds an audit-safe snippet: a window around `matched` of at most [`MAX_SNIPPET`] characters,
/// where alphanumerics outside the match become `*`, non-printables `.` and non-ASCII `?`.
/// Inside the match (the attack token) text is kept, but long digit runs are masked too, because
/// numbers in a match are the most likely identifiers.
pub fn mask_snippet(value: &[u8], matched: Range<usize>) -> String {
    let start = matched.start.min(value.len());
    let end = matched.end.clamp(start, value.len());
    let from = start.saturating_sub(CONTEXT);
    let budget_match = MAX_SNIPPET
        .saturating_sub(start - from)
        .saturating_sub(CONTEXT);
    let match_end = end.min(start + budget_match);
    let to = (match_end + CONTEXT)
        .min(value.len())
        .min(from + MAX_SNIPPET);
    let mut out = String::with_capacity(to - from);
    let mut digit_run = 0;
    for (i, &b) in value[from..to].iter().enumerate() {
        let pos = from + i;
        let inside = pos >= start && pos < match_end;
        let c = if !b.is_ascii() {
            '?'
        } else if b.is_ascii_control() {
            '.'
        } else if b.is_ascii_alphanumeric() && !inside {
            '*'
        } else if b.is_ascii_digit() {
            digit_run += 1;
            if digit_run > 3 {
                '#'
            } else {
                b as char
            }
        } else {
            b as char
        };
        if !b.is_ascii_digit() {
            digit_run = 0;
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_context_keeps_token() {
        let v = b"John Smith' union select password from users";
        let s = mask_snippet(v, 10..24);
        assert!(s.starts_with("****' union select"), "{s}");
        assert!(s.chars().count() <= MAX_SNIPPET);
        assert!(!s.contains("Smith"));
    }

    #[test]
    fn long_match_truncated() {
        let v = vec![b'a'; 500];
        assert!(mask_snippet(&v, 0..500).chars().count() <= MAX_SNIPPET);
    }

    #[test]
    fn digits_in_match_masked_after_three() {
        assert_eq!(mask_snippet(b"123456789", 0..9), "123######");
    }

    #[test]
    fn out_of_range_is_safe() {
        assert_eq!(mask_snippet(b"abc", 10..20), "***");
        assert_eq!(mask_snippet(b"", 0..0), "");
    }
}
