//! Field typing for healthcare payloads (FHIR, SMART-on-FHIR / OAuth, C-CDA): a field's name tells
//! what it holds by specification, and rules skip field kinds where their class makes no sense —
//! a `redirect_uri` is a URL, not a remote-file inclusion; a FHIR `text.div` is XHTML, not XSS by
//! itself; a SMART `scope` is `patient/*.rs`, not an SQL comment.

use crate::leaf::FieldKind;

/// Names whose values are URLs by specification (FHIR datatypes `uri`/`url`/`canonical`, FHIR
/// `Reference.reference`, `Bundle.entry.fullUrl`, OAuth 2 / SMART launch parameters).
const URL_FIELDS: &[&str] = &[
    "url",
    "uri",
    "system",
    "reference",
    "fullurl",
    "profile",
    "aud",
    "iss",
    "redirect_uri",
    "valueuri",
    "valueurl",
    "valuecanonical",
    "canonical",
    "source",
    "implicitrules",
    "instantiatescanonical",
    "instantiatesuri",
    "definition",
    "address",
    "endpoint",
    "token_endpoint",
    "authorization_endpoint",
    "registration_endpoint",
    "jwks_uri",
    "logo_uri",
    "client_uri",
    "tos_uri",
    "policy_uri",
    "redirect_uris",
    "targetprofile",
    "valueset",
    "binding",
    "_format",
    "xmlns",
    "schemalocation",
    "nonamespaceschemalocation",
    "href",
];

/// OAuth 2 / OIDC redirect targets (RFC 6749 §3.1.2; loopback redirects are legitimate, RFC 8252).
const REDIRECT_FIELDS: &[&str] = &[
    "redirect_uri",
    "redirect_uris",
    "post_logout_redirect_uri",
    "return_to",
    "returnurl",
    "return_url",
];

/// Names holding free clinical or narrative text.
const FREE_TEXT_FIELDS: &[&str] = &[
    "note",
    "notes",
    "text",
    "display",
    "description",
    "comment",
    "comments",
    "valuestring",
    "valuemarkdown",
    "title",
    "summary",
    "narrative",
    "message",
    "body",
    "content",
    "instruction",
    "instructions",
    "patientinstruction",
    "conclusion",
    "purpose",
    "requirements",
    "copyright",
    "expression",
    "human",
    "xpath",
];

fn eq_any(name: &str, list: &[&str]) -> bool {
    list.iter().any(|n| n.eq_ignore_ascii_case(name))
}

/// The kind of a field from its own name and its parent's (JSON object key or form name).
pub fn classify(parent: &str, name: &str) -> FieldKind {
    if name.eq_ignore_ascii_case("div") && parent.eq_ignore_ascii_case("text") {
        return FieldKind::Narrative;
    }
    if name.eq_ignore_ascii_case("scope") {
        return FieldKind::Scope;
    }
    if eq_any(name, REDIRECT_FIELDS) {
        return FieldKind::Redirect;
    }
    if eq_any(name, URL_FIELDS) {
        return FieldKind::Url;
    }
    if eq_any(name, FREE_TEXT_FIELDS) {
        return FieldKind::FreeText;
    }
    FieldKind::Generic
}

/// True when a value is itself a markup document (`<div …>…</div>`): rich-text fields (FHIR
/// narratives, C-CDA sections, portal rich-text notes) are checked as markup against the
/// narrative allow-list, and their text content separately as free text.
pub fn looks_like_markup(value: &[u8]) -> bool {
    let v = crate::decode::trim(value);
    v.len() >= 7
        && v[0] == b'<'
        && v[1].is_ascii_alphabetic()
        && v[v.len() - 1] == b'>'
        && v.windows(2).any(|w| w == b"</")
}

/// The text content of markup: tags removed (each replaced by a space).
pub fn markup_text(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len());
    let mut in_tag = false;
    for &b in value {
        match b {
            b'<' => in_tag = true,
            b'>' if in_tag => {
                in_tag = false;
                out.push(b' ');
            }
            _ if !in_tag => out.push(b),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typing() {
        assert_eq!(classify("text", "div"), FieldKind::Narrative);
        assert_eq!(classify("", "redirect_uri"), FieldKind::Redirect);
        assert_eq!(classify("coding", "system"), FieldKind::Url);
        assert_eq!(classify("", "scope"), FieldKind::Scope);
        assert_eq!(classify("code", "display"), FieldKind::FreeText);
        assert_eq!(classify("", "q"), FieldKind::Generic);
    }

    #[test]
    fn markup_sniffing() {
        assert!(looks_like_markup(
            b"<div xmlns=\"http://www.w3.org/1999/xhtml\"><p>x</p></div>"
        ));
        assert!(!looks_like_markup(b"a < b and c > d"));
        assert!(!looks_like_markup(b"<script>"));
        assert_eq!(
            markup_text(b"<p>a</p><b>' or 1=1--</b>"),
            b" a  ' or 1=1-- "
        );
    }
}
