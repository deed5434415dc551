//! Null-byte removal: `%00` is used to cut strings in C-backed code (`passwd%00.png`) and to
//! split keywords (`sel%00ect`).

use std::borrow::Cow;

/// Removes NUL bytes.
pub fn remove_nulls(input: &[u8]) -> Cow<'_, [u8]> {
    if !input.contains(&0) {
        return Cow::Borrowed(input);
    }
    Cow::Owned(input.iter().copied().filter(|&b| b != 0).collect())
}

/// False when [`remove_nulls`] cannot change the value (no NUL).
pub fn may_change(input: &[u8]) -> bool {
    input.contains(&0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_nuls() {
        assert_eq!(&*remove_nulls(b"a\0b\0"), b"ab");
        assert!(matches!(remove_nulls(b"ab"), Cow::Borrowed(_)));
    }

    #[test]
    fn may_change_is_exact_when_false() {
        assert!(may_change(b"a\0"));
        assert!(!may_change(b"a0b"));
        assert!(matches!(remove_nulls(b"a0b"), Cow::Borrowed(_)));
    }
}
