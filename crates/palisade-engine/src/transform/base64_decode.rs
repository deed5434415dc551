//! Base64 (standard and URL-safe, padding optional), applied only where a value looks like base64:
//! long enough, base64 alphabet only, and decoding to mostly printable text. Otherwise the value is
//! passed through unchanged, so ordinary words are never "decoded" into noise.

use std::borrow::Cow;

/// Shortest value considered for base64 decoding.
pub const MIN_LEN: usize = 12;
/// Longest value decoded (bounded work per leaf).
pub const MAX_LEN: usize = 64 * 1024;

/// Per byte: its base64 value (standard and URL-safe alphabets), or [`INVALID`].
static SEXTETS: [u8; 256] = sextets();
const INVALID: u8 = 0xff;

const fn sextets() -> [u8; 256] {
    let mut t = [INVALID; 256];
    let mut i = 0u8;
    while i < 26 {
        t[(b'A' + i) as usize] = i;
        t[(b'a' + i) as usize] = i + 26;
        i += 1;
    }
    let mut d = 0u8;
    while d < 10 {
        t[(b'0' + d) as usize] = d + 52;
        d += 1;
    }
    t[b'+' as usize] = 62;
    t[b'-' as usize] = 62;
    t[b'/' as usize] = 63;
    t[b'_' as usize] = 63;
    t
}

fn sextet(b: u8) -> Option<u32> {
    match SEXTETS[usize::from(b)] {
        INVALID => None,
        v => Some(u32::from(v)),
    }
}

/// Strict decode of a base64 string (no whitespace); `None` when any byte is outside the alphabet.
pub fn decode(input: &[u8]) -> Option<Vec<u8>> {
    let trimmed = input
        .strip_suffix(b"==")
        .or_else(|| input.strip_suffix(b"="))
        .unwrap_or(input);
    if trimmed.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(trimmed.len() * 3 / 4 + 3);
    // Four characters make three bytes; a table lookup per character, no per-byte branches.
    let mut quads = trimmed.chunks_exact(4);
    for q in &mut quads {
        let mut acc = 0u32;
        for &b in q {
            acc = acc << 6 | sextet(b)?;
        }
        out.extend_from_slice(&acc.to_be_bytes()[1..]);
    }
    let mut acc: u32 = 0;
    let mut bits = 0;
    for &b in quads.remainder() {
        acc = acc << 6 | sextet(b)?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// True when at least 90 % of the bytes are printable ASCII or whitespace, or they are valid
/// UTF-8 text.
fn mostly_printable(bytes: &[u8]) -> bool {
    if bytes.is_empty() {
        return false;
    }
    if bytes.is_ascii() {
        // What the UTF-8 branch below counts, for ASCII: controls that are not whitespace
        // (`char::is_whitespace` takes 0x09-0x0d and the space).
        let ctrl = bytes
            .iter()
            .filter(|&&b| matches!(b, 0x00..=0x08 | 0x0e..=0x1f | 0x7f))
            .count();
        return ctrl * 10 <= bytes.len();
    }
    if let Ok(s) = std::str::from_utf8(bytes) {
        let ctrl = s
            .chars()
            .filter(|c| c.is_control() && !c.is_whitespace())
            .count();
        return ctrl * 10 <= s.chars().count();
    }
    let printable = bytes
        .iter()
        .filter(|&&b| (0x20..0x7f).contains(&b) || b == b'\n' || b == b'\r' || b == b'\t')
        .count();
    printable * 10 >= bytes.len() * 9
}

/// Cheap shape test: long enough and only base64 alphabet (plus padding).
pub fn looks_like_base64(input: &[u8]) -> bool {
    (MIN_LEN..=MAX_LEN).contains(&input.len())
        && input.iter().all(|&b| b == b'=' || sextet(b).is_some())
}

/// Decodes the value when it looks like base64 text; otherwise returns it unchanged.
pub fn base64_decode(input: &[u8]) -> Cow<'_, [u8]> {
    if input.len() < MIN_LEN || input.len() > MAX_LEN {
        return Cow::Borrowed(input);
    }
    // Words and sentences are not base64: require a mix of classes and no separators.
    let has_digit_or_sym = input
        .iter()
        .any(|b| b.is_ascii_digit() || matches!(b, b'+' | b'/' | b'='));
    let has_upper = input.iter().any(u8::is_ascii_uppercase);
    let has_lower = input.iter().any(u8::is_ascii_lowercase);
    if !(has_digit_or_sym || has_upper && has_lower) {
        return Cow::Borrowed(input);
    }
    match decode(input) {
        Some(d) if mostly_printable(&d) => Cow::Owned(d),
        _ => Cow::Borrowed(input),
    }
}

/// False when [`base64_decode`] cannot change the value: too short or too long, or a byte outside
/// the base64 alphabet (then strict decoding fails and the value passes through).
pub fn may_change(input: &[u8]) -> bool {
    looks_like_base64(input)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_printable_payload() {
        // "<script>alert(1)</script>"
        assert_eq!(
            &*base64_decode(b"PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg=="),
            b"<script>alert(1)</script>"
        );
        // Without padding (gotestwaf Base64Flat).
        assert_eq!(
            &*base64_decode(b"PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg"),
            b"<script>alert(1)</script>"
        );
    }

    #[test]
    fn leaves_words_and_binary() {
        assert!(matches!(base64_decode(b"hello world"), Cow::Borrowed(_)));
        assert!(matches!(base64_decode(b"short"), Cow::Borrowed(_)));
        // Random bytes base64: not printable → unchanged.
        assert!(matches!(
            base64_decode(b"3q2+7wABAgMEBQYHCAkKCw=="),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn table_decode_and_ascii_check_agree_with_the_plain_definitions() {
        // Every remainder length and both alphabets, against a bit-by-bit decoder.
        fn plain(input: &[u8]) -> Option<Vec<u8>> {
            let t = input
                .strip_suffix(b"==")
                .or_else(|| input.strip_suffix(b"="))
                .unwrap_or(input);
            if t.len() % 4 == 1 {
                return None;
            }
            let (mut acc, mut bits, mut out) = (0u32, 0, Vec::new());
            for &b in t {
                let v = match b {
                    b'A'..=b'Z' => b - b'A',
                    b'a'..=b'z' => b - b'a' + 26,
                    b'0'..=b'9' => b - b'0' + 52,
                    b'+' | b'-' => 62,
                    b'/' | b'_' => 63,
                    _ => return None,
                };
                acc = acc << 6 | u32::from(v);
                bits += 6;
                if bits >= 8 {
                    bits -= 8;
                    out.push((acc >> bits) as u8);
                    acc &= (1 << bits) - 1;
                }
            }
            Some(out)
        }
        for v in [
            &b"PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg=="[..],
            b"PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg",
            b"3q2-7wABAgMEBQYHCAkKCw__",
            b"YWJj",
            b"YWI=",
            b"YQ==",
            b"YWJjZA",
            b"Y",
            b"YW*j",
            b"",
        ] {
            assert_eq!(decode(v), plain(v), "{v:?}");
        }
        for (bytes, ok) in [
            (&b"plain text\n"[..], true),
            (b"\x01\x02abc", false),
            (b"0123456789\x7f", true),
            (b"01234567\x1c\x1d", false),
            ("café au lait".as_bytes(), true),
        ] {
            assert_eq!(mostly_printable(bytes), ok, "{bytes:?}");
        }
    }

    #[test]
    fn may_change_is_exact_when_false() {
        assert!(may_change(b"PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg=="));
        for v in [
            &b"short"[..],
            b"dr-jane-smith@example.org",
            b"Mozilla/5.0 (X11; Linux x86_64)",
            b"not base64 at all, spaces",
        ] {
            assert!(!may_change(v));
            assert!(matches!(base64_decode(v), Cow::Borrowed(_)));
        }
    }
}
