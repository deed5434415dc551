//! Whitespace normalisation: every run of blanks (space, tab, CR, LF, VT, FF, NBSP) becomes one
//! space, so `union%0b%0cselect` and `union/**/select` (after comment removal) look alike.

use std::borrow::Cow;

fn is_blank(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n' | 0x0b | 0x0c | 0xa0)
}

/// Collapses runs of blanks to a single space.
pub fn compress_whitespace(input: &[u8]) -> Cow<'_, [u8]> {
    if !may_change(input) {
        return Cow::Borrowed(input);
    }
    let mut out = Vec::with_capacity(input.len());
    let mut prev_blank = false;
    for &b in input {
        if is_blank(b) {
            if !prev_blank {
                out.push(b' ');
            }
            prev_blank = true;
        } else {
            out.push(b);
            prev_blank = false;
        }
    }
    Cow::Owned(out)
}

/// False when [`compress_whitespace`] cannot change the value: every blank is a lone space.
pub fn may_change(input: &[u8]) -> bool {
    input
        .windows(2)
        .any(|w| is_blank(w[0]) && (is_blank(w[1]) || w[0] != b' '))
        || input.last().is_some_and(|&b| is_blank(b) && b != b' ')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collapses_runs() {
        assert_eq!(
            &*compress_whitespace(b"union\x0b\x0c select\t\n1"),
            b"union select 1"
        );
        assert!(matches!(compress_whitespace(b"a b c"), Cow::Borrowed(_)));
    }

    #[test]
    fn may_change_is_exact_when_false() {
        for v in [&b"a  b"[..], b"a\tb", b"a\n", b"\xa0"] {
            assert!(may_change(v));
        }
        for v in [&b"a b c "[..], b" a", b"", b"x"] {
            assert!(!may_change(v));
            assert!(matches!(compress_whitespace(v), Cow::Borrowed(_)));
        }
    }
}
