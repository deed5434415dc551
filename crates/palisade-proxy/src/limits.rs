//! Request-head limits and framing checks (issue #8), applied before anything else looks at the
//! request: sizes and counts, the request-target form, the method, and every way the head could
//! be read two ways (request smuggling). Each violation has its own status and reason.
//!
//! Pingora (0.9.1) has already refused, with 400 and before any filter runs: heads over 1 MiB,
//! more than 256 header fields, invalid tokens, bare CR, a `Transfer-Encoding` whose last coding
//! is not `chunked`, `Transfer-Encoding` on HTTP/1.0, differing `Content-Length` values, and
//! `CONNECT` (405). It *accepts* and normalises some ambiguous heads (it drops `Content-Length`
//! when `Transfer-Encoding` is present, collapses identical duplicate `Content-Length`s, accepts
//! bare-LF line endings): those are refused here from the raw head bytes, so the app never sees a
//! head another parser might have framed differently.

use palisade_policy::LimitsPolicy;
use pingora::http::RequestHeader;

/// Methods forwarded to the app. Anything else (`TRACE`, WebDAV, made-up tokens) gets 405.
pub const ALLOWED_METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

/// Why a request was refused, and with which status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Violation {
    /// The HTTP status Palisade answers.
    pub status: u16,
    /// Short outcome label for the access log.
    pub outcome: &'static str,
    /// A one-line reason for the security event (no request data: it is PHI-free by design).
    pub reason: &'static str,
    /// `true` for framing / protocol abuse, `false` for size and count limits.
    pub protocol: bool,
}

const fn limit(status: u16, outcome: &'static str, reason: &'static str) -> Violation {
    Violation {
        status,
        outcome,
        reason,
        protocol: false,
    }
}

const fn protocol(status: u16, reason: &'static str) -> Violation {
    Violation {
        status,
        outcome: "bad_request",
        reason,
        protocol: true,
    }
}

/// Checks a parsed head (and, for HTTP/1, its raw bytes as received) against the limits.
pub fn check_head(
    req: &RequestHeader,
    raw_head: Option<&[u8]>,
    limits: &LimitsPolicy,
) -> Option<Violation> {
    if !ALLOWED_METHODS.contains(&req.method.as_str()) {
        return Some(protocol(405, "method not allowed"));
    }
    let target = req.raw_path();
    if target.len() > limits.max_uri_length {
        return Some(limit(
            414,
            "uri_too_long",
            "request target over max_uri_length",
        ));
    }
    // Origin-form only (`/path?query`), or `*` for OPTIONS: Palisade is not a forward proxy, and
    // an absolute-form target's authority could disagree with Host.
    let origin_form = target.first() == Some(&b'/');
    let asterisk = target == b"*" && req.method == http::Method::OPTIONS;
    if !origin_form && !asterisk {
        return Some(protocol(
            400,
            "request target not in origin form (absolute-form or authority-form)",
        ));
    }
    if req.headers.len() > limits.max_header_count {
        return Some(limit(
            431,
            "headers_too_large",
            "more header fields than max_header_count",
        ));
    }
    let header_bytes: usize = req
        .headers
        .iter()
        .map(|(n, v)| n.as_str().len() + v.len())
        .sum();
    if header_bytes > limits.max_header_bytes {
        return Some(limit(
            431,
            "headers_too_large",
            "header fields larger than max_header_bytes",
        ));
    }
    if let Some(query) = req.uri.query() {
        let args = query.split('&').filter(|p| !p.is_empty()).count();
        if args > limits.max_args {
            return Some(limit(
                400,
                "too_many_args",
                "more query arguments than max_args",
            ));
        }
    }
    if req.version == http::Version::HTTP_11 {
        let hosts = req.headers.get_all(http::header::HOST).iter().count();
        if hosts != 1 {
            return Some(protocol(400, "HTTP/1.1 request without exactly one Host"));
        }
    }
    check_framing(req, raw_head)
}

/// Body framing: exactly one way to find the end of the body.
fn check_framing(req: &RequestHeader, raw_head: Option<&[u8]>) -> Option<Violation> {
    let te: Vec<&[u8]> = req
        .headers
        .get_all(http::header::TRANSFER_ENCODING)
        .iter()
        .map(|v| v.as_bytes())
        .collect();
    if te.len() > 1
        || te
            .first()
            .is_some_and(|v| !v.trim_ascii().eq_ignore_ascii_case(b"chunked"))
    {
        return Some(protocol(
            400,
            "Transfer-Encoding other than a single `chunked`",
        ));
    }
    let cl: Vec<&[u8]> = req
        .headers
        .get_all(http::header::CONTENT_LENGTH)
        .iter()
        .map(|v| v.as_bytes())
        .collect();
    if cl.len() > 1 || cl.first().is_some_and(|v| !is_decimal(v.trim_ascii())) {
        return Some(protocol(400, "duplicate or malformed Content-Length"));
    }
    if let Some(raw) = raw_head {
        return check_raw_head(raw, !te.is_empty());
    }
    None
}

fn is_decimal(v: &[u8]) -> bool {
    !v.is_empty() && v.len() <= 19 && v.iter().all(u8::is_ascii_digit)
}

/// What only the bytes as received show (Pingora normalises them away in the parsed head): line
/// endings other than CRLF, obsolete line folding, `Content-Length` fields Pingora dropped or
/// collapsed.
pub fn check_raw_head(raw: &[u8], chunked: bool) -> Option<Violation> {
    // Runs on every request: line feeds and carriage returns are found with `memchr` rather
    // than byte by byte, and a field name is compared only as far as `content-length:` reaches.
    let mut content_lengths = 0usize;
    let mut lines = 0usize;
    let mut start = 0usize;
    for end in memchr::memchr_iter(b'\n', raw) {
        if end == start || raw[end - 1] != b'\r' {
            return Some(protocol(400, "bare LF line ending in the request head"));
        }
        let line = &raw[start..end - 1];
        if memchr::memchr(b'\r', line).is_some() {
            return Some(protocol(400, "bare CR in the request head"));
        }
        if line.is_empty() {
            if lines == 0 {
                // Empty lines before the request line are skipped by the parser.
                start = end + 1;
                continue;
            }
            break; // end of head
        }
        if lines > 0 {
            if matches!(line.first(), Some(b' ' | b'\t')) {
                return Some(protocol(400, "obsolete line folding in a header field"));
            }
            if names_content_length(line) {
                content_lengths += 1;
            }
        }
        lines += 1;
        start = end + 1;
    }
    if chunked && content_lengths > 0 {
        return Some(protocol(
            400,
            "both Content-Length and Transfer-Encoding (request smuggling)",
        ));
    }
    if content_lengths > 1 {
        return Some(protocol(400, "duplicate Content-Length"));
    }
    None
}

/// Whether a header line's name (everything before its first `:`, or the whole line) is
/// `Content-Length` in any case.
fn names_content_length(line: &[u8]) -> bool {
    const NAME: &[u8] = b"content-length";
    line.len() >= NAME.len()
        && line[..NAME.len()].eq_ignore_ascii_case(NAME)
        && line.get(NAME.len()).is_none_or(|&b| b == b':')
}

/// The declared body length, when `Content-Length` is a plain decimal number.
pub fn content_length(req: &RequestHeader) -> Option<u64> {
    req.headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| std::str::from_utf8(v.as_bytes()).ok())
        .and_then(|v| v.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn head(method: &str, target: &str, headers: &[(&str, &str)]) -> RequestHeader {
        let mut h = RequestHeader::build(method, target.as_bytes(), None).unwrap();
        for (n, v) in headers {
            h.append_header(n.to_string(), *v).unwrap();
        }
        h
    }

    fn check(h: &RequestHeader) -> Option<u16> {
        check_head(h, None, &LimitsPolicy::default()).map(|v| v.status)
    }

    #[test]
    fn clean_request_passes() {
        let h = head("GET", "/a?b=1&c=2", &[("host", "x")]);
        assert_eq!(check(&h), None);
        let h = head("OPTIONS", "*", &[("host", "x")]);
        assert_eq!(check(&h), None);
    }

    #[test]
    fn each_limit_has_its_status() {
        let long = format!("/{}", "a".repeat(9000));
        assert_eq!(check(&head("GET", &long, &[("host", "x")])), Some(414));
        let many: Vec<(String, String)> =
            (0..101).map(|i| (format!("x-h{i}"), "v".into())).collect();
        let mut h = head("GET", "/", &[("host", "x")]);
        for (n, v) in &many {
            h.append_header(n.clone(), v.as_str()).unwrap();
        }
        assert_eq!(check(&h), Some(431));
        let big = "v".repeat(33 << 10);
        assert_eq!(
            check(&head("GET", "/", &[("host", "x"), ("x-big", big.as_str())])),
            Some(431)
        );
        let q = format!("/?{}", vec!["a=1"; 300].join("&"));
        assert_eq!(check(&head("GET", &q, &[("host", "x")])), Some(400));
    }

    #[test]
    fn methods_and_target_forms() {
        assert_eq!(check(&head("TRACE", "/", &[("host", "x")])), Some(405));
        assert_eq!(check(&head("PROPFIND", "/", &[("host", "x")])), Some(405));
        assert_eq!(
            check(&head("GET", "http://evil/", &[("host", "x")])),
            Some(400)
        );
        assert_eq!(check(&head("GET", "*", &[("host", "x")])), Some(400));
        assert_eq!(check(&head("GET", "/", &[])), Some(400));
        assert_eq!(
            check(&head("GET", "/", &[("host", "x"), ("host", "y")])),
            Some(400)
        );
    }

    #[test]
    fn framing() {
        let te = |v: &str| head("POST", "/", &[("host", "x"), ("transfer-encoding", v)]);
        assert_eq!(check(&te("chunked")), None);
        assert_eq!(check(&te("gzip, chunked")), Some(400));
        let cl = head(
            "POST",
            "/",
            &[
                ("host", "x"),
                ("content-length", "1"),
                ("content-length", "1"),
            ],
        );
        assert_eq!(check(&cl), Some(400));
        let cl = head("POST", "/", &[("host", "x"), ("content-length", "+5")]);
        assert_eq!(check(&cl), Some(400));
    }

    #[test]
    fn raw_head_shows_what_parsing_hid() {
        let ok = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n";
        assert_eq!(check_raw_head(ok, false), None);
        let both = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(check_raw_head(both, true).map(|v| v.status), Some(400));
        let lf = b"GET / HTTP/1.1\nHost: x\n\n";
        assert!(check_raw_head(lf, false).is_some());
        let fold = b"GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n 2\r\n\r\n";
        assert!(check_raw_head(fold, false).is_some());
        let cr = b"GET / HTTP/1.1\r\nHost: x\rX: 1\r\n\r\n";
        assert!(check_raw_head(cr, false).is_some());
        let dup = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\ncontent-length: 1\r\n\r\n";
        assert!(check_raw_head(dup, false).is_some());
        // Leading empty lines do not hide the rest of the head.
        let lead = b"\r\n\r\nPOST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert!(check_raw_head(lead, true).is_some());
        // The body after the head is not looked at.
        let body = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\na\nb";
        assert_eq!(check_raw_head(body, false), None);
    }

    #[test]
    fn content_length_names() {
        // The same answer as taking the name up to the first `:` and comparing it.
        for yes in [
            &b"Content-Length: 1"[..],
            b"content-length:1",
            b"content-length",
        ] {
            assert!(names_content_length(yes), "{yes:?}");
        }
        for no in [
            &b"Content-Lengths: 1"[..],
            b"X-Content-Length: 1",
            b"content-lengt: 1",
            b"content-length-x: 1",
            b"CONTENT-LENGTH :1",
            b"",
        ] {
            assert!(!names_content_length(no), "{no:?}");
        }
    }
}
