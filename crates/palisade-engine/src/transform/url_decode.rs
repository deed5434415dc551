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
    let needs = input
        .iter()
        .any(|&b| b == b'%' || (plus_as_space && b == b'+'));
    if !needs {
        return Cow::Borrowed(input);
    }
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        let b = input[i];
        if b == b'+' && plus_as_space {
            out.push(b' ');
            i += 1;
            continue;
        }
        if b == b'%' {
            if let (Some(h), Some(l)) = (
                input.get(i + 1).copied().and_then(hex),
                input.get(i + 2).copied().and_then(hex),
            ) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
            if matches!(input.get(i + 1), Some(b'u' | b'U')) {
                let digits: Option<Vec<u8>> = (2..6)
                    .map(|k| input.get(i + k).copied().and_then(hex))
                    .collect();
                if let Some(d) = digits {
                    let cp = d.iter().fold(0u32, |acc, &x| acc << 4 | u32::from(x));
                    push_code_point(&mut out, cp);
                    i += 6;
                    continue;
                }
            }
        }
        out.push(b);
        i += 1;
    }
    Cow::Owned(out)
}

fn push_code_point(out: &mut Vec<u8>, cp: u32) {
    if let Some(a) = lookalike_ascii(cp) {
        out.push(a);
        return;
    }
    match char::from_u32(cp) {
        Some(c) => {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        }
        // Lone surrogates: keep the low byte, as IIS did.
        None => out.push((cp & 0xff) as u8),
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
    once_decoded.windows(3).any(|w| {
        w[0] == b'%'
            && hex(w[1]).is_some()
            && hex(w[2]).is_some()
            // %25 followed by hex again, or an escape of a character that never needs one twice.
            && matches!((w[1], w[2] | 0x20), (b'2', b'e' | b'f' | b'5' | b'7' | b'2') | (b'3', b'c' | b'e') | (b'5', b'c') | (b'0', b'0'))
    })
}

/// False when [`url_decode`] cannot change the value (it has no `%`): a cheap byte scan the engine
/// uses to skip the transform.
pub fn may_change(input: &[u8]) -> bool {
    input.contains(&b'%')
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
}
