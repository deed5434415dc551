//! URL path redaction: never a query string, matrix-parameter values masked, identifier-like segments
//! optionally replaced by placeholders.

use super::ident::classify_identifier;
use super::text::{scrub_controls, truncate_utf8, TRUNCATION_MARK};

/// Longest `url.path` logged, in bytes.
pub const PATH_MAX_BYTES: usize = 1024;

/// Redacts a request path for logging.
///
/// - Anything from the first `?` or `#` is dropped (the query is logged only as parameter names).
/// - Matrix parameters keep their names, not their values: `/a;jsessionid=XYZ` → `/a;jsessionid=*`.
/// - With `mask_ids`, segments that look like identifiers become placeholders
///   (`/patients/12345/notes` → `/patients/{n}/notes`); see [`classify_identifier`].
/// - The result is bounded to [`PATH_MAX_BYTES`].
pub fn redact_path(raw: &str, mask_ids: bool) -> String {
    let mut out = String::with_capacity(raw.len().min(PATH_MAX_BYTES));
    redact_path_into(raw, mask_ids, &mut out);
    out
}

/// [`redact_path`] appending to `out` (the writer reuses one buffer for every line).
pub fn redact_path_into(raw: &str, mask_ids: bool, out: &mut String) {
    let start = out.len();
    let cleaned = scrub_controls(raw);
    let path = cleaned.split(['?', '#']).next().unwrap_or("");
    for (i, segment) in path.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        let mut parts = segment.split(';');
        let head = parts.next().unwrap_or("");
        push_segment(out, head, mask_ids);
        for param in parts {
            out.push(';');
            match param.split_once('=') {
                Some((name, _value)) => {
                    push_segment(out, name, mask_ids);
                    out.push_str("=*");
                }
                None => push_segment(out, param, mask_ids),
            }
        }
        if out.len() - start > PATH_MAX_BYTES {
            break;
        }
    }
    if out.len() - start > PATH_MAX_BYTES {
        let keep = truncate_utf8(&out[start..], PATH_MAX_BYTES - TRUNCATION_MARK.len()).len();
        out.truncate(start + keep);
        out.push_str(TRUNCATION_MARK);
    }
}

fn push_segment(out: &mut String, segment: &str, mask_ids: bool) {
    match classify_identifier(segment) {
        Some(kind) if mask_ids => out.push_str(kind.placeholder()),
        _ => out.push_str(segment),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn query_and_fragment_never_survive() {
        assert_eq!(redact_path("/search?q=diabetes", true), "/search");
        assert_eq!(redact_path("/search?q=diabetes", false), "/search");
        assert_eq!(redact_path("/a#frag=1", false), "/a");
    }

    #[test]
    fn identifiers_are_masked_when_asked() {
        assert_eq!(
            redact_path(
                "/api/v2/patients/12345/notes/3f2504e0-4f89-11d3-9a0c-0305e82c3301",
                true
            ),
            "/api/v2/patients/{n}/notes/{uuid}"
        );
        assert_eq!(
            redact_path("/users/jane@example.org/mrn/MRN0012345", true),
            "/users/{email}/mrn/{id}"
        );
        assert_eq!(redact_path("/patients/12345", false), "/patients/12345");
        assert_eq!(redact_path("/", true), "/");
        assert_eq!(redact_path("", true), "");
        assert_eq!(redact_path("/a\nforged=1", false), "/a\u{FFFD}forged=1");
    }

    #[test]
    fn matrix_parameter_values_are_masked() {
        assert_eq!(
            redact_path("/cart;jsessionid=ABC123SECRET/view", false),
            "/cart;jsessionid=*/view"
        );
        assert_eq!(redact_path("/x;v=1;flag", true), "/x;v=*;flag");
    }

    #[test]
    fn long_paths_are_bounded() {
        let long = format!("/{}", "segment/".repeat(500));
        let r = redact_path(&long, true);
        assert!(r.len() <= PATH_MAX_BYTES);
        assert!(r.ends_with(TRUNCATION_MARK));
        let wide = format!("/{}", "é".repeat(2000));
        assert!(redact_path(&wide, false).len() <= PATH_MAX_BYTES);
    }
}
