//! Percent-decoding with IIS `%uHHHH` escapes, repeated until nothing changes (bounded).
//!
//! Attackers nest encodings (`%252e` → `%2e` → `.`), so one round is not enough; every view that
//! URL-decodes runs up to [`MAX_ROUNDS`]. Invalid escapes stay literal so that nothing is lost.

use std::borrow::Cow;

use super::unicode_fold::lookalike_ascii;

/// Most decode rounds applied by [`url_decode`].
pub const MAX_ROUNDS: usize = 3;

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// One round of percent-decoding. `plus_as_space` is for form and query components only.
/// `%uHHHH` becomes the code point's UTF-8 (or its ASCII look-alike, e.g. `%uff0e` → `.`).
pub fn url_decode_once(input: &[u8], plus_as_space: bool) -> Cow<'_, [u8]> {
    // memchr's vector search answers "anything to decode?" for most values at a few
    // instructions per 16–32 bytes.
    let first = if plus_as_space {
        memchr::memchr2(b'%', b'+', input)
    } else {
        memchr::memchr(b'%', input)
    };
    let Some(first) = first else {
        return Cow::Borrowed(input);
    };
    // Plain segments between escapes are copied with `+` mapped to a space in one pass the
    // compiler vectorises (prose has a `+` every word, too many for a search or a copy each);
    // escapes are found with memchr.
    let plus_to_space = |&b: &u8| if plus_as_space && b == b'+' { b' ' } else { b };
    let mut out = Vec::with_capacity(input.len());
    out.extend(input[..first].iter().map(plus_to_space));
    let mut i = first;
    while i < input.len() {
        if input[i] == b'%' {
            i += decode_escape(input, i, &mut out);
            continue;
        }
        let segment = memchr::memchr(b'%', &input[i..]).unwrap_or(input.len() - i);
        out.extend(input[i..i + segment].iter().map(plus_to_space));
        i += segment;
    }
    Cow::Owned(out)
}

/// Decodes the escape at `input[at] == b'%'` onto `out`; returns how many input bytes it used
/// (an invalid escape stays literal: one byte).
fn decode_escape(input: &[u8], at: usize, out: &mut Vec<u8>) -> usize {
    let digit = |k: usize| input.get(at + k).copied().and_then(hex);
    if let (Some(h), Some(l)) = (digit(1), digit(2)) {
        out.push(h << 4 | l);
        return 3;
    }
    if matches!(input.get(at + 1), Some(b'u' | b'U')) {
        if let (Some(a), Some(b), Some(c), Some(d)) = (digit(2), digit(3), digit(4), digit(5)) {
            let cp = [a, b, c, d]
                .iter()
                .fold(0u32, |acc, &x| acc << 4 | u32::from(x));
            let mut buf = [0u8; 4];
            out.extend_from_slice(code_point_bytes(cp, &mut buf));
            return 6;
        }
    }
    out.push(b'%');
    1
}

/// The bytes a `%uHHHH` code point decodes to: its ASCII look-alike, its UTF-8, or (a lone
/// surrogate) its low byte, as IIS did.
fn code_point_bytes(cp: u32, buf: &mut [u8; 4]) -> &[u8] {
    if let Some(a) = lookalike_ascii(cp) {
        buf[0] = a;
        return &buf[..1];
    }
    match char::from_u32(cp) {
        Some(c) => c.encode_utf8(buf).as_bytes(),
        None => {
            buf[0] = (cp & 0xff) as u8;
            &buf[..1]
        }
    }
}

/// Percent-decodes up to [`MAX_ROUNDS`] times (no `+` handling: in a decoded value `+` is data).
pub fn url_decode(input: &[u8]) -> Cow<'_, [u8]> {
    let mut cur = url_decode_once(input, false);
    for _ in 1..MAX_ROUNDS {
        match url_decode_once(&cur, false) {
            Cow::Borrowed(_) => break,
            Cow::Owned(next) => {
                if next.as_slice() == cur.as_ref() {
                    break;
                }
                cur = Cow::Owned(next);
            }
        }
    }
    cur
}

/// True when the value still holds a valid percent escape after one decode: double encoding,
/// which legitimate clients almost never send. Used as a signal by the request model.
pub fn is_double_encoded(once_decoded: &[u8]) -> bool {
    memchr::memchr_iter(b'%', once_decoded).any(|i| {
        let (Some(&d1), Some(&d2)) = (once_decoded.get(i + 1), once_decoded.get(i + 2)) else {
            return false;
        };
        hex(d1).is_some()
            && hex(d2).is_some()
            // %25 followed by hex again, or an escape of a character that never needs one twice.
            && matches!((d1, d2 | 0x20), (b'2', b'e' | b'f' | b'5' | b'7' | b'2') | (b'3', b'c' | b'e') | (b'5', b'c') | (b'0', b'0'))
    })
}

/// False when [`url_decode`] cannot change the value (it has no `%`): a cheap byte scan the engine
/// uses to skip the transform.
pub fn may_change(input: &[u8]) -> bool {
    memchr::memchr(b'%', input).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_simple_and_keeps_invalid() {
        assert_eq!(&*url_decode_once(b"a%20b%zz%", false), b"a b%zz%");
        assert_eq!(&*url_decode_once(b"a+b", true), b"a b");
        assert_eq!(&*url_decode_once(b"a+b", false), b"a+b");
    }

    #[test]
    fn borrowed_when_nothing_to_do() {
        assert!(matches!(url_decode(b"plain text"), Cow::Borrowed(_)));
    }

    #[test]
    fn nested_encoding_to_fixpoint() {
        assert_eq!(&*url_decode(b"%252e%252e%252f"), b"../");
        // Three rounds at most.
        assert_eq!(&*url_decode(b"%2525252541"), b"%2541");
    }

    #[test]
    fn iis_unicode_escapes() {
        assert_eq!(&*url_decode(b"%uff0e%uff0e%u2215"), b"../");
        assert_eq!(&*url_decode(b"%u003cscript"), b"<script");
        assert_eq!(&*url_decode(b"%u00e9"), "é".as_bytes());
    }

    #[test]
    fn double_encoding_signal() {
        assert!(is_double_encoded(b"%2e%2e/"));
        assert!(is_double_encoded(b"%3cscript"));
        assert!(!is_double_encoded(b"50% off"));
        assert!(!is_double_encoded(b"%41"));
    }

    #[test]
    fn may_change_is_exact_when_false() {
        for v in [&b"plain+text"[..], b"a%41", b"%u0041", b"100%", b""] {
            assert_eq!(may_change(v), v.contains(&b'%'));
            if !may_change(v) {
                assert!(matches!(url_decode(v), Cow::Borrowed(_)));
            }
        }
        assert!(may_change(b"%2e%2e/"));
    }

    /// The byte-at-a-time decoder the run-copying one must agree with.
    fn reference(input: &[u8], plus_as_space: bool) -> Vec<u8> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < input.len() {
            let b = input[i];
            let digit = |k: usize| input.get(i + k).copied().and_then(hex);
            if b == b'+' && plus_as_space {
                out.push(b' ');
                i += 1;
            } else if let (b'%', Some(h), Some(l)) = (b, digit(1), digit(2)) {
                out.push(h << 4 | l);
                i += 3;
            } else if let (b'%', Some(b'u' | b'U'), Some(a), Some(b2), Some(c), Some(d)) = (
                b,
                input.get(i + 1).copied(),
                digit(2),
                digit(3),
                digit(4),
                digit(5),
            ) {
                let cp = u32::from(a) << 12 | u32::from(b2) << 8 | u32::from(c) << 4 | u32::from(d);
                let mut buf = [0u8; 4];
                out.extend_from_slice(code_point_bytes(cp, &mut buf));
                i += 6;
            } else {
                out.push(b);
                i += 1;
            }
        }
        out
    }

    #[test]
    fn agrees_with_byte_at_a_time_decoding() {
        // Every string of up to 4 parts over an alphabet that mixes escapes, partial escapes,
        // `+` and plain bytes, decoded both ways, with and without `+` as space.
        let parts: &[&[u8]] = &[
            b"a", b"+", b"%", b"%4", b"%41", b"%u", b"%uD800", b"%uff0e", b"%zz", b"\xe9", b"%e9",
        ];
        let mut stack: Vec<(Vec<u8>, usize)> = vec![(Vec::new(), 0)];
        let mut checked = 0;
        while let Some((s, depth)) = stack.pop() {
            for plus in [false, true] {
                let got = url_decode_once(&s, plus);
                assert_eq!(
                    got.as_ref(),
                    reference(&s, plus).as_slice(),
                    "input {s:?} plus {plus}"
                );
                assert!(got.len() <= s.len());
                checked += 1;
            }
            if depth < 4 {
                for p in parts {
                    let mut next = s.clone();
                    next.extend_from_slice(p);
                    stack.push((next, depth + 1));
                }
            }
        }
        assert!(checked > 10_000, "{checked}");
    }
}
