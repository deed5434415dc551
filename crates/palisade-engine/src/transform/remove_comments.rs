//! Comment normalisation for SQL-like input: `/* … */` becomes one space; MySQL executable
//! comments `/*!50000 … */` keep their content (MySQL runs it); an unterminated `/*` comments out
//! the rest. `--` and `#` line comments are left for the rules, which treat them as signals.

use std::borrow::Cow;

/// Replaces C-style comments with a space (keeping the body of `/*! … */`).
pub fn remove_comments(input: &[u8]) -> Cow<'_, [u8]> {
    if !may_change(input) {
        return Cow::Borrowed(input);
    }
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        if input[i] == b'/' && input.get(i + 1) == Some(&b'*') {
            let body_start = i + 2;
            let end = input[body_start..]
                .windows(2)
                .position(|w| w == b"*/")
                .map_or(input.len(), |p| body_start + p);
            if input.get(body_start) == Some(&b'!') {
                let mut s = body_start + 1;
                while s < end && input[s].is_ascii_digit() {
                    s += 1;
                }
                out.push(b' ');
                out.extend_from_slice(&input[s..end]);
            }
            out.push(b' ');
            i = (end + 2).min(input.len());
            continue;
        }
        out.push(input[i]);
        i += 1;
    }
    Cow::Owned(out)
}

/// False when [`remove_comments`] cannot change the value (no `/*`).
pub fn may_change(input: &[u8]) -> bool {
    input.windows(2).any(|w| w == b"/*")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_block_comments() {
        assert_eq!(&*remove_comments(b"union/**/select"), b"union select");
        assert_eq!(
            &*remove_comments(b"1/*!50000union*/select"),
            b"1 union select"
        );
        assert_eq!(&*remove_comments(b"a/* open"), b"a ");
        assert!(matches!(remove_comments(b"a/b*c"), Cow::Borrowed(_)));
    }

    #[test]
    fn smart_scope_is_not_a_comment_pair() {
        // "patient/*.rs" opens a comment that never closes; the tail is dropped, not invented.
        assert_eq!(&*remove_comments(b"patient/*.rs"), b"patient ");
    }

    #[test]
    fn may_change_is_exact_when_false() {
        assert!(may_change(b"a/**/b") && may_change(b"/*"));
        for v in [&b"patient/*.rs"[..], b"a*/b", b"/ *", b""] {
            if !may_change(v) {
                assert!(matches!(remove_comments(v), Cow::Borrowed(_)));
            }
        }
        assert!(!may_change(b"a*/b") && !may_change(b"/ *"));
    }
}
