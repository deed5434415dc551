//! Query strings are logged as parameter names only.

use super::ident::classify_identifier;
use super::text::truncate_utf8;

/// Most parameter names logged per request.
pub const MAX_PARAM_NAMES: usize = 32;
/// Longest parameter name logged, in bytes.
pub const PARAM_NAME_MAX_BYTES: usize = 64;
/// Placeholder for a query part without `=`: a bare token is as likely a value as a flag.
const BARE_TOKEN: &str = "{bare}";

/// The parameter NAMES of a raw query string (`a=1&b=2&flag` → `["a", "b", "{bare}"]`); values are
/// never looked at beyond finding the `=`.
///
/// A part without `=` is logged as `{bare}` because `?12345` or `?jane` carries a value, not a name.
/// Names that look like identifiers are masked with `mask_ids` (see [`classify_identifier`]); names are
/// bounded to [`PARAM_NAME_MAX_BYTES`] and at most [`MAX_PARAM_NAMES`] are kept.
pub fn query_param_names(raw_query: &str, mask_ids: bool) -> Vec<String> {
    let query = raw_query.strip_prefix('?').unwrap_or(raw_query);
    let query = query.split('#').next().unwrap_or("");
    let mut names = Vec::new();
    for part in query.split('&').filter(|p| !p.is_empty()) {
        if names.len() == MAX_PARAM_NAMES {
            break;
        }
        match part.split_once('=') {
            Some((name, _value)) => names.push(bound_name(name, mask_ids)),
            None => names.push(BARE_TOKEN.to_owned()),
        }
    }
    names
}

/// Applies the name bounds and masking to names the caller extracted itself.
pub fn bound_param_names<S: AsRef<str>>(names: &[S], mask_ids: bool) -> Vec<String> {
    names
        .iter()
        .take(MAX_PARAM_NAMES)
        .map(|n| bound_name(n.as_ref(), mask_ids))
        .collect()
}

fn bound_name(name: &str, mask_ids: bool) -> String {
    if mask_ids {
        if let Some(kind) = classify_identifier(name) {
            return kind.placeholder().to_owned();
        }
    }
    truncate_utf8(name, PARAM_NAME_MAX_BYTES)
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn only_names_survive() {
        assert_eq!(
            query_param_names("?q=diabetes&page=2&debug", true),
            vec!["q", "page", "{bare}"]
        );
        assert_eq!(query_param_names("a=1&&b=", false), vec!["a", "b"]);
        assert_eq!(query_param_names("", true), Vec::<String>::new());
        assert_eq!(query_param_names("12345", true), vec!["{bare}"]);
    }

    #[test]
    fn identifier_names_are_masked_and_bounded() {
        assert_eq!(
            query_param_names("jane@example.org=1&x=2", true),
            vec!["{email}", "x"]
        );
        let many: String = (0..100)
            .map(|i| format!("p{}=v&", ["a", "b"][i % 2]))
            .collect();
        assert_eq!(query_param_names(&many, true).len(), MAX_PARAM_NAMES);
        let long = format!("{}=1", "n".repeat(500));
        assert_eq!(
            query_param_names(&long, true)[0].len(),
            PARAM_NAME_MAX_BYTES
        );
        assert_eq!(bound_param_names(&["ok", "1234"], true), vec!["ok", "{n}"]);
    }
}
