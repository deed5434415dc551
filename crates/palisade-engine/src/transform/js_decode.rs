//! JavaScript string escapes: `\xHH`, `\uHHHH`, `\u{H…}`, octal `\NNN` and one-character escapes.

use std::borrow::Cow;

fn push_char(out: &mut Vec<u8>, cp: u32) {
    let c = char::from_u32(cp).unwrap_or('\u{fffd}');
    let mut buf = [0u8; 4];
    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
}

fn hex_run(s: &[u8], n: usize) -> Option<u32> {
    if s.len() < n {
        return None;
    }
    s[..n].iter().try_fold(0u32, |acc, &b| {
        (b as char).to_digit(16).map(|d| acc << 4 | d)
    })
}

/// Decodes JavaScript escapes; malformed escapes keep the escaped character.
pub fn js_decode(input: &[u8]) -> Cow<'_, [u8]> {
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
        let rest = &input[i + 2..];
        match input[i + 1] {
            b'x' | b'X' => match hex_run(rest, 2) {
                Some(v) => {
                    push_char(&mut out, v);
                    i += 4;
                }
                None => {
                    out.push(input[i + 1]);
                    i += 2;
                }
            },
            b'u' | b'U' => {
                if rest.first() == Some(&b'{') {
                    let close = rest.iter().take(10).position(|&b| b == b'}');
                    match close.and_then(|c| {
                        std::str::from_utf8(&rest[1..c])
                            .ok()
                            .and_then(|h| u32::from_str_radix(h, 16).ok())
                            .map(|v| (v, c))
                    }) {
                        Some((v, c)) => {
                            push_char(&mut out, v);
                            i += 2 + c + 1;
                        }
                        None => {
                            out.push(b'u');
                            i += 2;
                        }
                    }
                } else if let Some(v) = hex_run(rest, 4) {
                    push_char(
                        &mut out,
                        super::unicode_fold::lookalike_ascii(v).map_or(v, u32::from),
                    );
                    i += 6;
                } else {
                    out.push(b'u');
                    i += 2;
                }
            }
            b'0'..=b'7' => {
                let mut v: u32 = 0;
                let mut n = 0;
                while n < 3 && i + 1 + n < input.len() && (b'0'..=b'7').contains(&input[i + 1 + n])
                {
                    v = v * 8 + u32::from(input[i + 1 + n] - b'0');
                    n += 1;
                }
                push_char(&mut out, v);
                i += 1 + n;
            }
            c => {
                out.push(match c {
                    b'n' => b'\n',
                    b't' => b'\t',
                    b'r' => b'\r',
                    b'v' => 0x0b,
                    b'f' => 0x0c,
                    b'b' => 0x08,
                    other => other,
                });
                i += 2;
            }
        }
    }
    Cow::Owned(out)
}

/// False when [`js_decode`] cannot change the value (it has no backslash).
pub fn may_change(input: &[u8]) -> bool {
    input.contains(&b'\\')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(&*js_decode(br"\x3cscript\x3e"), b"<script>");
        assert_eq!(&*js_decode(br"\u0061lert\u{28}1)"), b"alert(1)");
        assert_eq!(&*js_decode(br"\141\154ert"), b"alert");
        assert_eq!(&*js_decode(br"a\'b\n"), b"a'b\n");
    }

    #[test]
    fn malformed_kept() {
        assert_eq!(&*js_decode(br"\xZZ\u12"), b"xZZu12");
        assert_eq!(&*js_decode(b"end\\"), b"end\\");
    }

    #[test]
    fn may_change_is_exact_when_false() {
        assert!(may_change(b"\\x41") && may_change(b"\\"));
        for v in [&b"x41 u0041"[..], b"/path", b""] {
            assert!(!may_change(v));
            assert!(matches!(js_decode(v), Cow::Borrowed(_)));
        }
    }
}
