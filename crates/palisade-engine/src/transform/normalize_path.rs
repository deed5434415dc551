//! Path normalisation for traversal detection: backslashes become `/`, overlong and look-alike
//! encodings are folded, `//` collapses, `/./` disappears and `..;/` (Tomcat) becomes `../`.
//! Unlike a server's normaliser, `..` segments are kept: they are the evidence.

use std::borrow::Cow;

use super::unicode_fold::unicode_fold;

/// Normalises separators and dot segments, keeping `..`.
pub fn normalize_path(input: &[u8]) -> Cow<'_, [u8]> {
    let folded = unicode_fold(input);
    let s: &[u8] = &folded;
    let needs = s.contains(&b'\\')
        || s.windows(2).any(|w| w == b"//" || w == b";/" || w == b"/.")
        || matches!(folded, Cow::Owned(_));
    if !needs {
        return folded;
    }
    let mut out: Vec<u8> = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let b = if s[i] == b'\\' { b'/' } else { s[i] };
        if b == b'/' {
            if out.last() == Some(&b'/') {
                i += 1;
                continue;
            }
            // "/./" → "/"
            if out.ends_with(b"/.") || out == b"." {
                out.pop();
                if out.is_empty() || out.last() != Some(&b'/') {
                    out.push(b'/');
                }
                i += 1;
                continue;
            }
            // "..;/" → "../"
            if out.ends_with(b"..;") {
                out.pop();
            }
        }
        out.push(b);
        i += 1;
    }
    Cow::Owned(out)
}

/// False when [`normalize_path`] cannot change the value: ASCII only, no backslash and none of
/// `//`, `;/`, `/.`.
pub fn may_change(input: &[u8]) -> bool {
    super::unicode_fold::may_change(input)
        || input.contains(&b'\\')
        || input
            .windows(2)
            .any(|w| w == b"//" || w == b";/" || w == b"/.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_separators_and_duplicates() {
        assert_eq!(
            &*normalize_path(b"..\\..\\windows\\win.ini"),
            b"../../windows/win.ini"
        );
        assert_eq!(&*normalize_path(b"a//b///c"), b"a/b/c");
    }

    #[test]
    fn dot_segments_kept_for_dotdot() {
        assert_eq!(&*normalize_path(b"/a/./b/../c"), b"/a/b/../c");
        assert_eq!(&*normalize_path(b"..;/..;/etc"), b"../../etc");
    }

    #[test]
    fn overlong_slash() {
        assert_eq!(&*normalize_path(b"..\xc0\xaf..\xc0\xafetc"), b"../../etc");
    }

    #[test]
    fn plain_path_borrowed() {
        assert!(matches!(
            normalize_path(b"/fhir/Patient/123"),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn may_change_is_exact_when_false() {
        for v in [&b"a//b"[..], b"a/./b", b"..;/x", b"a\\b", b"\xc0\xae"] {
            assert!(may_change(v));
        }
        for v in [&b"/portal/appointments/search"[..], b"a..b", b"x;y", b""] {
            assert!(!may_change(v));
            assert!(matches!(normalize_path(v), Cow::Borrowed(_)));
        }
    }
}
