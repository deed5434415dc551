//! Whether a body labelled as binary media is text after all.
//!
//! The content type is the client's claim. Apps that parse a body whatever its label
//! (`express.json({type: '*/*'})`, Flask's `get_json(force=True)`, a handler that calls
//! `JSON.parse` on the raw body) read a JSON attack sent as `image/png` as JSON. Real media
//! starts with a signature or binary bytes within its first few hundred bytes; a body whose
//! first [`SNIFF_LEN`] bytes are control-free UTF-8 is inspected as the text it is, and its
//! decoder is chosen by what it looks like.

use super::BodyKind;

/// How many leading bytes decide whether a body is text.
pub const SNIFF_LEN: usize = 512;

/// Signatures of media whose first bytes can be printable (PDF, PostScript, RTF): their own
/// syntax is not an app's input language, and inspecting it as text would only invite false
/// positives. Formats with binary bytes up front (PNG, JPEG, GIF, ZIP, gzip, DICOM, …) need no
/// entry, and a "GIF" that is printable throughout is a polyglot worth inspecting.
const TEXT_LIKE_MEDIA: &[&[u8]] = &[b"%PDF-", b"%!PS", b"{\\rtf"];

/// True when the body's first [`SNIFF_LEN`] bytes are text: valid UTF-8 (a character cut by the
/// window's end is fine), no control bytes but tab, line feed, form feed and carriage return,
/// and not a text-like media signature.
pub fn looks_like_text(body: &[u8]) -> bool {
    let head = &body[..body.len().min(SNIFF_LEN)];
    if head.is_empty() || TEXT_LIKE_MEDIA.iter().any(|sig| head.starts_with(sig)) {
        return false;
    }
    let controls = head
        .iter()
        .any(|&b| (b < 0x20 && !matches!(b, b'\t' | b'\n' | 0x0c | b'\r')) || b == 0x7f);
    if controls {
        return false;
    }
    match std::str::from_utf8(head) {
        Ok(_) => true,
        // Only an incomplete last character (the window cut it) is allowed.
        Err(e) => e.error_len().is_none() && body.len() > SNIFF_LEN,
    }
}

/// The decoder for a text body that came with a binary label, chosen as a lenient app would
/// parse it: JSON for `{` or `[`, XML for `<`, HL7 v2 for `MSH|`, a form for `name=value&…`
/// without blanks, plain text otherwise.
pub fn sniffed_kind(body: &[u8]) -> BodyKind {
    let start = body
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(body.len());
    match body.get(start) {
        Some(b'{' | b'[') => BodyKind::Json,
        Some(b'<') => BodyKind::Xml,
        _ if body.starts_with(b"MSH|") => BodyKind::Hl7,
        _ if body.contains(&b'=') && !super::trim(body).iter().any(u8::is_ascii_whitespace) => {
            BodyKind::Form
        }
        _ => BodyKind::Text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_is_not_text() {
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
        let jpeg = b"\xff\xd8\xff\xe0\0\x10JFIF";
        let zip = b"PK\x03\x04\x14\0\0\0";
        let gzip = b"\x1f\x8b\x08\0\0\0\0\0";
        let dicom = [&[0u8; 128][..], b"DICM"].concat();
        for media in [&png[..], jpeg, zip, gzip, &dicom] {
            assert!(!looks_like_text(media), "{media:?}");
        }
        // Printable signatures.
        assert!(!looks_like_text(b"%PDF-1.7\n1 0 obj << /Type /Catalog >>"));
        assert!(!looks_like_text(b"GIF89a\x01\0\x01\0\x80\0\0"));
        assert!(looks_like_text(b"GIF89a=1;alert(document.domain)//"));
        assert!(!looks_like_text(b""));
    }

    #[test]
    fn text_is_text_whatever_the_label() {
        assert!(looks_like_text(br#"{"q": "<script>alert(1)</script>"}"#));
        assert!(looks_like_text(b"a=1&b=2\r\n"));
        assert!(looks_like_text(
            "Patientin M\u{fc}ller, \u{e9}valuation\tok\n".as_bytes()
        ));
    }

    #[test]
    fn only_a_character_cut_by_the_window_may_be_incomplete() {
        // "é" is two bytes; the window ends between them.
        let mut cut = vec![b'a'; SNIFF_LEN - 1];
        cut.extend_from_slice("\u{e9}tail".as_bytes());
        assert!(looks_like_text(&cut));
        // The same incomplete character at the body's real end is not UTF-8.
        assert!(!looks_like_text(&cut[..SNIFF_LEN]));
        // Latin-1 bytes are not UTF-8.
        assert!(!looks_like_text(b"M\xfcller"));
    }

    #[test]
    fn one_control_byte_makes_it_binary() {
        assert!(!looks_like_text(b"{\"a\": 1}\0"));
        assert!(!looks_like_text(b"abc\x1bdef"));
        assert!(!looks_like_text(b"abc\x7f"));
    }

    #[test]
    fn decoder_follows_the_first_bytes() {
        assert_eq!(sniffed_kind(b"  {\"a\":1}"), BodyKind::Json);
        assert_eq!(sniffed_kind(b"[1,2]"), BodyKind::Json);
        assert_eq!(sniffed_kind(b"<?xml version=\"1.0\"?><a/>"), BodyKind::Xml);
        assert_eq!(sniffed_kind(b"MSH|^~\\&|A"), BodyKind::Hl7);
        assert_eq!(sniffed_kind(b"q=1%27+or+1%3D1&x=2\n"), BodyKind::Form);
        assert_eq!(sniffed_kind(b"note: x = 1 and y"), BodyKind::Text);
        assert_eq!(sniffed_kind(b"plain words"), BodyKind::Text);
    }
}
