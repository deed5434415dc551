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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowers_ascii_only() {
        assert_eq!(&*lowercase("SeLeCT É".as_bytes()), "select É".as_bytes());
        assert!(matches!(lowercase(b"abc"), Cow::Borrowed(_)));
    }
}
