//! `multipart/form-data`: field values (as `multipart:<name>`), field names, file names
//! (`filenames:<name>`), and file contents only when policy asks. Parts whose own content type is
//! JSON or XML are decoded as such. Framing problems — no boundary, two boundaries, an
//! unterminated body, a part without `Content-Disposition` — are signals, because parsers that
//! disagree on framing are how bodies get past WAFs.

use super::{content_type_params, json, trim, xml, Limits, Sink};
use crate::fields::classify_param;
use crate::leaf::{FieldKind, Leaf, Location};
use crate::signal::Signal;

/// `Content-Transfer-Encoding` values that leave a part's bytes as they are (Apache HttpClient's
/// strict mode sends `binary` / `8bit` on every part).
const IDENTITY_TRANSFER_ENCODINGS: &[&[u8]] = &[b"7bit", b"8bit", b"binary"];

/// First `needle` at or after `from`. A vectorised search: a file part is most of an upload's
/// bytes, and a byte-by-byte window compare cost ~5 µs per KB of it.
fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    memchr::memmem::find(hay.get(from..)?, needle).map(|p| p + from)
}

/// A `Content-Disposition` parameter (`name`, `filename`, `filename*`), unquoted.
fn disposition_param<'a>(header: &'a [u8], param: &str) -> (Option<&'a [u8]>, usize) {
    let mut found = None;
    let mut count = 0;
    for p in header.split(|&b| b == b';').skip(1) {
        let p = trim(p);
        let Some(eq) = p.iter().position(|&b| b == b'=') else {
            continue;
        };
        if trim(&p[..eq]).eq_ignore_ascii_case(param.as_bytes()) {
            let v = trim(&p[eq + 1..]);
            let v = v
                .strip_prefix(b"\"")
                .and_then(|v| v.strip_suffix(b"\""))
                .unwrap_or(v);
            found = Some(v);
            count += 1;
        }
    }
    (found, count)
}

/// Decodes a multipart body.
pub fn decode_multipart(content_type: &[u8], body: &[u8], limits: Limits, sink: &mut dyn Sink) {
    let boundaries: Vec<&[u8]> = content_type_params(content_type, "boundary").collect();
    if boundaries.len() > 1 {
        sink.signal(Signal::MultipartAmbiguous, Location::Multipart, "");
    }
    let Some(boundary) = boundaries
        .first()
        .filter(|b| !b.is_empty() && b.len() <= 200)
    else {
        sink.signal(Signal::MultipartMalformed, Location::Multipart, "");
        inspect_raw(body, sink);
        return;
    };
    let mut delim = Vec::with_capacity(boundary.len() + 2);
    delim.extend_from_slice(b"--");
    delim.extend_from_slice(boundary);
    let Some(first) = find(body, &delim, 0) else {
        sink.signal(Signal::MultipartMalformed, Location::Multipart, "");
        inspect_raw(body, sink);
        return;
    };
    if !trim(&body[..first]).is_empty() {
        sink.signal(Signal::MultipartAmbiguous, Location::Multipart, "");
    }
    let mut pos = first + delim.len();
    let mut closed = false;
    loop {
        if body[pos..].starts_with(b"--") {
            closed = true;
            // The epilogue is for parsers to ignore, and browsers send none. Content there
            // (more parts, after the closing delimiter) is read by some parsers: judge it too.
            let epilogue = trim(&body[pos + 2..]);
            if !epilogue.is_empty() {
                sink.signal(Signal::MultipartAmbiguous, Location::Multipart, "");
                inspect_raw(epilogue, sink);
            }
            break;
        }
        // Skip to the end of the delimiter line.
        let Some(line_end) = find(body, b"\n", pos) else {
            break;
        };
        let part_start = line_end + 1;
        let next = find(body, &delim, part_start);
        let part_end = next.unwrap_or(body.len());
        let mut part = &body[part_start..part_end];
        // The CRLF before the next delimiter belongs to the delimiter.
        part = part.strip_suffix(b"\n").unwrap_or(part);
        part = part.strip_suffix(b"\r").unwrap_or(part);
        inspect_part(part, limits, sink);
        match next {
            Some(n) => pos = n + delim.len(),
            None => break,
        }
    }
    if !closed {
        sink.signal(Signal::MultipartMalformed, Location::Multipart, "");
    }
}

fn inspect_raw(body: &[u8], sink: &mut dyn Sink) {
    sink.leaf(Leaf {
        location: Location::Body,
        name: "",
        value: body,
        field: FieldKind::Generic,
    });
}

fn inspect_part(part: &[u8], limits: Limits, sink: &mut dyn Sink) {
    let crlf = find(part, b"\r\n\r\n", 0);
    // A bare-LF blank line matters only before the CRLF one: searching past it would scan a
    // file part's whole content.
    let lf = find(&part[..crlf.map_or(part.len(), |a| a + 2)], b"\n\n", 0);
    let (head_end, body_start) = match (crlf, lf) {
        (Some(a), Some(b)) if b < a => (b, b + 2),
        (Some(a), _) => (a, a + 4),
        (None, Some(b)) => (b, b + 2),
        (None, None) => {
            sink.signal(Signal::MultipartMalformed, Location::Multipart, "");
            inspect_raw(part, sink);
            return;
        }
    };
    let head = &part[..head_end];
    let content = &part[body_start.min(part.len())..];
    let mut disposition: Option<&[u8]> = None;
    let mut part_type: Option<&[u8]> = None;
    for line in head.split(|&b| b == b'\n') {
        let line = trim(line);
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (hn, hv) = (trim(&line[..colon]), trim(&line[colon + 1..]));
        if hn.eq_ignore_ascii_case(b"content-disposition") {
            if disposition.is_some() {
                sink.signal(Signal::MultipartAmbiguous, Location::Multipart, "");
            }
            disposition = Some(hv);
        } else if hn.eq_ignore_ascii_case(b"content-type") {
            part_type = Some(hv);
        } else if hn.eq_ignore_ascii_case(b"content-transfer-encoding")
            && !IDENTITY_TRANSFER_ENCODINGS
                .iter()
                .any(|e| hv.eq_ignore_ascii_case(e))
        {
            // RFC 7578 §4.7 deprecates it, browsers never send it, and a parser that honours
            // `base64` or `quoted-printable` reads content other than the bytes inspected here.
            sink.signal(Signal::MultipartAmbiguous, Location::Multipart, "");
        }
    }
    let Some(disp) = disposition else {
        sink.signal(Signal::MultipartMalformed, Location::Multipart, "");
        inspect_raw(content, sink);
        return;
    };
    let (name, name_count) = disposition_param(disp, "name");
    let (filename, fn_count) = disposition_param(disp, "filename");
    let (filename_star, _) = disposition_param(disp, "filename*");
    if name_count > 1 || fn_count > 1 {
        sink.signal(Signal::MultipartAmbiguous, Location::Multipart, "");
    }
    let name_str = String::from_utf8_lossy(name.unwrap_or(b""));
    sink.leaf(Leaf {
        location: Location::ArgName,
        name: &name_str,
        value: name_str.as_bytes(),
        field: FieldKind::Generic,
    });
    let is_file = filename.is_some() || filename_star.is_some();
    for f in [filename, filename_star].into_iter().flatten() {
        sink.leaf(Leaf {
            location: Location::Filename,
            name: &name_str,
            value: f,
            field: FieldKind::Generic,
        });
    }
    // A file a browser renders as a page (SVG, HTML, XHTML) is inspected even when file contents
    // are not: served back from the app's origin, a script in it is stored XSS.
    let renders = is_file
        && (part_type.is_some_and(renders_as_page)
            || [filename, filename_star]
                .into_iter()
                .flatten()
                .any(named_as_page));
    if is_file && !limits.inspect_file_contents && !renders {
        return;
    }
    let kind = part_type.map(|t| super::body_kind(Some(t)));
    match kind {
        Some(super::BodyKind::Json) if json::decode_json(content, limits, sink) => {}
        Some(super::BodyKind::Xml) if xml::decode_xml(content, limits, sink) => {}
        // A part's type is the client's claim: frameworks hand a field part to the app as a
        // string whatever it says, so only media that really is binary goes uninspected.
        Some(super::BodyKind::Binary) if !super::sniff::looks_like_text(content) => {}
        _ => sink.leaf(Leaf {
            location: Location::Multipart,
            name: &name_str,
            value: content,
            field: classify_param(&name_str),
        }),
    }
}

/// Media types a browser renders as a document that can run script.
fn renders_as_page(content_type: &[u8]) -> bool {
    matches!(
        super::media_type(content_type).as_str(),
        "image/svg+xml" | "text/html" | "application/xhtml+xml" | "text/xml" | "application/xml"
    )
}

/// File names a server hands out as such documents (by extension, any case).
fn named_as_page(filename: &[u8]) -> bool {
    let name = super::trim(filename);
    [
        &b".svg"[..],
        b".html",
        b".htm",
        b".xhtml",
        b".shtml",
        b".xml",
    ]
    .iter()
    .any(|ext| name.len() >= ext.len() && name[name.len() - ext.len()..].eq_ignore_ascii_case(ext))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::CollectingSink;

    const CT: &[u8] = b"multipart/form-data; boundary=XyZ";

    fn run(ct: &[u8], body: &[u8], files: bool) -> CollectingSink {
        let mut s = CollectingSink::default();
        decode_multipart(
            ct,
            body,
            Limits {
                max_depth: 8,
                inspect_file_contents: files,
            },
            &mut s,
        );
        s
    }

    #[test]
    fn fields_and_files() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.pdf\"\r\nContent-Type: text/plain\r\n\r\nsecret\r\n--XyZ--\r\n";
        let s = run(CT, body, false);
        let got: Vec<(String, String)> = s
            .leaves
            .iter()
            .map(|(n, v, _)| (n.clone(), String::from_utf8_lossy(v).into_owned()))
            .collect();
        assert!(
            got.contains(&("multipart:note".into(), "hello".into())),
            "{got:?}"
        );
        assert!(got.contains(&("filenames:f".into(), "a.pdf".into())));
        assert!(!got.iter().any(|(_, v)| v == "secret"));
        assert!(s.signals.is_empty(), "{:?}", s.signals);
        let s = run(CT, body, true);
        assert!(s.leaves.iter().any(|(_, v, _)| v == b"secret"));
    }

    #[test]
    fn framing_signals() {
        assert!(run(b"multipart/form-data", b"x", false)
            .signals
            .contains(&Signal::MultipartMalformed));
        let unterminated = b"--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv";
        assert!(run(CT, unterminated, false)
            .signals
            .contains(&Signal::MultipartMalformed));
        let dup = b"multipart/form-data; boundary=XyZ; boundary=Other";
        assert!(run(dup, b"--XyZ--", false)
            .signals
            .contains(&Signal::MultipartAmbiguous));
        let nodisp = b"--XyZ\r\nContent-Type: text/plain\r\n\r\nv\r\n--XyZ--";
        assert!(run(CT, nodisp, false)
            .signals
            .contains(&Signal::MultipartMalformed));
    }

    #[test]
    fn transfer_encodings_that_change_the_bytes_are_ambiguous() {
        let part = |cte: &str| {
            format!("--XyZ\r\nContent-Disposition: form-data; name=\"q\"\r\nContent-Transfer-Encoding: {cte}\r\n\r\nMScgb3IgMT0xLS0=\r\n--XyZ--")
        };
        for cte in ["base64", "Quoted-Printable", "x-uuencode"] {
            let s = run(CT, part(cte).as_bytes(), false);
            assert_eq!(s.signals, vec![Signal::MultipartAmbiguous], "{cte}");
        }
        for cte in ["binary", "8bit", "7BIT"] {
            let s = run(CT, part(cte).as_bytes(), false);
            assert!(s.signals.is_empty(), "{cte}: {:?}", s.signals);
        }
    }

    #[test]
    fn content_after_the_closing_delimiter_is_ambiguous_and_inspected() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"q\"\r\n\r\nhello\r\n--XyZ--\r\n--XyZ\r\nContent-Disposition: form-data; name=\"z\"\r\n\r\n' or 1=1--\r\n--XyZ--\r\n";
        let s = run(CT, body, false);
        assert_eq!(s.signals, vec![Signal::MultipartAmbiguous]);
        assert!(s
            .leaves
            .iter()
            .any(|(n, v, _)| n == "body" && v.windows(7).any(|w| w == b"or 1=1-")));
        // Blank lines after the closing delimiter are nothing.
        let clean =
            b"--XyZ\r\nContent-Disposition: form-data; name=\"q\"\r\n\r\nhello\r\n--XyZ--\r\n\r\n";
        assert!(run(CT, clean, false).signals.is_empty());
    }

    #[test]
    fn a_field_labelled_as_media_is_inspected_unless_it_is_media() {
        // Frameworks give the app a field part as a string, whatever its type says.
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"q\"\r\nContent-Type: image/png\r\n\r\n1' union select 1--\r\n--XyZ\r\nContent-Disposition: form-data; name=\"img\"\r\nContent-Type: image/png\r\n\r\n\x89PNG\r\n\x1a\n\0\0\0\rIHDR<x>\r\n--XyZ--";
        let s = run(CT, body, false);
        let names: Vec<&str> = s.leaves.iter().map(|(n, _, _)| n.as_str()).collect();
        assert!(
            s.leaves
                .iter()
                .any(|(n, v, _)| n == "multipart:q" && v == b"1' union select 1--"),
            "{names:?}"
        );
        assert!(!names.contains(&"multipart:img"), "{names:?}");
    }

    #[test]
    fn files_a_browser_renders_are_inspected_even_when_files_are_not() {
        let part = |filename: &str, ct: &str| {
            format!("--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"{filename}\"\r\nContent-Type: {ct}\r\n\r\n<svg onload=alert(1)>\r\n--XyZ--")
        };
        // Inspected: as text (a leaf holds the markup) or as XML (active content signalled).
        let seen = |body: String| {
            let s = run(CT, body.as_bytes(), false);
            s.leaves.iter().any(|(_, v, _)| v.starts_with(b"<svg"))
                || s.signals.contains(&Signal::XmlActiveContent)
        };
        assert!(seen(part("logo.svg", "image/svg+xml")));
        assert!(seen(part("logo.SVG", "application/octet-stream")));
        assert!(seen(part("page.html", "text/html")));
        assert!(seen(part("x.bin", "text/html")));
        // Other files stay uninspected unless file contents are.
        assert!(!seen(part("scan.pdf", "application/pdf")));
        assert!(!seen(part("notes.txt", "text/plain")));
    }

    #[test]
    fn json_part_decoded() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"meta\"\r\nContent-Type: application/json\r\n\r\n{\"a\":\"b\"}\r\n--XyZ--";
        let s = run(CT, body, false);
        assert!(s
            .leaves
            .iter()
            .any(|(n, v, _)| n == "json:$.a" && v == b"b"));
    }
}
