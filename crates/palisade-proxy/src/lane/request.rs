//! The lane's view of a request head: parsed in place (httparse, no copies), accepted only when it
//! is one of the plain requests the lane serves, and rewritten for the app.
//!
//! Acceptance is deliberately narrow. A head the lane does not accept is not refused here: it goes
//! to Pingora's path with the bytes already read, and every check there (limits, framing, the 400
//! for a malformed head) applies exactly as before. So the lane can only ever serve a subset of
//! what the ordinary path would have served, never something it would have refused.

use std::net::IpAddr;

use http::header::HeaderName;
use palisade_access::HeaderLookup;
use palisade_policy::LimitsPolicy;

use super::push_field;
use crate::limits::check_raw_head;
use crate::service::RequestFacts;

/// Header fields the lane parses; a head with more goes the ordinary way.
pub(crate) const MAX_HEADERS: usize = 64;

/// A head the lane serves: an HTTP/1.1 `GET`, `HEAD`, `DELETE` or `OPTIONS` without a body, or
/// a `POST`, `PUT` or `PATCH` whose body is framed by one plain `Content-Length`, with an
/// origin-form target.
#[derive(Debug)]
pub(crate) struct LaneHead<'h, 'b> {
    /// `GET`, `HEAD`, `DELETE`, `OPTIONS`, `POST`, `PUT` or `PATCH`.
    pub method: &'b str,
    /// The request-target as received.
    pub target: &'b str,
    /// The target up to `?`.
    pub path: &'b str,
    /// The target after `?`.
    pub query: Option<&'b str>,
    /// The header fields in order, names as sent.
    pub headers: &'h [httparse::Header<'b>],
    /// The client asked to close the connection after this response.
    pub close: bool,
    /// The body's length (its `Content-Length`); 0 for the methods without a body.
    pub body_len: usize,
}

/// What parsing a complete head found.
#[derive(Debug)]
pub(crate) enum Parsed<'h, 'b> {
    /// A head the lane serves.
    Lane(LaneHead<'h, 'b>),
    /// Anything else: Pingora's path takes it.
    Ordinary,
}

impl<'h, 'b> LaneHead<'h, 'b> {
    /// Parses `raw`, a complete head (request line to the empty line, nothing after it), and
    /// decides whether the lane may serve it under `limits`, with a body of at most `max_body`
    /// bytes (larger bodies are the ordinary path's: it streams, holds or refuses them).
    pub(crate) fn parse(
        raw: &'b [u8],
        headers: &'h mut [httparse::Header<'b>; MAX_HEADERS],
        limits: &LimitsPolicy,
        max_body: usize,
    ) -> Parsed<'h, 'b> {
        let mut req = httparse::Request::new(headers);
        match req.parse(raw) {
            Ok(httparse::Status::Complete(n)) if n == raw.len() => {}
            // Partial (leading empty lines), too many fields, or malformed: Pingora decides.
            _ => return Parsed::Ordinary,
        }
        let (Some(method), Some(target), Some(1)) = (req.method, req.path, req.version) else {
            return Parsed::Ordinary;
        };
        let with_body = match method {
            "GET" | "HEAD" | "DELETE" | "OPTIONS" => false,
            "POST" | "PUT" | "PATCH" => true,
            _ => return Parsed::Ordinary,
        };
        if !plain_origin_form(target, limits) {
            return Parsed::Ordinary;
        }
        let headers: &'h [httparse::Header<'b>] = req.headers;
        let Some((close, content_length)) = plain_fields(headers, limits) else {
            return Parsed::Ordinary;
        };
        // A body only where the method has one, framed by exactly one Content-Length of plain
        // digits (no sign, no list, no spaces): anything looser is for Pingora's parser to judge.
        let body_len = match (with_body, content_length) {
            (false, None) => 0,
            (true, Some(v)) => match plain_length(v) {
                Some(n) if n <= max_body => n,
                _ => return Parsed::Ordinary,
            },
            _ => return Parsed::Ordinary,
        };
        // Line endings, folding and stray Content-Length lines: what the parsed view hides.
        if check_raw_head(raw, false).is_some() {
            return Parsed::Ordinary;
        }
        let (path, query) = match target.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (target, None),
        };
        if query.is_some_and(|q| q.split('&').filter(|p| !p.is_empty()).count() > limits.max_args) {
            return Parsed::Ordinary;
        }
        Parsed::Lane(LaneHead {
            method,
            target,
            path,
            query,
            headers,
            close,
            body_len,
        })
    }

    /// Every value of a header, in order.
    pub(crate) fn values<'s>(
        &'s self,
        name: &'s HeaderName,
    ) -> impl Iterator<Item = &'b [u8]> + 's {
        self.headers
            .iter()
            .filter(move |h| h.name.eq_ignore_ascii_case(name.as_str()))
            .map(|h| h.value)
    }

    /// Writes the head the app receives into `out` (cleared first): HTTP/1.1, the client's
    /// fields as sent except `Connection` (about the client's connection, not the app's), the
    /// request id when it is not already the request's own single `X-Request-Id`, and — when
    /// no trusted router set them — `X-Forwarded-For` / `-Proto` from the socket.
    pub(crate) fn write_upstream(
        &self,
        out: &mut Vec<u8>,
        request_id: &str,
        from_socket: Option<IpAddr>,
    ) {
        out.clear();
        out.extend_from_slice(self.method.as_bytes());
        out.push(b' ');
        out.extend_from_slice(self.target.as_bytes());
        out.extend_from_slice(b" HTTP/1.1\r\n");
        let id_is_own = {
            let mut ids = self.values(&X_REQUEST_ID);
            ids.next() == Some(request_id.as_bytes()) && ids.next().is_none()
        };
        for h in self.headers {
            let name = h.name;
            let skip = name.eq_ignore_ascii_case("connection")
                || (!id_is_own && name.eq_ignore_ascii_case("x-request-id"))
                || (from_socket.is_some()
                    && (name.eq_ignore_ascii_case("x-forwarded-for")
                        || name.eq_ignore_ascii_case("x-forwarded-proto")));
            if !skip {
                push_field(out, name.as_bytes(), h.value);
            }
        }
        if !id_is_own {
            push_field(out, b"x-request-id", request_id.as_bytes());
        }
        if let Some(peer) = from_socket {
            // As the ordinary path: the first X-Forwarded-For value the client sent, then the
            // peer (the app decides how much of the chain to trust).
            out.extend_from_slice(b"x-forwarded-for: ");
            if let Some(prev) = self.values(&X_FORWARDED_FOR).next() {
                out.extend_from_slice(prev);
                out.extend_from_slice(b", ");
            }
            use std::io::Write;
            // Writing to a Vec cannot fail.
            let _ = write!(out, "{peer}");
            out.extend_from_slice(b"\r\n");
            push_field(out, b"x-forwarded-proto", b"http");
        }
        out.extend_from_slice(b"\r\n");
    }
}

static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// An origin-form target within `max_uri_length` made only of the characters RFC 3986 allows
/// in a path and query. Anything else (`<`, `"`, spaces, non-ASCII, a fragment) goes to Pingora,
/// whose URI parser decides between accepting it and a 400.
fn plain_origin_form(target: &str, limits: &LimitsPolicy) -> bool {
    target.len() <= limits.max_uri_length
        && target.starts_with('/')
        && target.bytes().all(|b| URI_BYTE[usize::from(b)])
}

/// Bytes of a path or query (RFC 3986 `pchar`, `/`, `?`, and `%` of percent-encoding).
static URI_BYTE: [bool; 256] = {
    let mut t = [false; 256];
    let allowed =
        b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=:@/?%";
    let mut i = 0;
    while i < allowed.len() {
        t[allowed[i] as usize] = true;
        i += 1;
    }
    t
};

/// A `Content-Length` value of 1 to 10 ASCII digits.
fn plain_length(v: &[u8]) -> Option<usize> {
    if v.is_empty() || v.len() > 10 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(v).ok()?.parse().ok()
}

/// Checks the header fields: within the count and size limits, exactly one `Host` (without
/// userinfo), at most one `Content-Length`, no other framing fields, no hop-by-hop fields but one
/// plain `Connection`. Returns whether the client asked to close and the `Content-Length` value,
/// or `None` when the lane must not serve the head.
fn plain_fields<'b>(
    headers: &[httparse::Header<'b>],
    limits: &LimitsPolicy,
) -> Option<(bool, Option<&'b [u8]>)> {
    if headers.len() > limits.max_header_count {
        return None;
    }
    let mut bytes = 0usize;
    let mut hosts = 0;
    let mut connection: Option<&[u8]> = None;
    let mut content_length: Option<&'b [u8]> = None;
    for h in headers {
        bytes += h.name.len() + h.value.len();
        let name = h.name;
        if name.eq_ignore_ascii_case("host") {
            hosts += 1;
            if h.value.contains(&b'@') {
                return None;
            }
        } else if name.eq_ignore_ascii_case("connection") {
            if connection.is_some() {
                return None;
            }
            connection = Some(h.value.trim_ascii());
        } else if name.eq_ignore_ascii_case("content-length") {
            if content_length.is_some() {
                return None;
            }
            content_length = Some(h.value);
        } else if ORDINARY_PATH_FIELDS
            .iter()
            .any(|f| name.eq_ignore_ascii_case(f))
        {
            return None;
        }
    }
    if hosts != 1 || bytes > limits.max_header_bytes {
        return None;
    }
    let close = match connection {
        None => false,
        Some(v) if v.eq_ignore_ascii_case(b"keep-alive") => false,
        Some(v) if v.eq_ignore_ascii_case(b"close") => true,
        Some(_) => return None,
    };
    Some((close, content_length))
}

/// Fields whose handling (bodies, upgrades, hop-by-hop nominations, proxy credentials) is the
/// ordinary path's.
const ORDINARY_PATH_FIELDS: &[&str] = &[
    "transfer-encoding",
    "upgrade",
    "te",
    "trailer",
    "expect",
    "proxy-authorization",
    "proxy-authenticate",
    "keep-alive",
    "proxy-connection",
    "http2-settings",
];

impl RequestFacts for LaneHead<'_, '_> {
    fn method(&self) -> &str {
        self.method
    }

    fn path(&self) -> &str {
        self.path
    }

    fn query(&self) -> Option<&str> {
        self.query
    }

    fn first_header(&self, name: &HeaderName) -> Option<&[u8]> {
        self.values(name).next()
    }
}

impl HeaderLookup for LaneHead<'_, '_> {
    fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn limits() -> LimitsPolicy {
        LimitsPolicy::default()
    }

    /// The lane's body cap in these tests.
    const MAX_BODY: usize = 1000;

    fn lane(raw: &[u8]) -> bool {
        body_len(raw).is_some()
    }

    /// The body length of a head the lane serves.
    fn body_len(raw: &[u8]) -> Option<usize> {
        let mut h = [httparse::EMPTY_HEADER; MAX_HEADERS];
        match LaneHead::parse(raw, &mut h, &limits(), MAX_BODY) {
            Parsed::Lane(head) => Some(head.body_len),
            Parsed::Ordinary => None,
        }
    }

    #[test]
    fn plain_gets_and_heads_take_the_lane() {
        assert!(lane(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
        assert!(lane(
            b"HEAD /p/a.b?x=1&y=%20 HTTP/1.1\r\nHost: a\r\nUser-Agent: u\r\nConnection: close\r\n\r\n"
        ));
        assert!(lane(
            b"GET / HTTP/1.1\r\nhost: a\r\nconnection:  Keep-Alive \r\nX-Forwarded-For: 1.2.3.4\r\n\r\n"
        ));
        // An empty line before the request line is ignored (RFC 9112 §2.2), as Pingora does.
        assert!(lane(b"\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"));
        assert_eq!(body_len(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"), Some(0));
        // REST deletes and CORS preflights, without a body.
        assert_eq!(
            body_len(b"DELETE /r/7 HTTP/1.1\r\nHost: a\r\n\r\n"),
            Some(0)
        );
        assert_eq!(
            body_len(b"OPTIONS /api HTTP/1.1\r\nHost: a\r\nOrigin: https://b\r\nAccess-Control-Request-Method: PUT\r\n\r\n"),
            Some(0)
        );
    }

    #[test]
    fn bodies_framed_by_one_plain_content_length_take_the_lane() {
        for (raw, n) in [
            (&b"POST /f HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n"[..], 5),
            (b"PUT /f HTTP/1.1\r\nHost: a\r\ncontent-length: 0\r\n\r\n", 0),
            (b"PATCH /f HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\nContent-Type: application/json\r\n\r\n", MAX_BODY),
        ] {
            assert_eq!(body_len(raw), Some(n), "{:?}", String::from_utf8_lossy(raw));
        }
        for raw in [
            // Over the lane's cap: the ordinary path holds, streams or refuses it.
            &b"POST /f HTTP/1.1\r\nHost: a\r\nContent-Length: 1001\r\n\r\n"[..],
            b"POST /f HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999\r\n\r\n",
            // No framing, or framing Pingora must judge.
            b"POST /f HTTP/1.1\r\nHost: a\r\n\r\n",
            b"POST /f HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"POST /f HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"POST /f HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
            b"POST /f HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n",
            b"POST /f HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n",
            b"POST /f HTTP/1.1\r\nHost: a\r\nContent-Length: 0x5\r\n\r\n",
            b"POST /f HTTP/1.1\r\nHost: a\r\nContent-Length: \r\n\r\n",
            b"POST /f HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
            b"DELETE /f HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n",
            b"POST /f HTTP/1.0\r\nHost: a\r\nContent-Length: 5\r\n\r\n",
        ] {
            assert!(!lane(raw), "{:?}", String::from_utf8_lossy(raw));
        }
    }

    #[test]
    fn everything_else_goes_the_ordinary_way() {
        for raw in [
            &b"GET / HTTP/1.0\r\nHost: a\r\n\r\n"[..],
            b"GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n",
            b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
            b"OPTIONS /api HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
            b"TRACE / HTTP/1.1\r\nHost: a\r\n\r\n",
            b"GET /<script> HTTP/1.1\r\nHost: a\r\n\r\n",
            b"GET /a#f HTTP/1.1\r\nHost: a\r\n\r\n",
            b"GET / HTTP/1.1\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: u@a\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close, x-secret\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\nConnection: close\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\nKeep-Alive: timeout=5\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\nTE: trailers\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n",
            b"GET / HTTP/1.1\nHost: a\n\n",
            b"GET / HTTP/1.1\r\nHost: a\r\n",
            b"GET / HTTP/1.1\r\nHo st: a\r\n\r\n",
        ] {
            assert!(!lane(raw), "{:?}", String::from_utf8_lossy(raw));
        }
    }

    #[test]
    fn limits_send_a_head_the_ordinary_way() {
        let mut l = limits();
        l.max_uri_length = 8;
        l.max_header_count = 2;
        l.max_args = 1;
        let ok = b"GET /a?b=1 HTTP/1.1\r\nHost: a\r\n\r\n";
        let mut h = [httparse::EMPTY_HEADER; MAX_HEADERS];
        assert!(matches!(
            LaneHead::parse(ok, &mut h, &l, MAX_BODY),
            Parsed::Lane(_)
        ));
        for raw in [
            &b"GET /abcdefghij HTTP/1.1\r\nHost: a\r\n\r\n"[..],
            b"GET /?a&b HTTP/1.1\r\nHost: a\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n",
        ] {
            let mut h = [httparse::EMPTY_HEADER; MAX_HEADERS];
            assert!(matches!(
                LaneHead::parse(raw, &mut h, &l, MAX_BODY),
                Parsed::Ordinary
            ));
        }
        let many: String = (0..70).map(|i| format!("X-{i}: v\r\n")).collect();
        let raw = format!("GET / HTTP/1.1\r\nHost: a\r\n{many}\r\n");
        assert!(!lane(raw.as_bytes()), "more fields than the lane parses");
    }

    fn upstream(raw: &[u8], id: &str, from_socket: Option<IpAddr>) -> String {
        let mut h = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let Parsed::Lane(head) = LaneHead::parse(raw, &mut h, &limits(), MAX_BODY) else {
            panic!("not a lane head");
        };
        let mut out = Vec::new();
        head.write_upstream(&mut out, id, from_socket);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn the_app_gets_the_head_as_sent_minus_connection() {
        let id = "abcdefghijklmnopqrstuvwxyz";
        let raw = format!(
            "GET /a?b=c HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\nX-Request-Id: {id}\r\nX-Forwarded-For: 9.9.9.9\r\nX-Forwarded-Proto: https\r\n\r\n"
        );
        assert_eq!(
            upstream(raw.as_bytes(), id, None),
            format!("GET /a?b=c HTTP/1.1\r\nHost: h\r\nX-Request-Id: {id}\r\nX-Forwarded-For: 9.9.9.9\r\nX-Forwarded-Proto: https\r\n\r\n")
        );
    }

    #[test]
    fn a_replaced_id_and_socket_forwarding_are_written_once() {
        let raw = b"HEAD / HTTP/1.1\r\nhost: h\r\nx-request-id: short\r\nx-forwarded-for: 9.9.9.9\r\nx-forwarded-for: 8.8.8.8\r\nx-forwarded-proto: https\r\n\r\n";
        let peer: IpAddr = "127.0.0.1".parse().unwrap();
        assert_eq!(
            upstream(raw, "generated-id-0123456789", Some(peer)),
            "HEAD / HTTP/1.1\r\nhost: h\r\nx-request-id: generated-id-0123456789\r\nx-forwarded-for: 9.9.9.9, 127.0.0.1\r\nx-forwarded-proto: http\r\n\r\n"
        );
    }

    #[test]
    fn facts_and_lookups_see_the_fields() {
        let raw = b"GET /p?q=1 HTTP/1.1\r\nHost: h\r\nUser-Agent: ua\r\nX-Scanner: one\r\nx-scanner: two\r\n\r\n";
        let mut h = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let Parsed::Lane(head) = LaneHead::parse(raw, &mut h, &limits(), MAX_BODY) else {
            panic!("not a lane head");
        };
        assert_eq!(RequestFacts::path(&head), "/p");
        assert_eq!(RequestFacts::query(&head), Some("q=1"));
        assert_eq!(
            head.first_header(&http::header::USER_AGENT),
            Some(&b"ua"[..])
        );
        assert_eq!(head.header("X-SCANNER"), Some(&b"one"[..]));
        assert_eq!(head.header("x-wipp"), None);
        assert!(!head.close);
    }
}
