//! XML bodies: text and attribute values (named `xml:/a/b` and `xml:/a/b/@attr`), comments and
//! CDATA, plus XXE markers: `<!DOCTYPE` (signal), `<!ENTITY` (signal) and external entities with
//! `SYSTEM`/`PUBLIC` (signal). The DOCTYPE's internal subset is also a leaf (`xml:!doctype`), so
//! rules see `file:///etc/passwd` there. This is a tolerant scanner, not a validating parser: it
//! never expands entities and never fetches anything.

use std::borrow::Cow;

use super::document_encoding;
use super::{Limits, Sink};
use crate::leaf::{FieldKind, Leaf, Location};
use crate::signal::Signal;
use crate::transform::html_entity_decode::html_entity_decode;

/// Elements and attribute prefixes that make XML/XHTML active content in a browser.
const ACTIVE_ELEMENTS: &[&str] = &[
    "script", "iframe", "frame", "object", "embed", "applet", "base", "form", "meta",
];

/// First `needle` at or after `from` (vectorised: text content and base64 payloads are most of a
/// C-CDA document's bytes).
fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if from >= hay.len() || needle.is_empty() {
        return None;
    }
    memchr::memmem::find(&hay[from..], needle).map(|p| p + from)
}

fn contains_ci(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

fn local_name(qname: &[u8]) -> &[u8] {
    match qname.iter().rposition(|&b| b == b':') {
        Some(p) => &qname[p + 1..],
        None => qname,
    }
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':') || b >= 0x80
}

/// Scans an XML document, feeding leaves and signals. Returns `false` (after `xml_malformed`)
/// when the body is not XML at all (no element), so the caller can inspect it as text. A
/// document in an encoding other than the allowed charsets raises `unsupported_charset`; a
/// UTF-16 one is scanned as the UTF-8 it transcodes to ([`super::document_encoding`]).
pub fn decode_xml(body: &[u8], limits: Limits, sink: &mut dyn Sink) -> bool {
    let encoding = document_encoding::detect(body);
    document_encoding::read_as_encoded(encoding, body, sink, |doc, sink| {
        scan_xml(doc, limits, sink)
    })
}

fn scan_xml(s: &[u8], limits: Limits, sink: &mut dyn Sink) -> bool {
    let mut i = 0;
    let mut path = String::new();
    let mut stack: Vec<usize> = Vec::new(); // path lengths to restore on close
    let mut elements = 0usize;
    let mut malformed = false;
    let mut active = false;
    while i < s.len() {
        if s[i] != b'<' {
            let end = find(s, b"<", i).unwrap_or(s.len());
            text_leaf(&s[i..end], &path, sink);
            i = end;
            continue;
        }
        let rest = &s[i..];
        if rest.starts_with(b"<?") {
            i = find(s, b"?>", i + 2).map_or(s.len(), |e| e + 2);
        } else if rest.starts_with(b"<!--") {
            let end = find(s, b"-->", i + 4);
            malformed |= end.is_none();
            let end = end.unwrap_or(s.len());
            text_leaf(&s[i + 4..end], &path, sink);
            i = (end + 3).min(s.len());
        } else if rest.starts_with(b"<![CDATA[") {
            let end = find(s, b"]]>", i + 9);
            malformed |= end.is_none();
            let end = end.unwrap_or(s.len());
            // CDATA is literal: no entity decoding.
            let v = &s[i + 9..end];
            if !v.iter().all(u8::is_ascii_whitespace) {
                sink.leaf(Leaf {
                    location: Location::Xml,
                    name: &path,
                    value: v,
                    field: FieldKind::FreeText,
                });
            }
            i = (end + 3).min(s.len());
        } else if rest.starts_with(b"<!") {
            // DOCTYPE (with an optional [internal subset]) or a stray declaration.
            let mut j = i + 2;
            let mut in_subset = false;
            let mut quote: Option<u8> = None;
            while j < s.len() {
                let b = s[j];
                match quote {
                    Some(q) if b == q => quote = None,
                    Some(_) => {}
                    None => match b {
                        b'"' | b'\'' => quote = Some(b),
                        b'[' => in_subset = true,
                        b']' => in_subset = false,
                        b'>' if !in_subset => break,
                        _ => {}
                    },
                }
                j += 1;
            }
            let decl = &s[i..j.min(s.len())];
            if contains_ci(decl, b"<!doctype") {
                sink.signal(Signal::XmlDoctype, Location::Xml, "!doctype");
            }
            if contains_ci(decl, b"<!entity") {
                sink.signal(Signal::XmlEntity, Location::Xml, "!doctype");
                if contains_ci(decl, b"system") || contains_ci(decl, b"public") {
                    sink.signal(Signal::XmlExternalEntity, Location::Xml, "!doctype");
                }
            }
            sink.leaf(Leaf {
                location: Location::Xml,
                name: "!doctype",
                value: decl,
                field: FieldKind::Generic,
            });
            malformed |= j >= s.len();
            i = (j + 1).min(s.len());
        } else if rest.starts_with(b"</") {
            let end = find(s, b">", i);
            malformed |= end.is_none();
            match stack.pop() {
                Some(len) => path.truncate(len),
                None => malformed = true,
            }
            i = end.map_or(s.len(), |e| e + 1);
        } else {
            // Start tag.
            let mut j = i + 1;
            while j < s.len() && is_name_byte(s[j]) {
                j += 1;
            }
            let qname = &s[i + 1..j];
            if qname.is_empty() {
                malformed = true;
                text_leaf(b"<", &path, sink);
                i += 1;
                continue;
            }
            elements += 1;
            let local = local_name(qname);
            if ACTIVE_ELEMENTS
                .iter()
                .any(|a| a.as_bytes().eq_ignore_ascii_case(local))
            {
                active = true;
            }
            let saved = path.len();
            path.push('/');
            path.push_str(&String::from_utf8_lossy(local));
            // Attributes.
            let mut self_closing = false;
            loop {
                while j < s.len() && s[j].is_ascii_whitespace() {
                    j += 1;
                }
                if j >= s.len() {
                    malformed = true;
                    break;
                }
                if s[j] == b'>' {
                    j += 1;
                    break;
                }
                if s[j] == b'/' {
                    self_closing = true;
                    j += 1;
                    continue;
                }
                let an_start = j;
                while j < s.len() && is_name_byte(s[j]) {
                    j += 1;
                }
                if j == an_start {
                    // Garbage inside the tag: skip one byte.
                    malformed = true;
                    j += 1;
                    continue;
                }
                let aname = &s[an_start..j];
                while j < s.len() && s[j].is_ascii_whitespace() {
                    j += 1;
                }
                if s.get(j) != Some(&b'=') {
                    continue;
                }
                j += 1;
                while j < s.len() && s[j].is_ascii_whitespace() {
                    j += 1;
                }
                let (v_start, v_end, next) = match s.get(j) {
                    Some(&q @ (b'"' | b'\'')) => {
                        let e = find(s, &[q], j + 1).unwrap_or(s.len());
                        (j + 1, e, e + 1)
                    }
                    _ => {
                        let mut e = j;
                        while e < s.len() && !s[e].is_ascii_whitespace() && s[e] != b'>' {
                            e += 1;
                        }
                        (j, e, e)
                    }
                };
                let v_end = v_end.min(s.len());
                let alocal = local_name(aname);
                if alocal.len() > 2 && alocal[..2].eq_ignore_ascii_case(b"on") {
                    active = true;
                }
                let value = html_entity_decode(&s[v_start.min(v_end)..v_end]);
                if contains_ci(&value, b"javascript:") {
                    active = true;
                }
                let aname_str = String::from_utf8_lossy(alocal);
                let name = format!("{path}/@{aname_str}");
                let field = crate::fields::classify(&String::from_utf8_lossy(local), &aname_str);
                sink.leaf(Leaf {
                    location: Location::Xml,
                    name: &name,
                    value: &value,
                    field,
                });
                j = next.min(s.len());
            }
            if self_closing {
                path.truncate(saved);
            } else if stack.len() >= limits.max_depth {
                // Too deep: stop descending but keep scanning text so nothing escapes inspection.
                path.truncate(saved);
                malformed = true;
            } else {
                stack.push(saved);
            }
            i = j;
        }
    }
    if !stack.is_empty() {
        malformed = true;
    }
    if active {
        sink.signal(Signal::XmlActiveContent, Location::Xml, "");
    }
    if malformed || elements == 0 {
        sink.signal(Signal::XmlMalformed, Location::Xml, "");
    }
    elements > 0
}

fn text_leaf(raw: &[u8], path: &str, sink: &mut dyn Sink) {
    if raw.iter().all(u8::is_ascii_whitespace) {
        return;
    }
    // Element text in an XML document is document text: free text to the rules.
    let v: Cow<'_, [u8]> = html_entity_decode(super::trim(raw));
    sink.leaf(Leaf {
        location: Location::Xml,
        name: path,
        value: &v,
        field: FieldKind::FreeText,
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::CollectingSink;

    fn run(x: &[u8]) -> (bool, CollectingSink) {
        let mut s = CollectingSink::default();
        let ok = decode_xml(
            x,
            Limits {
                max_depth: 16,
                inspect_file_contents: false,
            },
            &mut s,
        );
        (ok, s)
    }

    #[test]
    fn text_and_attributes() {
        let (ok, s) = run(br#"<?xml version="1.0"?><a:root xmlns:a="u"><b id="1&amp;2">hi &lt;x&gt;</b><c/></a:root>"#);
        assert!(ok);
        let got: Vec<(String, String)> = s
            .leaves
            .iter()
            .map(|(n, v, _)| (n.clone(), String::from_utf8_lossy(v).into_owned()))
            .collect();
        // Attribute names are local names: `xmlns:a` is named `@a`.
        assert!(
            got.contains(&("xml:/root/@a".into(), "u".into())),
            "{got:?}"
        );
        assert!(got.contains(&("xml:/root/b/@id".into(), "1&2".into())));
        assert!(got.contains(&("xml:/root/b".into(), "hi <x>".into())));
        assert!(s.signals.is_empty(), "{:?}", s.signals);
    }

    #[test]
    fn xxe_signals() {
        let (_, s) = run(br#"<?xml version="1.0"?><!DOCTYPE d [<!ENTITY f SYSTEM "file:///etc/passwd">]><d>&f;</d>"#);
        assert!(s.signals.contains(&Signal::XmlDoctype));
        assert!(s.signals.contains(&Signal::XmlEntity));
        assert!(s.signals.contains(&Signal::XmlExternalEntity));
        assert!(s
            .leaves
            .iter()
            .any(|(n, v, _)| n == "xml:!doctype" && v.windows(6).any(|w| w == b"passwd")));
    }

    #[test]
    fn active_content_signal() {
        let (_, s) = run(b"<text><paragraph onclick=\"x()\">a</paragraph></text>");
        assert!(s.signals.contains(&Signal::XmlActiveContent));
        let (_, s) = run(b"<text><table><tr><td styleCode=\"Bold\">ok</td></tr></table></text>");
        assert!(s.signals.is_empty(), "{:?}", s.signals);
    }

    #[test]
    fn malformed_never_panics() {
        for bad in [
            &b"<"[..],
            b"<a",
            b"<a b=",
            b"<a b='",
            b"</a>",
            b"<!DOCTYPE",
            b"<![CDATA[x",
            b"<!--",
            b"plain",
        ] {
            let (_, s) = run(bad);
            assert!(
                s.signals.contains(&Signal::XmlMalformed) || bad == b"<!DOCTYPE",
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
