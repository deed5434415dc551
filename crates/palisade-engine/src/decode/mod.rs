//! Body and component decoders. Each turns bytes into leaves and signals through a [`Sink`]; none
//! allocates per leaf unless it has to unescape, none recurses without a depth bound, and none
//! panics on malformed input (malformed input is a signal).

use crate::leaf::{Leaf, Location};
use crate::signal::Signal;

pub mod content_coding;
pub mod document_encoding;
pub mod form;
pub mod hl7;
pub mod json;
pub mod jwt;
pub mod multipart;
pub mod sniff;
pub mod xml;

/// Receives what a decoder finds.
pub trait Sink {
    /// A value to inspect.
    fn leaf(&mut self, leaf: Leaf<'_>);
    /// A finding about the input (malformed, XXE marker, …) at a location and name.
    fn signal(&mut self, signal: Signal, location: Location, name: &str);
}

/// Decoder limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// JSON / XML nesting limit.
    pub max_depth: usize,
    /// Whether multipart file contents are inspected.
    pub inspect_file_contents: bool,
}

/// Which decoder a body gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// `application/x-www-form-urlencoded`.
    Form,
    /// `multipart/*`.
    Multipart,
    /// `application/json`, `application/*+json`.
    Json,
    /// `application/xml`, `text/xml`, `application/*+xml`.
    Xml,
    /// HL7 v2 ER7.
    Hl7,
    /// Binary media (images, PDF, archives, octet-stream): inspected only when its first bytes
    /// are text ([`sniff::looks_like_text`]), then decoded as it looks ([`sniff::sniffed_kind`]).
    Binary,
    /// Anything else: inspected as one text leaf.
    Text,
}

/// The media type (lowercased, without parameters) and the value of one parameter.
pub fn media_type(content_type: &[u8]) -> String {
    let end = content_type
        .iter()
        .position(|&b| b == b';')
        .unwrap_or(content_type.len());
    String::from_utf8_lossy(&content_type[..end])
        .trim()
        .to_ascii_lowercase()
}

/// Values of a `Content-Type` parameter (all occurrences, unquoted).
pub fn content_type_params<'a>(
    content_type: &'a [u8],
    param: &'a str,
) -> impl Iterator<Item = &'a [u8]> + 'a {
    content_type
        .split(|&b| b == b';')
        .skip(1)
        .filter_map(move |p| {
            let p = trim(p);
            let eq = p.iter().position(|&b| b == b'=')?;
            if !trim(&p[..eq]).eq_ignore_ascii_case(param.as_bytes()) {
                return None;
            }
            let v = trim(&p[eq + 1..]);
            Some(
                v.strip_prefix(b"\"")
                    .and_then(|v| v.strip_suffix(b"\""))
                    .unwrap_or(v),
            )
        })
}

pub(crate) fn trim(s: &[u8]) -> &[u8] {
    let start = s
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &s[start..end]
}

/// Chooses the decoder for a content type (`None` = no header).
pub fn body_kind(content_type: Option<&[u8]>) -> BodyKind {
    let Some(ct) = content_type else {
        return BodyKind::Text;
    };
    let mt = media_type(ct);
    if mt == "application/x-www-form-urlencoded" {
        BodyKind::Form
    } else if mt.starts_with("multipart/") {
        BodyKind::Multipart
    } else if mt.contains("hl7-v2") || mt.ends_with("er7") {
        BodyKind::Hl7
    } else if mt.ends_with("/json") || mt.ends_with("+json") || mt.ends_with("-json") {
        BodyKind::Json
    } else if mt.ends_with("/xml") || mt.ends_with("+xml") {
        BodyKind::Xml
    } else if mt.starts_with("image/")
        || mt.starts_with("audio/")
        || mt.starts_with("video/")
        || matches!(
            mt.as_str(),
            "application/octet-stream"
                | "application/pdf"
                | "application/zip"
                | "application/gzip"
                | "application/dicom"
        )
    {
        BodyKind::Binary
    } else {
        BodyKind::Text
    }
}

/// Charsets a body may declare (as CRS allows): anything else is a signal, because WAFs and
/// apps that decode differently (UTF-7, IBM037, UTF-16) disagree about what the body says.
pub const ALLOWED_CHARSETS: &[&str] = &[
    "utf-8",
    "utf8",
    "iso-8859-1",
    "iso-8859-15",
    "windows-1252",
    "us-ascii",
];

/// Decodes a body by its kind.
pub fn decode_body(
    kind: BodyKind,
    content_type: &[u8],
    body: &[u8],
    limits: Limits,
    sink: &mut dyn Sink,
) {
    let charsets: Vec<&[u8]> = content_type_params(content_type, "charset").collect();
    if charsets.len() > 1
        || charsets.iter().any(|c| {
            !ALLOWED_CHARSETS
                .iter()
                .any(|a| a.as_bytes().eq_ignore_ascii_case(c))
        })
    {
        sink.signal(Signal::UnsupportedCharset, Location::Body, "");
    }
    match kind {
        BodyKind::Form => form::decode_form(body, Location::Form, sink),
        BodyKind::Multipart => multipart::decode_multipart(content_type, body, limits, sink),
        BodyKind::Json => {
            if !json::decode_json(body, limits, sink) {
                text_leaf(body, sink);
            }
        }
        BodyKind::Xml => {
            if !xml::decode_xml(body, limits, sink) {
                text_leaf(body, sink);
            }
        }
        BodyKind::Hl7 => hl7::decode_hl7(body, sink),
        BodyKind::Binary => {}
        BodyKind::Text => {
            // An HL7 v2 message sent as text/plain is still HL7.
            if body.starts_with(b"MSH|") {
                hl7::decode_hl7(body, sink);
            } else {
                text_leaf(body, sink);
            }
        }
    }
}

fn text_leaf(body: &[u8], sink: &mut dyn Sink) {
    sink.leaf(Leaf {
        location: Location::Body,
        name: "",
        value: body,
        field: crate::leaf::FieldKind::Generic,
    });
}

/// A sink that records everything (tests and fuzzing).
#[derive(Debug, Default)]
pub struct CollectingSink {
    /// `(target name, value)` of every leaf.
    pub leaves: Vec<(String, Vec<u8>, crate::leaf::FieldKind)>,
    /// Every signal.
    pub signals: Vec<Signal>,
}

impl Sink for CollectingSink {
    fn leaf(&mut self, leaf: Leaf<'_>) {
        self.leaves
            .push((leaf.target_name(), leaf.value.to_vec(), leaf.field));
    }
    fn signal(&mut self, signal: Signal, _location: Location, _name: &str) {
        self.signals.push(signal);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_by_content_type() {
        assert_eq!(
            body_kind(Some(b"application/json; charset=utf-8")),
            BodyKind::Json
        );
        assert_eq!(body_kind(Some(b"application/fhir+json")), BodyKind::Json);
        assert_eq!(
            body_kind(Some(b"application/vnd.x.customer-v2+json")),
            BodyKind::Json
        );
        assert_eq!(body_kind(Some(b"text/xml")), BodyKind::Xml);
        assert_eq!(body_kind(Some(b"application/soap+xml")), BodyKind::Xml);
        assert_eq!(
            body_kind(Some(b"Multipart/Form-Data; boundary=x")),
            BodyKind::Multipart
        );
        assert_eq!(body_kind(Some(b"x-application/hl7-v2+er7")), BodyKind::Hl7);
        assert_eq!(body_kind(Some(b"image/png")), BodyKind::Binary);
        assert_eq!(body_kind(None), BodyKind::Text);
    }

    #[test]
    fn params_unquoted() {
        let ct = b"multipart/form-data; boundary=\"abc\"; charset=utf-8";
        assert_eq!(
            content_type_params(ct, "boundary").collect::<Vec<_>>(),
            vec![b"abc" as &[u8]]
        );
    }

    #[test]
    fn charset_signal() {
        let mut s = CollectingSink::default();
        let limits = Limits {
            max_depth: 8,
            inspect_file_contents: false,
        };
        decode_body(
            BodyKind::Text,
            b"text/plain; charset=utf-7",
            b"x",
            limits,
            &mut s,
        );
        assert_eq!(s.signals, vec![Signal::UnsupportedCharset]);
        let mut s = CollectingSink::default();
        decode_body(
            BodyKind::Text,
            b"text/plain; charset=UTF-8",
            b"x",
            limits,
            &mut s,
        );
        assert!(s.signals.is_empty());
    }
}
