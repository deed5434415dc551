//! Base64 (standard and URL-safe, padding optional), applied only where a value looks like base64:
//! long enough, base64 alphabet only, and decoding to mostly printable text. Otherwise the value is
//! passed through unchanged, so ordinary words are never "decoded" into noise.

use std::borrow::Cow;

/// Shortest value considered for base64 decoding.
pub const MIN_LEN: usize = 12;
/// Longest value decoded (bounded work per leaf).
pub const MAX_LEN: usize = 64 * 1024;

fn sextet(b: u8) -> Option<u32> {
    match b {
        b'A'..=b'Z' => Some(u32::from(b - b'A')),
        b'a'..=b'z' => Some(u32::from(b - b'a' + 26)),
        b'0'..=b'9' => Some(u32::from(b - b'0' + 52)),
        b'+' | b'-' => Some(62),
        b'/' | b'_' => Some(63),
        _ => None,
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
    let mut out = Vec::with_capacity(trimmed.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for &b in trimmed {
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
