//! Referrers are logged without query, fragment or credentials.

use super::path::redact_path;
use super::text::bound_text;

/// Longest `http.request.referrer` logged, in bytes.
pub const REFERRER_MAX_BYTES: usize = 512;

/// Redacts a `Referer` header value: query and fragment dropped, `user:password@` dropped, the path
/// redacted like [`redact_path`], bounded to [`REFERRER_MAX_BYTES`].
pub fn redact_referrer(raw: &str, mask_ids: bool) -> String {
    let raw = raw.trim();
    let without_query = raw.split(['?', '#']).next().unwrap_or("");
    let Some((scheme, rest)) = without_query.split_once("://") else {
        return bound_text(&redact_path(without_query, mask_ids), REFERRER_MAX_BYTES).into_owned();
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_userinfo, host)| host);
    let redacted = format!("{scheme}://{host}{}", redact_path(path, mask_ids));
    bound_text(&redacted, REFERRER_MAX_BYTES).into_owned()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn query_fragment_and_credentials_are_removed() {
        assert_eq!(
            redact_referrer(
                "https://user:secret@portal.example.org/patients/12345?ssn=1#x",
                true
            ),
            "https://portal.example.org/patients/{n}"
        );
        assert_eq!(
            redact_referrer("https://example.org?q=1", true),
            "https://example.org"
        );
        assert_eq!(
            redact_referrer("/relative/path?q=1", false),
            "/relative/path"
        );
        assert_eq!(
            redact_referrer("https://example.org/a/12345", false),
            "https://example.org/a/12345"
        );
    }

    #[test]
    fn long_referrers_are_bounded() {
        let long = format!("https://example.org/{}", "a".repeat(5000));
        assert!(redact_referrer(&long, true).len() <= REFERRER_MAX_BYTES);
    }
}
