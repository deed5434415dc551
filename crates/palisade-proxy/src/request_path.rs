//! The path access rules are matched against: decoded and resolved the way an app server would
//! resolve it, so `/public/..%2fadmin` or `/public//../admin` is judged as `/admin`.

use std::borrow::Cow;

use palisade_engine::transform::normalize_path::normalize_path;
use palisade_engine::transform::url_decode::url_decode;

/// Percent-decodes `raw_path` (no query), folds separators and look-alike encodings, and resolves
/// `.` and `..` segments (never above the root).
pub fn resolved_path(raw_path: &[u8]) -> Cow<'_, [u8]> {
    let decoded = url_decode(raw_path);
    let needs_decode = matches!(decoded, Cow::Owned(_));
    let normalized = normalize_path(&decoded);
    let has_dots = normalized.windows(2).any(|w| w == b"/.") || normalized.starts_with(b".");
    if !needs_decode && !has_dots && matches!(normalized, Cow::Borrowed(_)) {
        return Cow::Borrowed(raw_path);
    }
    let mut segments: Vec<&[u8]> = Vec::new();
    for seg in normalized.split(|&b| b == b'/') {
        match seg {
            b"" | b"." => {}
            b".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let mut out = Vec::with_capacity(normalized.len() + 1);
    for s in &segments {
        out.push(b'/');
        out.extend_from_slice(s);
    }
    if out.is_empty() || normalized.ends_with(b"/") {
        out.push(b'/');
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_like_a_server() {
        assert_eq!(&*resolved_path(b"/admin/users"), b"/admin/users");
        assert_eq!(&*resolved_path(b"/public/../admin/x"), b"/admin/x");
        assert_eq!(&*resolved_path(b"/public/..%2fadmin"), b"/admin");
        assert_eq!(&*resolved_path(b"//admin//x/"), b"/admin/x/");
        assert_eq!(&*resolved_path(b"/../../etc"), b"/etc");
        assert_eq!(&*resolved_path(b"/%61dmin"), b"/admin");
    }
}
