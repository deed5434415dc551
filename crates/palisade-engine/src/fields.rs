//! Field typing for healthcare payloads (FHIR, SMART-on-FHIR / OAuth, C-CDA): a field's name tells
//! what it holds by specification, and rules skip field kinds where their class makes no sense —
//! a `redirect_uri` is a URL, not a remote-file inclusion; a FHIR `text.div` is XHTML, not XSS by
//! itself; a SMART `scope` is `patient/*.rs`, not an SQL comment.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::OnceLock;

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

/// Longer than every name in the lists above.
const LONGEST_NAME: usize = 32;

/// `name` lower-cased into `buf`, or `None` when it is longer than any listed name.
fn lowered<'b>(name: &str, buf: &'b mut [u8; LONGEST_NAME]) -> Option<&'b [u8]> {
    let out = buf.get_mut(..name.len())?;
    for (o, b) in out.iter_mut().zip(name.as_bytes()) {
        *o = b.to_ascii_lowercase();
    }
    Some(out)
}

/// Which lists a lower-cased name is in, as bits.
const REDIRECT: u8 = 1;
const URL: u8 = 2;
const FREE_TEXT: u8 = 4;
const OAUTH_URL: u8 = 8;

/// Every listed name → the lists it is in, built once: this runs for every JSON key and form
/// name, and a scan of the ~80 names cost more than the rest of typing a field.
fn listed(lower: &[u8]) -> u8 {
    type Index = HashMap<&'static [u8], u8, BuildHasherDefault<crate::memo::KeyHasher>>;
    static INDEX: OnceLock<Index> = OnceLock::new();
    let index = INDEX.get_or_init(|| {
        let mut index = Index::default();
        for (list, bit) in [
            (REDIRECT_FIELDS, REDIRECT),
            (URL_FIELDS, URL),
            (FREE_TEXT_FIELDS, FREE_TEXT),
            (OAUTH_URL_PARAMS, OAUTH_URL),
        ] {
            for name in list {
                *index.entry(name.as_bytes()).or_default() |= bit;
            }
        }
        index
    });
    index.get(lower).copied().unwrap_or(0)
}

/// The kind of a field from its own name and its parent's (JSON object key or form name).
pub fn classify(parent: &str, name: &str) -> FieldKind {
    let mut buf = [0u8; LONGEST_NAME];
    let Some(lower) = lowered(name, &mut buf) else {
        return FieldKind::Generic;
    };
    if lower == b"div" && parent.eq_ignore_ascii_case("text") {
        return FieldKind::Narrative;
    }
    if lower == b"scope" {
        return FieldKind::Scope;
    }
    let lists = listed(lower);
    if lists & REDIRECT != 0 {
        FieldKind::Redirect
    } else if lists & URL != 0 {
        FieldKind::Url
    } else if lists & FREE_TEXT != 0 {
        FieldKind::FreeText
    } else {
        FieldKind::Generic
    }
}

/// OAuth 2 / SMART launch parameters that are URLs by specification when sent as query or form
/// parameters.
const OAUTH_URL_PARAMS: &[&str] = &[
    "aud",
    "iss",
    "launch_uri",
    "jwks_uri",
    "logo_uri",
    "client_uri",
    "tos_uri",
    "policy_uri",
];

/// The kind of a query, form or multipart parameter. Only OAuth/SMART names are typed as URLs
/// here: a generic `url=` query parameter is the classic SSRF vector and stays generic, while
/// FHIR's `url`/`system`/`reference` apply inside JSON and XML documents ([`classify`]).
pub fn classify_param(name: &str) -> FieldKind {
    let mut buf = [0u8; LONGEST_NAME];
    let Some(lower) = lowered(name, &mut buf) else {
        return FieldKind::Generic;
    };
    let lists = listed(lower);
    if lists & REDIRECT != 0 {
        FieldKind::Redirect
    } else if lower == b"scope" {
        FieldKind::Scope
    } else if lists & OAUTH_URL != 0 {
        FieldKind::Url
    } else if lists & FREE_TEXT != 0 {
        FieldKind::FreeText
    } else {
        FieldKind::Generic
    }
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
        assert_eq!(classify_param("url"), FieldKind::Generic);
        assert_eq!(classify_param("aud"), FieldKind::Url);
        assert_eq!(classify_param("redirect_uri"), FieldKind::Redirect);
    }

    #[test]
    fn listed_names_are_lower_case_and_fit_the_buffer() {
        for list in [
            URL_FIELDS,
            REDIRECT_FIELDS,
            FREE_TEXT_FIELDS,
            OAUTH_URL_PARAMS,
        ] {
            for n in list {
                assert!(n.len() <= LONGEST_NAME, "{n}");
                assert_eq!(*n, n.to_ascii_lowercase(), "{n}");
            }
        }
        // Case does not matter; a name longer than any listed one is generic.
        assert_eq!(classify("Coding", "SYSTEM"), FieldKind::Url);
        assert_eq!(classify("", "ValueString"), FieldKind::FreeText);
        assert_eq!(classify_param("Redirect_URI"), FieldKind::Redirect);
        assert_eq!(
            classify("", &"x".repeat(LONGEST_NAME + 1)),
            FieldKind::Generic
        );
        assert_eq!(classify("TEXT", "Div"), FieldKind::Narrative);
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
