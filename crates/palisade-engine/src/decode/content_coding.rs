//! A request body's `Content-Encoding`, undone before the body is decoded.
//!
//! Frameworks inflate compressed request bodies on their own: Express's body-parser does for
//! `gzip` and `deflate` by default. A WAF that inspected the compressed bytes would pass any
//! attack an app decompresses, so the engine inspects what the app will read: `gzip` (and
//! `x-gzip`) and `deflate` (zlib, or raw deflate as some clients send it) are inflated, up to
//! the inspection limit. A coding the engine cannot undo (`br`, `zstd`, `compress`, two codings
//! stacked), a stream that does not inflate whole (corrupt, truncated, bytes after its end), or
//! one that inflates past the limit is a signal: the body's content was not, or not entirely,
//! seen.

use std::io::Read;

/// What a request's `Content-Encoding` fields ask of its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ContentCoding {
    /// No coding, or only `identity`.
    #[default]
    Identity,
    /// `gzip` or `x-gzip` (RFC 9110 §8.4.1.3).
    Gzip,
    /// `deflate`: a zlib stream (RFC 9110 §8.4.1.2), or raw deflate.
    Deflate,
    /// Anything else, or more than one coding.
    Unsupported,
}

impl ContentCoding {
    /// The coding after one more `Content-Encoding` field (a request may send several, and each
    /// may list codings, comma-separated, in the order they were applied).
    pub fn and_field(self, value: &[u8]) -> ContentCoding {
        value
            .split(|&b| b == b',')
            .map(super::trim)
            .filter(|token| !token.is_empty() && !token.eq_ignore_ascii_case(b"identity"))
            .fold(self, |coding, token| {
                let next = if token.eq_ignore_ascii_case(b"gzip")
                    || token.eq_ignore_ascii_case(b"x-gzip")
                {
                    ContentCoding::Gzip
                } else if token.eq_ignore_ascii_case(b"deflate") {
                    ContentCoding::Deflate
                } else {
                    ContentCoding::Unsupported
                };
                // Only a single coding is undone; a second one is as opaque as an unknown one.
                match coding {
                    ContentCoding::Identity => next,
                    _ => ContentCoding::Unsupported,
                }
            })
    }
}

/// How inflating a body went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inflated {
    /// The whole stream, within the limit.
    Whole,
    /// The stream is corrupt, truncated, or followed by other bytes; the output holds what
    /// inflated before the fault.
    Malformed,
    /// The stream inflates past the limit; the output holds its first `limit` bytes.
    TooLarge,
}

/// Inflates `body`, compressed with `coding` (`Gzip` or `Deflate`), into `out`, at most `limit`
/// bytes of it. Any other coding leaves `out` empty and reports `Malformed`.
pub fn inflate(coding: ContentCoding, body: &[u8], limit: usize, out: &mut Vec<u8>) -> Inflated {
    out.clear();
    // One byte past the limit tells "exactly the limit" from "more".
    let cap = limit as u64 + 1;
    // Reads at most `cap` bytes; `rest` is the input the decoder left unread.
    let (read, rest) = match coding {
        // Every member, as gunzip and Node's zlib read them: a second member is more content.
        ContentCoding::Gzip => {
            let mut d = flate2::bufread::MultiGzDecoder::new(body);
            ((&mut d).take(cap).read_to_end(out), d.get_ref().len())
        }
        ContentCoding::Deflate if is_zlib_header(body) => {
            let mut d = flate2::bufread::ZlibDecoder::new(body);
            ((&mut d).take(cap).read_to_end(out), d.get_ref().len())
        }
        ContentCoding::Deflate => {
            let mut d = flate2::bufread::DeflateDecoder::new(body);
            ((&mut d).take(cap).read_to_end(out), d.get_ref().len())
        }
        ContentCoding::Identity | ContentCoding::Unsupported => return Inflated::Malformed,
    };
    if out.len() > limit {
        out.truncate(limit);
        return Inflated::TooLarge;
    }
    // Bytes after the end of the stream are content the app may read some other way.
    if read.is_err() || rest != 0 {
        return Inflated::Malformed;
    }
    Inflated::Whole
}

/// A zlib header (RFC 1950 §2.2): deflate method, a window the format allows, and the check bits.
fn is_zlib_header(body: &[u8]) -> bool {
    match body {
        [cmf, flg, ..] => {
            cmf & 0x0f == 8 && cmf >> 4 <= 7 && (u16::from(*cmf) << 8 | u16::from(*flg)) % 31 == 0
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::bench_fixtures::{gzip, raw_deflate, zlib};

    fn run(coding: ContentCoding, body: &[u8], limit: usize) -> (Inflated, Vec<u8>) {
        let mut out = Vec::new();
        let r = inflate(coding, body, limit, &mut out);
        (r, out)
    }

    const FORM: &[u8] = b"name=x&q=1' union select password from users--";

    #[test]
    fn codings_from_fields() {
        let c = |fields: &[&str]| {
            fields
                .iter()
                .fold(ContentCoding::Identity, |c, f| c.and_field(f.as_bytes()))
        };
        assert_eq!(c(&[]), ContentCoding::Identity);
        assert_eq!(c(&["identity"]), ContentCoding::Identity);
        assert_eq!(c(&[" GZip "]), ContentCoding::Gzip);
        assert_eq!(c(&["x-gzip"]), ContentCoding::Gzip);
        assert_eq!(c(&["identity, deflate"]), ContentCoding::Deflate);
        assert_eq!(c(&["br"]), ContentCoding::Unsupported);
        assert_eq!(c(&["zstd"]), ContentCoding::Unsupported);
        assert_eq!(c(&["gzip, gzip"]), ContentCoding::Unsupported);
        assert_eq!(c(&["deflate", "gzip"]), ContentCoding::Unsupported);
        assert_eq!(c(&["gzip", "br"]), ContentCoding::Unsupported);
        assert_eq!(c(&["gzip", ""]), ContentCoding::Gzip);
    }

    #[test]
    fn gzip_and_both_deflate_forms_inflate_whole() {
        for (coding, body) in [
            (ContentCoding::Gzip, gzip(FORM)),
            (ContentCoding::Deflate, zlib(FORM)),
            (ContentCoding::Deflate, raw_deflate(FORM)),
        ] {
            assert_eq!(run(coding, &body, 1024), (Inflated::Whole, FORM.to_vec()));
        }
    }

    #[test]
    fn every_gzip_member_is_read() {
        let mut body = gzip(b"name=x&");
        body.extend(gzip(b"q=<script>alert(1)</script>"));
        let (r, out) = run(ContentCoding::Gzip, &body, 1024);
        assert_eq!(r, Inflated::Whole);
        assert_eq!(out, b"name=x&q=<script>alert(1)</script>");
    }

    #[test]
    fn corrupt_truncated_or_trailing_bytes_are_malformed() {
        let whole = gzip(FORM);
        let mut trailing = whole.clone();
        trailing.extend_from_slice(b"&q=<script>");
        let mut zlib_trailing = zlib(FORM);
        zlib_trailing.extend_from_slice(b"&q=<script>");
        let mut corrupt = whole.clone();
        corrupt[12] ^= 0xff;
        for (coding, body) in [
            (ContentCoding::Gzip, &whole[..whole.len() - 6]),
            (ContentCoding::Gzip, &trailing[..]),
            (ContentCoding::Gzip, &corrupt[..]),
            (ContentCoding::Gzip, FORM),
            (ContentCoding::Deflate, &zlib_trailing[..]),
            (ContentCoding::Deflate, FORM),
        ] {
            assert_eq!(run(coding, body, 1024).0, Inflated::Malformed, "{body:?}");
        }
        // What inflated before the fault is kept for inspection.
        let (r, out) = run(ContentCoding::Gzip, &trailing, 1024);
        assert_eq!(r, Inflated::Malformed);
        assert_eq!(out, FORM);
    }

    #[test]
    fn inflating_stops_at_the_limit() {
        // A small "bomb": 4 MiB of zeros in about 4 KiB.
        let bomb = gzip(&vec![0u8; 4 << 20]);
        assert!(bomb.len() < 8192);
        let (r, out) = run(ContentCoding::Gzip, &bomb, 1 << 20);
        assert_eq!(r, Inflated::TooLarge);
        assert_eq!(out.len(), 1 << 20);
        // Exactly the limit is whole.
        let exact = gzip(&[b'a'; 1000]);
        assert_eq!(run(ContentCoding::Gzip, &exact, 1000).0, Inflated::Whole);
        assert_eq!(run(ContentCoding::Gzip, &exact, 999).0, Inflated::TooLarge);
    }

    #[test]
    fn zlib_header_check() {
        assert!(is_zlib_header(&zlib(b"x")));
        assert!(!is_zlib_header(&raw_deflate(b"x")));
        assert!(!is_zlib_header(b"x"));
        assert!(!is_zlib_header(b""));
    }
}
