//! Syntax-aware injection detectors for Palisade.
//!
//! Each detector looks at one value that the engine has already decoded (URL, HTML entity and
//! JS escapes) and answers whether it holds an injection of its class:
//!
//! * [`sqli`] — SQL injection: a SQL lexer plus grammar checks on the token stream
//!   (UNION SELECT, stacked queries, time delays, tautologies, quote breakouts, …).
//! * [`xss`] — cross-site scripting: an HTML tokenizer run from the data state and from
//!   attribute-value states, plus JavaScript-context breakouts.
//! * [`shell`] — OS command injection (Unix shells, `cmd.exe`, PowerShell) after undoing the
//!   usual evasions (quotes inside words, `$IFS`, brace lists, globs, `^`).
//!
//! The detectors are pure and synchronous, never panic, run in linear time and allocate at
//! most one small buffer per call. Each has a cheap pre-filter (`*_candidate`) that rejects most
//! benign values without tokenising; the detectors call it themselves, so calling it first is
//! only useful to skip work the engine would do around the detector.
//!
//! A [`Detection`] carries a stable `fingerprint` (the check that fired, e.g.
//! `"sqli:union-select"`) and the byte span of the input that matched.

use std::fmt;
use std::ops::Range;

mod ascii;
pub mod shell;
pub mod sqli;
pub mod xss;

pub use shell::{shell, shell_candidate};
pub use sqli::{sqli, sqli_candidate};
pub use xss::{xss, xss_candidate};

/// Which detector produced a [`Detection`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DetectorKind {
    /// SQL injection ([`sqli`]).
    Sqli,
    /// Cross-site scripting / HTML or JavaScript injection ([`xss`]).
    Xss,
    /// OS command injection ([`shell`]).
    Shell,
}

impl DetectorKind {
    /// Short lower-case name, as used in fingerprints (`"sqli"`, `"xss"`, `"shell"`).
    pub fn as_str(self) -> &'static str {
        match self {
            DetectorKind::Sqli => "sqli",
            DetectorKind::Xss => "xss",
            DetectorKind::Shell => "shell",
        }
    }
}

impl fmt::Display for DetectorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One injection found in an input value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detection {
    /// The detector that fired.
    pub kind: DetectorKind,
    /// Stable tag naming the check that fired, `"<kind>:<check>"`, e.g. `"sqli:tautology"`,
    /// `"xss:event-handler"`, `"shell:command"`. Suitable for logs and rule ids; never contains
    /// input text.
    pub fingerprint: &'static str,
    /// Byte range of the input that matched (always on `char` boundaries, never empty unless
    /// the input is empty).
    pub span: Range<usize>,
}

impl Detection {
    pub(crate) fn new(kind: DetectorKind, fingerprint: &'static str, span: Range<usize>) -> Self {
        Detection {
            kind,
            fingerprint,
            span,
        }
    }
}

impl fmt::Display for Detection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at bytes {}..{}",
            self.fingerprint, self.span.start, self.span.end
        )
    }
}

/// Runs all three detectors and returns every detection, in the order SQLi, XSS, shell.
///
/// Convenience for tools such as `palisade explain`; the engine normally calls the detectors
/// it needs for a given field type one by one.
pub fn detect_all(input: &str) -> Vec<Detection> {
    [sqli(input), xss(input), shell(input)]
        .into_iter()
        .flatten()
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// xorshift64: deterministic pseudo-random bytes without a dependency.
    fn xorshift(state: &mut u64) -> u64 {
        let mut x = *state;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *state = x;
        x
    }

    fn check_all(s: &str) {
        for d in detect_all(s) {
            // Spans must be usable to slice the input.
            assert!(s.get(d.span.clone()).is_some(), "{d} on {s:?}");
            assert!(d.fingerprint.starts_with(d.kind.as_str()));
        }
    }

    #[test]
    fn random_bytes_never_panic() {
        // Bytes are drawn mostly from syntax characters so the lexers reach deep states.
        const ALPHABET: &[u8] = b"<>'\"`;|&$(){}[]=/\\*-#%!?:, \t\nabcdeiklnoprstuvwxyzSELCTUNIO0123456789\xc2\xa0\xef\xbf\xbd\xe2\x80\x8b\xff";
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        for _ in 0..20_000 {
            let len = (xorshift(&mut state) % 96) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    let r = xorshift(&mut state);
                    if r % 8 == 0 {
                        (r >> 8) as u8
                    } else {
                        ALPHABET[(r >> 8) as usize % ALPHABET.len()]
                    }
                })
                .collect();
            check_all(&String::from_utf8_lossy(&bytes));
        }
    }

    #[test]
    fn pathological_inputs_complete() {
        // Repetitions that would make a backtracking or rescanning detector quadratic; the
        // detectors must finish (and not panic) on each.
        for unit in [
            "<a ",
            "((((",
            "for ",
            "alert(",
            "information_schema ",
            "' or ",
            "/*",
            "`",
            "$(",
            "<<<",
            "{a,",
            "${",
            "on",
            "\\",
            "<!--",
            "&#",
            "union select ",
            "if exist ",
        ] {
            let s = unit.repeat(20_000 / unit.len());
            check_all(&s);
        }
    }

    #[test]
    fn detect_all_reports_each_kind() {
        let found = detect_all("';exec master..xp_cmdshell 'ping 10.0.0.1'-- <script>");
        let kinds: Vec<DetectorKind> = found.iter().map(|d| d.kind).collect();
        assert_eq!(
            kinds,
            vec![DetectorKind::Sqli, DetectorKind::Xss, DetectorKind::Shell]
        );
        assert_eq!(found[0].fingerprint, "sqli:stacked-query");
        assert_eq!(found[1].fingerprint, "xss:dangerous-tag");
        assert!(detect_all("Eggs (edible) (substance)").is_empty());
    }
}
