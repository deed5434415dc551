//! Unicode folding: full-width forms (U+FF01–FF5E) and slash/dot look-alikes become ASCII, and
//! overlong UTF-8 encodings of ASCII (`C0 AE`, `E0 80 AF`, `F8 80 80 80 AF`, …) are decoded the way
//! lenient servers (IIS, old Java) did, so `..%c0%af` is seen as `../`.

use std::borrow::Cow;

/// ASCII look-alike for a code point that servers and file systems have treated as ASCII.
pub fn lookalike_ascii(cp: u32) -> Option<u8> {
    match cp {
        0xFF01..=0xFF5E => Some((cp - 0xFEE0) as u8),
        0x2215 | 0x2044 | 0x29F8 => Some(b'/'),
        0x2216 | 0x29F9 | 0xFE68 => Some(b'\\'),
        0x2024 | 0xFE52 => Some(b'.'),
        0x02B9 | 0x02BC | 0x2018 | 0x2019 => Some(b'\''),
        0x02BA | 0x201C | 0x201D => Some(b'"'),
        0x2039 | 0x3008 | 0xFE64 => Some(b'<'),
        0x203A | 0x3009 | 0xFE65 => Some(b'>'),
        _ => None,
    }
}

/// Decodes an overlong or over-long-form sequence starting at `s[0]` (lead byte C0/C1, E0 80,
/// F0 80, F8, FC) into the ASCII byte it encodes and the sequence length. Continuation bytes are
/// read leniently (only their low six bits count), as IIS did.
fn overlong_at(s: &[u8]) -> Option<(u8, usize)> {
    let lead = *s.first()?;
    let len = match lead {
        0xC0 | 0xC1 => 2,
        0xE0 => 3,
        0xF0 => 4,
        0xF8 => 5,
        0xFC => 6,
        _ => return None,
    };
    if s.len() < len {
        return None;
    }
    // For 3+ byte forms the middle bytes must be 0x80 (zero payload) to be an overlong ASCII.
    if len > 2 && s[1..len - 1].iter().any(|&b| b != 0x80) {
        return None;
    }
    let value = (u32::from(lead & 0x01) << 6) | u32::from(s[len - 1] & 0x3F);
    let value = if len == 2 {
        value
    } else {
        u32::from(s[len - 1] & 0x3F)
    };
    // Lead C1 with a continuation in 0x80..0xBF yields 0x40..0x7F; C0 yields 0x00..0x3F.
    (value < 0x80).then_some((value as u8, len))
}

/// Folds full-width and look-alike characters and overlong UTF-8 to ASCII.
pub fn unicode_fold(input: &[u8]) -> Cow<'_, [u8]> {
    if input.is_ascii() {
        return Cow::Borrowed(input);
    }
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        let b = input[i];
        if b < 0x80 {
            out.push(b);
            i += 1;
            continue;
        }
        if let Some((a, len)) = overlong_at(&input[i..]) {
            out.push(a);
            i += len;
            continue;
        }
        // Valid multi-byte UTF-8: fold look-alikes, keep the rest.
        let len = match b {
            0xC2..=0xDF => 2,
            0xE1..=0xEF => 3,
            0xF1..=0xF4 => 4,
            _ => 1,
        };
        if len > 1 && i + len <= input.len() {
            if let Ok(s) = std::str::from_utf8(&input[i..i + len]) {
                if let Some(c) = s.chars().next() {
                    match lookalike_ascii(c as u32) {
                        Some(a) => out.push(a),
                        None if c == '\u{a0}' => out.push(b' '),
                        None => out.extend_from_slice(&input[i..i + len]),
                    }
                    i += len;
                    continue;
                }
            }
        }
        out.push(b);
        i += 1;
    }
    Cow::Owned(out)
}

/// False when [`unicode_fold`] cannot change the value (ASCII only).
pub fn may_change(input: &[u8]) -> bool {
    !input.is_ascii()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_width_to_ascii() {
        assert_eq!(&*unicode_fold("＜ｓｃｒｉｐｔ＞".as_bytes()), b"<script>");
    }

    #[test]
    fn overlong_dot_and_slash() {
        assert_eq!(&*unicode_fold(b"..\xc0\xaf..\xc1\x9c"), b"../..\\");
        assert_eq!(&*unicode_fold(b"\xe0\x80\xaf\xf8\x80\x80\x80\xae"), b"/.");
        assert_eq!(&*unicode_fold(b"\xfc\x80\x80\x80\x80\xae"), b".");
    }

    #[test]
    fn keeps_normal_text() {
        assert_eq!(&*unicode_fold("café ✓".as_bytes()), "café ✓".as_bytes());
        assert!(matches!(unicode_fold(b"ascii"), Cow::Borrowed(_)));
    }

    #[test]
    fn slash_lookalikes() {
        assert_eq!(&*unicode_fold("..∕etc∖x".as_bytes()), b"../etc\\x");
    }

    #[test]
    fn may_change_is_exact_when_false() {
        assert!(may_change("ｓｅｌｅｃｔ".as_bytes()) && may_change(b"..\xc0\xaf"));
        for v in [&b"../etc"[..], b"Select", b""] {
            assert!(!may_change(v));
            assert!(matches!(unicode_fold(v), Cow::Borrowed(_)));
        }
    }
}
