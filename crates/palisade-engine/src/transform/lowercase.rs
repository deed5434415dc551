//! ASCII lowercase. Literal matching is already case-insensitive; this transform exists for
//! regexes and detectors that expect folded input.

use std::borrow::Cow;

/// Lowercases ASCII letters; borrows when there is nothing to change.
pub fn lowercase(input: &[u8]) -> Cow<'_, [u8]> {
    if !input.iter().any(u8::is_ascii_uppercase) {
        return Cow::Borrowed(input);
    }
    Cow::Owned(input.to_ascii_lowercase())
}

/// False when [`lowercase`] cannot change the value (no ASCII uppercase letter).
pub fn may_change(input: &[u8]) -> bool {
    input.iter().any(u8::is_ascii_uppercase)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowers_ascii_only() {
        assert_eq!(&*lowercase("SeLeCT É".as_bytes()), "select É".as_bytes());
        assert!(matches!(lowercase(b"abc"), Cow::Borrowed(_)));
    }

    #[test]
    fn may_change_is_exact_when_false() {
        assert!(may_change(b"aB"));
        for v in [&b"ab-1"[..], b"caf\xc3\x89", b""] {
            assert!(!may_change(v));
            assert!(matches!(lowercase(v), Cow::Borrowed(_)));
        }
    }
}
