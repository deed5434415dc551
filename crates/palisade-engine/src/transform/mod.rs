//! Normalisation transforms, one file each. A rule lists transforms in order; the compiler groups
//! rules with the same list into one *view*, so each distinct pipeline runs once per input.
//! Every transform borrows its input when there is nothing to change.

use std::borrow::Cow;

pub mod base64_decode;
pub mod cmdline;
pub mod compress_whitespace;
pub mod css_decode;
pub mod html_entity_decode;
pub mod js_decode;
pub mod lowercase;
pub mod normalize_path;
pub mod remove_comments;
pub mod remove_nulls;
pub mod unicode_fold;
pub mod url_decode;

/// One normalisation step, named in rule YAML by [`Transform::name`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Transform {
    /// Percent-decoding incl. `%uHHHH`, up to three rounds.
    UrlDecode,
    /// HTML character references.
    HtmlEntityDecode,
    /// JavaScript escapes.
    JsDecode,
    /// CSS escapes.
    CssDecode,
    /// Base64 where the value looks like base64 text.
    Base64Decode,
    /// ASCII lowercase.
    Lowercase,
    /// Blank runs → one space.
    CompressWhitespace,
    /// `/* */` comments → space.
    RemoveComments,
    /// NUL removal.
    RemoveNulls,
    /// Separators and dot segments (keeps `..`), overlong UTF-8.
    NormalizePath,
    /// Full-width, look-alike and overlong forms → ASCII.
    UnicodeFold,
    /// Shell evasion removal.
    Cmdline,
}

impl Transform {
    /// Every transform, for documentation and validation messages.
    pub const ALL: &'static [Transform] = &[
        Transform::UrlDecode,
        Transform::HtmlEntityDecode,
        Transform::JsDecode,
        Transform::CssDecode,
        Transform::Base64Decode,
        Transform::Lowercase,
        Transform::CompressWhitespace,
        Transform::RemoveComments,
        Transform::RemoveNulls,
        Transform::NormalizePath,
        Transform::UnicodeFold,
        Transform::Cmdline,
    ];

    /// The YAML name.
    pub fn name(self) -> &'static str {
        match self {
            Transform::UrlDecode => "url_decode",
            Transform::HtmlEntityDecode => "html_entity_decode",
            Transform::JsDecode => "js_decode",
            Transform::CssDecode => "css_decode",
            Transform::Base64Decode => "base64_decode",
            Transform::Lowercase => "lowercase",
            Transform::CompressWhitespace => "compress_whitespace",
            Transform::RemoveComments => "remove_comments",
            Transform::RemoveNulls => "remove_nulls",
            Transform::NormalizePath => "normalize_path",
            Transform::UnicodeFold => "unicode_fold",
            Transform::Cmdline => "cmdline",
        }
    }

    /// Parses a YAML name.
    pub fn from_name(name: &str) -> Option<Transform> {
        Transform::ALL.iter().copied().find(|t| t.name() == name)
    }

    /// Applies the transform.
    pub fn apply(self, input: &[u8]) -> Cow<'_, [u8]> {
        match self {
            Transform::UrlDecode => url_decode::url_decode(input),
            Transform::HtmlEntityDecode => html_entity_decode::html_entity_decode(input),
            Transform::JsDecode => js_decode::js_decode(input),
            Transform::CssDecode => css_decode::css_decode(input),
            Transform::Base64Decode => base64_decode::base64_decode(input),
            Transform::Lowercase => lowercase::lowercase(input),
            Transform::CompressWhitespace => compress_whitespace::compress_whitespace(input),
            Transform::RemoveComments => remove_comments::remove_comments(input),
            Transform::RemoveNulls => remove_nulls::remove_nulls(input),
            Transform::NormalizePath => normalize_path::normalize_path(input),
            Transform::UnicodeFold => unicode_fold::unicode_fold(input),
            Transform::Cmdline => cmdline::cmdline(input),
        }
    }
}

impl Transform {
    /// This transform's bit in a set of transforms (`u16`; there are fewer than 16).
    pub const fn bit(self) -> u16 {
        1 << (self as u16)
    }

    /// False when the transform certainly leaves `input` unchanged (a cheap byte scan, e.g. no
    /// `%` for [`Transform::UrlDecode`]); true when it may change it. The engine skips a step
    /// whose input cannot change.
    pub fn may_change(self, input: &[u8]) -> bool {
        match self {
            Transform::UrlDecode => url_decode::may_change(input),
            Transform::HtmlEntityDecode => html_entity_decode::may_change(input),
            Transform::JsDecode => js_decode::may_change(input),
            Transform::CssDecode => css_decode::may_change(input),
            Transform::Base64Decode => base64_decode::may_change(input),
            Transform::Lowercase => lowercase::may_change(input),
            Transform::CompressWhitespace => compress_whitespace::may_change(input),
            Transform::RemoveComments => remove_comments::may_change(input),
            Transform::RemoveNulls => remove_nulls::may_change(input),
            Transform::NormalizePath => normalize_path::may_change(input),
            Transform::UnicodeFold => unicode_fold::may_change(input),
            Transform::Cmdline => cmdline::may_change(input),
        }
    }
}

/// Marks a byte outside the base64 alphabet in [`BYTE_CHANGES`] (not a transform bit).
const NOT_BASE64: u16 = 1 << 15;

/// Per byte: the transforms its presence alone may set off, plus [`NOT_BASE64`].
static BYTE_CHANGES: [u16; 256] = byte_changes();

const fn byte_changes() -> [u16; 256] {
    let mut t = [0u16; 256];
    let mut b = 0usize;
    while b < 256 {
        let c = b as u8;
        let mut m = 0u16;
        if !(c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'/' | b'_' | b'=')) {
            m |= NOT_BASE64;
        }
        if c.is_ascii_uppercase() {
            m |= Transform::Lowercase.bit();
        }
        if c >= 0x80 {
            m |= Transform::UnicodeFold.bit() | Transform::NormalizePath.bit();
        }
        m |= match c {
            b'%' => Transform::UrlDecode.bit(),
            b'&' => Transform::HtmlEntityDecode.bit(),
            b'\\' => {
                Transform::JsDecode.bit()
                    | Transform::CssDecode.bit()
                    | Transform::NormalizePath.bit()
                    | Transform::Cmdline.bit()
            }
            0 => Transform::RemoveNulls.bit(),
            b'"' | b'\'' | b'^' | b',' => Transform::Cmdline.bit(),
            b'\t' | b'\r' | 0x0b | 0x0c => {
                Transform::Cmdline.bit() | Transform::CompressWhitespace.bit()
            }
            b'\n' | 0xa0 => Transform::CompressWhitespace.bit(),
            _ => 0,
        };
        t[b] = m;
        b += 1;
    }
    t
}

/// The transforms that may change `input`, as [`Transform::bit`]s: exactly the transforms whose
/// [`Transform::may_change`] is true, computed in one pass over the bytes instead of one pass
/// per transform.
pub fn may_change_mask(input: &[u8]) -> u16 {
    let mut m = 0u16;
    let mut prev = 0u8;
    for &b in input {
        // Table lookups, no branches: this runs over every byte of every value inspected.
        m |= BYTE_CHANGES[usize::from(b)]
            | PAIR_CHANGES[usize::from(PAIR_LEAD[usize::from(prev)])][usize::from(b)];
        prev = b;
    }
    if m & NOT_BASE64 == 0
        && (base64_decode::MIN_LEN..=base64_decode::MAX_LEN).contains(&input.len())
    {
        m |= Transform::Base64Decode.bit();
    }
    m & !NOT_BASE64
}

/// The two-byte sequences [`may_change_mask`] looks for, as (first byte, second bytes, bits):
/// blank runs, a blank before `/` or `(`, `$IFS`-style, `/*`, path separators.
const PAIRS: &[(u8, &[u8], u16)] = &[
    (
        b' ',
        b" ",
        Transform::CompressWhitespace.bit() | Transform::Cmdline.bit(),
    ),
    (
        b' ',
        b"\t\r\n\x0b\x0c\xa0",
        Transform::CompressWhitespace.bit(),
    ),
    (b' ', b"/(", Transform::Cmdline.bit()),
    (b'$', b"iI{@*", Transform::Cmdline.bit()),
    (b'/', b"*", Transform::RemoveComments.bit()),
    (b'/', b"/.", Transform::NormalizePath.bit()),
    (b';', b"/", Transform::NormalizePath.bit()),
];

/// Per byte: its row in [`PAIR_CHANGES`] when it begins one of [`PAIRS`], else 0.
static PAIR_LEAD: [u8; 256] = pair_lead();
/// Rows of second-byte bits, one per distinct first byte of [`PAIRS`] (row 0: none).
static PAIR_CHANGES: [[u16; 256]; 5] = pair_changes();

const fn pair_lead() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut row = 0u8;
    let mut i = 0;
    while i < PAIRS.len() {
        let lead = PAIRS[i].0 as usize;
        if t[lead] == 0 {
            row += 1;
            t[lead] = row;
        }
        i += 1;
    }
    t
}

const fn pair_changes() -> [[u16; 256]; 5] {
    let lead = pair_lead();
    let mut t = [[0u16; 256]; 5];
    let mut i = 0;
    while i < PAIRS.len() {
        let (first, seconds, bits) = PAIRS[i];
        let row = lead[first as usize] as usize;
        let mut j = 0;
        while j < seconds.len() {
            t[row][seconds[j] as usize] |= bits;
            j += 1;
        }
        i += 1;
    }
    t
}

/// Applies a pipeline, borrowing as long as no step changes anything.
pub fn apply_all<'a>(pipeline: &[Transform], input: &'a [u8]) -> Cow<'a, [u8]> {
    let mut cur: Cow<'a, [u8]> = Cow::Borrowed(input);
    for &t in pipeline {
        cur = match cur {
            Cow::Borrowed(b) => t.apply(b),
            Cow::Owned(o) => match t.apply(&o) {
                Cow::Borrowed(_) => Cow::Owned(o),
                Cow::Owned(n) => Cow::Owned(n),
            },
        };
    }
    cur
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for &t in Transform::ALL {
            assert_eq!(Transform::from_name(t.name()), Some(t));
        }
        assert_eq!(Transform::from_name("nope"), None);
    }

    /// Values that exercise every transform's trigger bytes, alone and mixed.
    pub(crate) const TRICKY: &[&[u8]] = &[
        b"dr-jane-smith",
        b"2024-05-01",
        b"/portal/appointments/search",
        b"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)",
        b"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        b"en-US,en;q=0.9",
        b"gzip, deflate, br",
        b"a b",
        b"a  b",
        b"a /b",
        b"a (b",
        b"x//y",
        b"x/./y",
        b"..;/x",
        b"/*c*/",
        b"patient/*.rs",
        b"%41",
        b"%2541",
        b"%u0041",
        b"%uFF0E%uFF0E/",
        b"&lt;script&gt;",
        b"&#x3C;&#60",
        b"a\\b",
        b"\\x3cscript\\u003e",
        b"\\3c svg",
        b"caf\xc3\xa9",
        b"\xef\xbc\x9cscript\xef\xbc\x9e",
        b"..\xc0\xaf..\xc0\xafetc",
        b"a\0b",
        b"sel\0ect",
        b"a\tb\r\n",
        b"a\x0bb\x0c",
        b"\xa0",
        b"$IFS",
        b"${IFS}",
        b"$@x",
        b"'q'",
        b"c^md",
        b"UNION SELECT",
        b"PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
        b"dGVzdHRlc3R0ZXN0",
        b"",
    ];

    #[test]
    fn may_change_false_means_unchanged() {
        for &v in TRICKY {
            for &t in Transform::ALL {
                let out = t.apply(v);
                if !t.may_change(v) {
                    assert!(
                        matches!(out, Cow::Borrowed(_)),
                        "{} changes {:?} but may_change is false",
                        t.name(),
                        String::from_utf8_lossy(v)
                    );
                }
            }
        }
        // Browser header values need no work from most transforms.
        let accept = TRICKY[4];
        assert!(!Transform::UrlDecode.may_change(accept));
        assert!(!Transform::HtmlEntityDecode.may_change(accept));
        assert!(!Transform::UnicodeFold.may_change(accept));
        assert!(Transform::Cmdline.may_change(accept));
    }

    fn mask_of_each(v: &[u8]) -> u16 {
        Transform::ALL
            .iter()
            .filter(|t| t.may_change(v))
            .fold(0, |m, t| m | t.bit())
    }

    #[test]
    fn one_pass_mask_equals_each_may_change() {
        for &v in TRICKY {
            assert_eq!(
                may_change_mask(v),
                mask_of_each(v),
                "{:?}",
                String::from_utf8_lossy(v)
            );
        }
        // Random strings over the bytes the transforms care about (deterministic LCG).
        let alphabet: &[u8] =
            b" \t\r\n\x0b\x0c\xa0\x00%&\\\"'^,$iI{@*/.;(aZ9+=-_\xc0\xaf\xef\xbc\x8e";
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (seed >> 33) as usize
        };
        for _ in 0..50_000 {
            let len = next() % 20;
            let v: Vec<u8> = (0..len)
                .map(|_| alphabet[next() % alphabet.len()])
                .collect();
            assert_eq!(may_change_mask(&v), mask_of_each(&v), "{v:?}");
            for &t in Transform::ALL {
                if may_change_mask(&v) & t.bit() == 0 {
                    assert!(
                        matches!(t.apply(&v), Cow::Borrowed(_)),
                        "{} {v:?}",
                        t.name()
                    );
                }
            }
        }
    }

    #[test]
    fn pipeline_composes() {
        let p = [
            Transform::UrlDecode,
            Transform::HtmlEntityDecode,
            Transform::Lowercase,
        ];
        assert_eq!(&*apply_all(&p, b"%26lt;SCRIPT"), b"<script");
        assert!(matches!(apply_all(&p, b"plain"), Cow::Borrowed(_)));
    }
}
