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
//! * [`ssrf`] — server-side request forgery: a URL whose host is loopback, private, link-local
//!   (cloud metadata) or a name resolving there, in every spelling URL parsers accept.
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
pub mod ssrf;
mod wordmap;
pub mod xss;

pub use shell::{shell, shell_candidate};
pub use sqli::{sqli, sqli_candidate};
pub use ssrf::{ssrf, ssrf_candidate};
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
    /// Server-side request forgery to an internal host ([`ssrf`]).
    Ssrf,
}

impl DetectorKind {
    /// Short lower-case name, as used in fingerprints (`"sqli"`, `"xss"`, `"shell"`).
    pub fn as_str(self) -> &'static str {
        match self {
            DetectorKind::Sqli => "sqli",
            DetectorKind::Xss => "xss",
            DetectorKind::Shell => "shell",
            DetectorKind::Ssrf => "ssrf",
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
    /// Byte range of the input that matched, always on `char` boundaries (safe to slice with).
    /// It covers the decisive tokens, not necessarily the whole payload.
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

/// Runs all four detectors and returns every detection, in the order SQLi, XSS, shell, SSRF.
///
/// Convenience for tools such as `palisade explain`; the engine normally calls the detectors
/// it needs for a given field type one by one.
pub fn detect_all(input: &str) -> Vec<Detection> {
    [sqli(input), xss(input), shell(input), ssrf(input)]
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

    /// Real clinical and interoperability values that contain SQL, shell and markup look-alikes.
    /// None of the three detectors may fire on any of them.
    const CLINICAL: &[&str] = &[
        "Eggs (edible) (substance)",
        "select specialty hospital",
        "Select Specialty Hospital - Durham",
        "O'Reilly",
        "patient/*.rs",
        "patient/*.read user/Practitioner.read launch/patient openid fhirUser offline_access",
        "(USCDI) Time period when name was/is in use",
        "drop in blood pressure; watch for dizziness",
        "PID|1||12345^^^MRN||Doe^John||19800101|M|||123 Main St^^Boston^MA^02118",
        "MSH|^~\\&|EPIC|HOSP|LAB|HOSP|20230101120000||ORU^R01|MSG00001|P|2.5.1",
        "OBX|1|NM|8867-4^Heart rate^LN||72|/min|60-100|N|||F",
        "<div xmlns=\"http://www.w3.org/1999/xhtml\"><p><b>Jane Doe</b>, DOB 1980-01-01</p><table style=\"width:100%\"><tr><td>BP</td><td>120/80</td></tr></table></div>",
        "<text><table border=\"1\"><thead><tr><th>Medication</th></tr></thead><tbody><tr><td ID=\"m1\">Lisinopril 10 mg</td></tr></tbody></table></text>",
        "Pt is a 67 y/o male w/ h/o CHF (EF 35%), DM2 & HTN; presents c/o SOB x 3 days.",
        "Plan: cont. metformin 500 mg PO BID; f/u in 2 wks -- sooner if sx worsen.",
        "BP 142/88, HR 96, RR 18, SpO2 94% on RA; temp 38.1 C",
        "Allergies: penicillin (rash); sulfa drugs (hives); cat dander",
        "Head: normocephalic; Eyes: PERRLA; Neck: supple, no JVD",
        "Time of onset: 2 hours prior to arrival; type 2 DM since 2010",
        "Patient states \"I can't sleep\" and \"I feel tired\" -- refer to sleep clinic",
        "Drop-in group therapy: Tue/Thu 2-3 pm | Room #204 | bring ID",
        "Score 1 or 2 = mild; 3 or 4 = moderate; 5 = severe",
        "Union Hospital of Cecil County, Elkton, MD",
        "Find a doctor | Sort by distance | Set as preferred",
        "echo: LVEF 55-60%, no wall motion abnormality; cat scan negative",
        "Insulin glargine 20 units SC qHS; sliding scale per protocol (see order set)",
        "If defined by the care team, use the goal value; otherwise leave blank.",
        "Wound care: cleanse with NS, apply dressing & tape; change q2d or if soiled.",
        "Observation.value[x] where code = '8480-6' and value > 140",
        "Patient.name.where(use = 'official').given.first()",
        "contained.where((('#'+id in (%resource.descendants().reference)).not())).empty()",
        "http://loinc.org|8867-4",
        "Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJl",
        "urn:uuid:6f1c2b0e-3d7a-4c57-9a6b-0f6f1d1c2e3a",
        "Mother's side: breast cancer (age 52); father's side: CAD, \"heart attack\" at 60",
        "Follow up with Dr. D'Angelo & Dr. O'Neil in 2 weeks; call 555-555-1234 if < 2 voids/day",
        "x < 5 and y > 7; a <= b; (555)-555-1234",
        "Results: see attached PDF (report.pdf); copy to PCP",
        "Hemoglobin A1c/Hemoglobin.total in Blood by HPLC",
        "Take 1-2 tablets by mouth every 4-6 hours as needed for pain; max 8/day",
        "Labs pending: CBC, BMP, LFTs; find prior results in /records/2021/labs.pdf",
        "Use 'find a provider' tool; select 'cardiology' from the drop-down",
        "Patient reports pain 7/10; more -ve findings on exam; less pain at rest",
        "Plan: head CT w/o contrast; neck /spine films if + tenderness",
        "If pt has >2 falls in 6 months, refer to PT; if < 1, re-screen annually",
        "He said \"ls\" and then \"id\" were his initials",
    ];

    #[test]
    fn clinical_values_pass_every_detector() {
        for s in CLINICAL {
            let found = detect_all(s);
            assert!(found.is_empty(), "false positive {found:?} on {s:?}");
        }
    }

    #[test]
    fn detect_all_reports_each_kind() {
        let found = detect_all("';exec master..xp_cmdshell 'dir'-- <script>");
        let kinds: Vec<DetectorKind> = found.iter().map(|d| d.kind).collect();
        assert_eq!(kinds, vec![DetectorKind::Sqli, DetectorKind::Xss]);
        assert_eq!(found[0].fingerprint, "sqli:stacked-query");
        assert_eq!(found[1].fingerprint, "xss:dangerous-tag");
        assert!(detect_all("Eggs (edible) (substance)").is_empty());
    }
}
