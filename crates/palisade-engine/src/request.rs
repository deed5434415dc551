//! The request model as the proxy hands it over: method, raw request-target and headers.

use std::borrow::Cow;

use crate::transform::normalize_path::normalize_path;
use crate::transform::url_decode::{url_decode, url_decode_once};

/// A request head: what the proxy knows before the body.
#[derive(Debug, Clone, Copy)]
pub struct RequestHead<'a> {
    /// Method as sent (`GET`).
    pub method: &'a str,
    /// Raw request-target as on the wire: `/a/b?x=1`, `*`, `http://h/p`, `host:443`.
    pub target: &'a [u8],
    /// Headers in order, duplicates allowed.
    pub headers: &'a [(&'a str, &'a [u8])],
}

/// Form of a request-target (RFC 9112 §3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetForm {
    /// `/path?query`.
    Origin,
    /// `http://host/path?query`.
    Absolute,
    /// `host:port` (CONNECT).
    Authority,
    /// `*` (OPTIONS).
    Asterisk,
    /// Anything else.
    Invalid,
}

/// Splits a request-target into its form, path and query (without `?`). Fragments (never sent by
/// browsers) stay in the query or path as data.
pub fn split_target(target: &[u8]) -> (TargetForm, &[u8], Option<&[u8]>) {
    if target == b"*" {
        return (TargetForm::Asterisk, b"", None);
    }
    let (form, rest) = if target.first() == Some(&b'/') {
        (TargetForm::Origin, target)
    } else if let Some(after) = strip_scheme(target) {
        let path_start = after
            .iter()
            .position(|&b| b == b'/' || b == b'?')
            .unwrap_or(after.len());
        (TargetForm::Absolute, &after[path_start..])
    } else if !target.is_empty()
        && target
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
        && target.contains(&b':')
    {
        return (TargetForm::Authority, b"", None);
    } else {
        (TargetForm::Invalid, target)
    };
    match rest.iter().position(|&b| b == b'?') {
        Some(q) => (form, &rest[..q], Some(&rest[q + 1..])),
        None => (form, rest, None),
    }
}

fn strip_scheme(t: &[u8]) -> Option<&[u8]> {
    for scheme in [&b"http://"[..], b"https://"] {
        if t.len() >= scheme.len() && t[..scheme.len()].eq_ignore_ascii_case(scheme) {
            return Some(&t[scheme.len()..]);
        }
    }
    None
}

/// The path percent-decoded once: the path as sent, to an app that does not resolve it.
pub fn decoded_path(path: &[u8]) -> String {
    String::from_utf8_lossy(&url_decode_once(path, false)).into_owned()
}

/// The path as an app server that resolves paths routes it: `raw_path` (no query)
/// percent-decoded, separators and look-alike encodings folded, `.` and `..` segments resolved
/// (never above the root), so `/public/..%2fadmin` and `/public//../admin` are `/admin`. Access
/// rules match it; exclusions apply only when it and [`decoded_path`] both match, since an app
/// may take either.
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

/// Headers through which frameworks let a `POST` act as another method (Express's
/// method-override, Rack::MethodOverride, Symfony and Laravel, Spring, ASP.NET).
pub const METHOD_OVERRIDE_HEADERS: [&str; 3] = [
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
];

/// The query or form field through which frameworks let a `POST` act as another method (Rails
/// and Rack read it from the form, Laravel and Symfony from the form or the query, Express's
/// method-override from the query when so configured).
pub const METHOD_OVERRIDE_FIELD: &[u8] = b"_method";

/// The method an override value makes of a `POST`, as frameworks read it: trimmed and upper-cased
/// (Rails forms send `_method=delete`). `None` for an empty value.
pub fn override_method(value: &[u8]) -> Option<String> {
    let value = crate::decode::trim(value);
    (!value.is_empty()).then(|| String::from_utf8_lossy(value).to_ascii_uppercase())
}

/// Every other method a request may act as in the app: for a `POST` only (frameworks honour an
/// override on nothing else), the values of the [`METHOD_OVERRIDE_HEADERS`] (`header` looks a
/// lower-case name up) and of `_method` in the query. Empty, without allocating, for nearly
/// every request. A scope that narrows what is checked (an exclusion) must cover all of them;
/// one that adds checks (a rate limit) applies if it covers any.
pub fn method_overrides<'h>(
    method: &str,
    header: impl Fn(&str) -> Option<&'h [u8]>,
    query: Option<&[u8]>,
) -> Vec<String> {
    let mut out = Vec::new();
    if !method.eq_ignore_ascii_case("POST") {
        return out;
    }
    for name in METHOD_OVERRIDE_HEADERS {
        out.extend(header(name).and_then(override_method));
    }
    for pair in query.unwrap_or_default().split(|&b| b == b'&') {
        let (name, value) = match pair.iter().position(|&b| b == b'=') {
            Some(eq) => (&pair[..eq], &pair[eq + 1..]),
            None => continue,
        };
        if url_decode_once(name, true).as_ref() == METHOD_OVERRIDE_FIELD {
            out.extend(override_method(&url_decode_once(value, true)));
        }
    }
    out
}

/// True when a `Host` value is a numeric IPv4 or bracketed IPv6 address (with optional port).
pub fn host_is_ip(host: &[u8]) -> bool {
    if host.first() == Some(&b'[') {
        return true;
    }
    let h = match host.iter().rposition(|&b| b == b':') {
        Some(p) => &host[..p],
        None => host,
    };
    let parts: Vec<&[u8]> = h.split(|&b| b == b'.').collect();
    parts.len() == 4
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 3 && p.iter().all(u8::is_ascii_digit))
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

    #[test]
    fn target_forms() {
        assert_eq!(
            split_target(b"/a?b=1"),
            (TargetForm::Origin, &b"/a"[..], Some(&b"b=1"[..]))
        );
        assert_eq!(
            split_target(b"http://h:80/p?q"),
            (TargetForm::Absolute, &b"/p"[..], Some(&b"q"[..]))
        );
        assert_eq!(split_target(b"*").0, TargetForm::Asterisk);
        assert_eq!(split_target(b"example.org:443").0, TargetForm::Authority);
        assert_eq!(split_target(b"foo bar").0, TargetForm::Invalid);
    }

    #[test]
    fn a_post_may_stand_for_the_methods_its_overrides_name() {
        let headers = |name: &str| match name {
            "x-http-method-override" => Some(&b" delete "[..]),
            _ => None,
        };
        assert_eq!(
            method_overrides("POST", headers, Some(b"a=1&%5Fmethod=patch&_method=")),
            vec!["DELETE", "PATCH"]
        );
        // Frameworks honour overrides on a POST only.
        assert!(method_overrides("GET", headers, Some(b"_method=DELETE")).is_empty());
        assert!(method_overrides("POST", |_| None, Some(b"method=DELETE&_methods=PUT")).is_empty());
        assert_eq!(override_method(b"Put"), Some("PUT".into()));
        assert_eq!(override_method(b"  "), None);
    }

    #[test]
    fn ip_hosts() {
        assert!(host_is_ip(b"10.0.0.1:8080"));
        assert!(host_is_ip(b"[::1]:80"));
        assert!(!host_is_ip(b"localhost:8080"));
        assert!(!host_is_ip(b"app.example.org"));
    }
}
