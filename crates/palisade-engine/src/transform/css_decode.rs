//! CSS escapes: `\` + 1–6 hex digits (+ one optional whitespace), or `\` + any other character.

use std::borrow::Cow;

/// Decodes CSS escapes; a backslash before a newline is a line continuation and is dropped.
pub fn css_decode(input: &[u8]) -> Cow<'_, [u8]> {
    if !input.contains(&b'\\') {
        return Cow::Borrowed(input);
    }
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        if input[i] != b'\\' || i + 1 >= input.len() {
            out.push(input[i]);
            i += 1;
            continue;
        }
        let mut n = 0;
        let mut v: u32 = 0;
        while n < 6 && i + 1 + n < input.len() && input[i + 1 + n].is_ascii_hexdigit() {
            v = v << 4 | (input[i + 1 + n] as char).to_digit(16).unwrap_or(0);
            n += 1;
        }
        if n > 0 {
            let c = char::from_u32(v)
                .filter(|&c| c != '\0')
                .unwrap_or('\u{fffd}');
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            i += 1 + n;
            if i < input.len() && matches!(input[i], b' ' | b'\t' | b'\n' | b'\r' | 0x0c) {
                i += 1;
            }
        } else if input[i + 1] == b'\n' {
            i += 2;
        } else {
            out.push(input[i + 1]);
            i += 2;
        }
    }
    Cow::Owned(out)
}

/// False when [`css_decode`] cannot change the value (it has no backslash).
pub fn may_change(input: &[u8]) -> bool {
    input.contains(&b'\\')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_escapes() {
        assert_eq!(&*css_decode(br"\6a \61vascript"), b"javascript");
        assert_eq!(&*css_decode(br"exp\ression"), b"expression");
    }

    #[test]
    fn trailing_backslash_kept() {
        assert_eq!(&*css_decode(b"a\\"), b"a\\");
    }

    #[test]
    fn may_change_is_exact_when_false() {
        assert!(may_change(b"\\3c") && may_change(b"a\\"));
        for v in [&b"3c expression("[..], b"/", b""] {
            assert!(!may_change(v));
            assert!(matches!(css_decode(v), Cow::Borrowed(_)));
        }
    }
}
