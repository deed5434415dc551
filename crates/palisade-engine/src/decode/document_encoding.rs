//! Which encoding an XML or JSON document is in, as its parser decides: for XML (XML 1.0
//! Appendix F) a byte-order mark or the byte pattern of `<?xml`, then the declaration's
//! `encoding`; for JSON (RFC 4627 §3, as Jackson still does) a byte-order mark or the pattern
//! of zero bytes in the first four.
//!
//! A parser reads a document in the encoding the document itself names, whatever the
//! `Content-Type` says. An XXE written in EBCDIC (`encoding="IBM037"`, which Xerces detects from
//! the first four bytes) or JSON in UTF-16 is plain to a Java app and noise to a byte scanner.
//! The engine holds documents to the charsets it allows in a `Content-Type`
//! ([`super::ALLOWED_CHARSETS`]); anything else raises `unsupported_charset`. UTF-16, which
//! .NET clients do send, is also transcoded so its content is inspected as the app reads it.

use super::Sink;
use crate::leaf::Location;
use crate::signal::Signal;

/// The encoding a document is read in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentEncoding {
    /// UTF-8 or an allowed ASCII-compatible charset: scanned as it is.
    AsciiCompatible,
    /// UTF-16 (by byte-order mark or the `<?` pattern): transcoded before scanning.
    Utf16 {
        /// Most significant byte first.
        big_endian: bool,
    },
    /// UCS-4, EBCDIC, or a declared encoding that is not allowed.
    Unsupported,
}

/// The encoding of an XML document.
pub fn detect(doc: &[u8]) -> DocumentEncoding {
    match doc {
        [0xEF, 0xBB, 0xBF, rest @ ..] => declared(rest),
        // UCS-4 (all byte orders) and EBCDIC (`<?xm` in code page 037 and its relatives).
        [0x00, 0x00, 0xFE, 0xFF, ..]
        | [0xFF, 0xFE, 0x00, 0x00, ..]
        | [0x00, 0x00, 0x00, 0x3C, ..]
        | [0x3C, 0x00, 0x00, 0x00, ..]
        | [0x4C, 0x6F, 0xA7, 0x94, ..] => DocumentEncoding::Unsupported,
        [0xFE, 0xFF, ..] | [0x00, 0x3C, 0x00, 0x3F, ..] => {
            DocumentEncoding::Utf16 { big_endian: true }
        }
        [0xFF, 0xFE, ..] | [0x3C, 0x00, 0x3F, 0x00, ..] => {
            DocumentEncoding::Utf16 { big_endian: false }
        }
        _ => declared(doc),
    }
}

/// The encoding of a JSON document. A UTF-8 byte-order mark is `AsciiCompatible` (strip it
/// with [`strip_utf8_bom`]).
pub fn detect_json(doc: &[u8]) -> DocumentEncoding {
    match doc {
        [0xEF, 0xBB, 0xBF, ..] => DocumentEncoding::AsciiCompatible,
        // UTF-32, either byte order, with or without a mark.
        [0x00, 0x00, 0xFE, 0xFF, ..]
        | [0xFF, 0xFE, 0x00, 0x00, ..]
        | [0x00, 0x00, 0x00, _, ..]
        | [_, 0x00, 0x00, 0x00, ..] => DocumentEncoding::Unsupported,
        [0xFE, 0xFF, ..] | [0x00, _, 0x00, _, ..] => DocumentEncoding::Utf16 { big_endian: true },
        [0xFF, 0xFE, ..] | [_, 0x00, _, 0x00, ..] => DocumentEncoding::Utf16 { big_endian: false },
        _ => DocumentEncoding::AsciiCompatible,
    }
}

/// The document without a leading UTF-8 byte-order mark.
pub fn strip_utf8_bom(doc: &[u8]) -> &[u8] {
    doc.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(doc)
}

/// Hands `parse` the document as its parser reads it, after raising `unsupported_charset` for
/// anything but an allowed ASCII-compatible encoding: UTF-16 transcoded to UTF-8, an allowed one
/// without its UTF-8 byte-order mark, anything else as it is (its ASCII may still tell).
pub fn read_as_encoded(
    encoding: DocumentEncoding,
    doc: &[u8],
    sink: &mut dyn Sink,
    parse: impl FnOnce(&[u8], &mut dyn Sink) -> bool,
) -> bool {
    match encoding {
        DocumentEncoding::AsciiCompatible => parse(strip_utf8_bom(doc), sink),
        DocumentEncoding::Utf16 { big_endian } => {
            sink.signal(Signal::UnsupportedCharset, Location::Body, "");
            parse(&utf16_to_utf8(doc, big_endian), sink)
        }
        DocumentEncoding::Unsupported => {
            sink.signal(Signal::UnsupportedCharset, Location::Body, "");
            parse(doc, sink)
        }
    }
}

/// The encoding an ASCII-compatible document declares (`<?xml version="1.0" encoding="…"?>`).
fn declared(doc: &[u8]) -> DocumentEncoding {
    let Some(decl) = doc.strip_prefix(b"<?xml") else {
        return DocumentEncoding::AsciiCompatible;
    };
    let decl = &decl[..decl.len().min(256)];
    let decl = match decl.windows(2).position(|w| w == b"?>") {
        Some(end) => &decl[..end],
        None => decl,
    };
    let Some(at) = decl.windows(8).position(|w| w == b"encoding") else {
        return DocumentEncoding::AsciiCompatible;
    };
    let rest = super::trim(&decl[at + 8..]);
    let Some(rest) = rest.strip_prefix(b"=") else {
        return DocumentEncoding::Unsupported;
    };
    let rest = super::trim(rest);
    let name = match rest.first() {
        Some(&q @ (b'"' | b'\'')) => rest[1..].split(|&b| b == q).next().unwrap_or_default(),
        _ => return DocumentEncoding::Unsupported,
    };
    let allowed = super::ALLOWED_CHARSETS
        .iter()
        .any(|a| a.as_bytes().eq_ignore_ascii_case(name));
    if allowed {
        DocumentEncoding::AsciiCompatible
    } else {
        DocumentEncoding::Unsupported
    }
}

/// A UTF-16 document as UTF-8, without its byte-order mark; unpaired surrogates become U+FFFD
/// and an odd last byte is dropped.
pub fn utf16_to_utf8(doc: &[u8], big_endian: bool) -> Vec<u8> {
    let units = doc.chunks_exact(2).map(|pair| {
        let pair = [pair[0], pair[1]];
        if big_endian {
            u16::from_be_bytes(pair)
        } else {
            u16::from_le_bytes(pair)
        }
    });
    let text: String = char::decode_utf16(units)
        .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect();
    text.strip_prefix('\u{feff}')
        .unwrap_or(&text)
        .as_bytes()
        .to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"<?xml version="1.0"?><r a="x">é</r>"#;

    #[test]
    fn utf8_and_allowed_declarations_are_scanned_as_they_are() {
        assert_eq!(detect(DOC.as_bytes()), DocumentEncoding::AsciiCompatible);
        assert_eq!(detect(b"<r/>"), DocumentEncoding::AsciiCompatible);
        assert_eq!(
            detect(b"\xEF\xBB\xBF<?xml version='1.0' encoding='UTF-8'?><r/>"),
            DocumentEncoding::AsciiCompatible
        );
        assert_eq!(
            detect(b"<?xml version=\"1.0\" encoding = \"ISO-8859-1\" ?><r/>"),
            DocumentEncoding::AsciiCompatible
        );
    }

    #[test]
    fn other_encodings_are_unsupported() {
        for doc in [
            &b"<?xml version=\"1.0\" encoding=\"UTF-7\"?><r/>"[..],
            b"<?xml version=\"1.0\" encoding=\"IBM037\"?><r/>",
            b"<?xml version=\"1.0\" encoding=\"UTF-16\"?><r/>",
            b"<?xml version=\"1.0\" encoding=UTF-7?><r/>",
            b"\x4C\x6F\xA7\x94\x93\x40",
            b"\x00\x00\x00\x3C\x00\x00\x00\x3F",
            b"\xFF\xFE\x00\x00\x3C\x00\x00\x00",
        ] {
            assert_eq!(detect(doc), DocumentEncoding::Unsupported, "{doc:?}");
        }
    }

    #[test]
    fn json_encodings_by_their_zero_bytes() {
        let doc = r#"{"a":"b"}"#;
        let le: Vec<u8> = doc.encode_utf16().flat_map(u16::to_le_bytes).collect();
        let be: Vec<u8> = doc.encode_utf16().flat_map(u16::to_be_bytes).collect();
        assert_eq!(
            detect_json(&le),
            DocumentEncoding::Utf16 { big_endian: false }
        );
        assert_eq!(
            detect_json(&be),
            DocumentEncoding::Utf16 { big_endian: true }
        );
        let utf32: Vec<u8> = doc.chars().flat_map(|c| (c as u32).to_le_bytes()).collect();
        assert_eq!(detect_json(&utf32), DocumentEncoding::Unsupported);
        assert_eq!(
            detect_json(doc.as_bytes()),
            DocumentEncoding::AsciiCompatible
        );
        assert_eq!(detect_json(b"1"), DocumentEncoding::AsciiCompatible);
        let bom = b"\xEF\xBB\xBF{}";
        assert_eq!(detect_json(bom), DocumentEncoding::AsciiCompatible);
        assert_eq!(strip_utf8_bom(bom), b"{}");
    }

    #[test]
    fn utf16_is_found_with_or_without_a_byte_order_mark_and_transcoded() {
        let le: Vec<u8> = DOC.encode_utf16().flat_map(u16::to_le_bytes).collect();
        let be: Vec<u8> = DOC.encode_utf16().flat_map(u16::to_be_bytes).collect();
        assert_eq!(detect(&le), DocumentEncoding::Utf16 { big_endian: false });
        assert_eq!(detect(&be), DocumentEncoding::Utf16 { big_endian: true });
        let bom_le = [&[0xFF, 0xFE][..], &le].concat();
        let bom_be = [&[0xFE, 0xFF][..], &be].concat();
        assert_eq!(
            detect(&bom_le),
            DocumentEncoding::Utf16 { big_endian: false }
        );
        assert_eq!(
            detect(&bom_be),
            DocumentEncoding::Utf16 { big_endian: true }
        );
        assert_eq!(utf16_to_utf8(&bom_le, false), DOC.as_bytes());
        assert_eq!(utf16_to_utf8(&be, true), DOC.as_bytes());
        // An unpaired surrogate and an odd last byte do not stop it.
        assert_eq!(
            utf16_to_utf8(b"\x00\xD8<\x00!", false),
            "\u{fffd}<".as_bytes()
        );
    }
}
