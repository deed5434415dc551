//! The app side of the HTTP/1 fast lane: the prepared request head goes to the app, the app's
//! response head is parsed (httparse) and rewritten for the client, and the body is relayed with
//! its framing kept intact.
//!
//! It does what the direct relay through Pingora's client session does (`service/direct_relay.rs`)
//! and what Pingora's server session does to every final response head, without their types:
//! - 1xx interim responses are read and dropped; a 101 nobody asked for is an error.
//! - Hop-by-hop headers (`Connection`, `Keep-Alive`, `Proxy-Connection`, and the fields the
//!   app's `Connection` nominates, RFC 9110 §7.6.1) and the app's `Date` are dropped; Palisade
//!   writes its cached `date` and `connection: keep-alive|close`. (Pingora's path drops the
//!   nominated fields in `response_filter`, with the same [`nominated_fields`].)
//! - The response-header policy is applied (removals, additions that override the app or respect
//!   it) and `x-request-id` is added when none of the app's is forwarded.
//! - A chunked body passes through byte for byte; a `Content-Length` body is copied exactly; a body
//!   the app ends by closing is re-framed chunked so the client connection survives; a body in a
//!   transfer coding Palisade does not frame is passed through raw and ends the client connection.
//! - `Content-Length` next to `Transfer-Encoding` is dropped (as Pingora does) and, the response
//!   being suspect, the app connection is not reused.
//!
//! This is the hot path for small responses: the client head is built in a reusable buffer, sent
//! in one write together with whatever body came with the app's head, and flushed once.

use std::io;
use std::mem::MaybeUninit;
use std::time::Duration;

use pingora::prelude::timeout;
use pingora::protocols::http::date::get_cached_date;
use pingora::{Error, ErrorType};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::chunked::ChunkedEnd;
use super::push_field;
use crate::headers::{nominated_fields, ResponseHeaderPolicy};

/// Most header lines an app response head may have (as Pingora's own limit).
const MAX_HEADERS: usize = 128;
/// Largest app response head.
const MAX_HEAD: usize = 256 * 1024;
/// Most interim (1xx) responses before the final one: an app sending them forever is broken.
const MAX_INTERIM: usize = 16;
/// Spare room ensured in the read buffer before reading a response head: a small response (head
/// and body) arrives in one read.
const HEAD_READ: usize = 16 * 1024;
/// Spare room ensured before reading more of a body: large bodies move in large pieces.
const BODY_READ: usize = 64 * 1024;

/// How the client's response head is written.
pub(crate) struct ResponseRules<'a> {
    /// Security headers to add / app headers to remove (crate::headers::ResponseHeaderPolicy).
    pub policy: &'a ResponseHeaderPolicy,
    /// Value for `x-request-id` when the app's response carries none.
    pub request_id: &'a [u8],
    /// The request was HEAD: no body follows whatever the response head says.
    pub head_request: bool,
    /// Palisade keeps the client connection after this response (false while shutting down or
    /// when the client sent `Connection: close`).
    pub keep_client: bool,
}

/// A response relayed in full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Relayed {
    /// The final response's status.
    pub status: u16,
    /// Body bytes relayed, without chunk framing (the body's decoded length).
    pub body_bytes: u64,
    /// The app connection can take another request.
    pub app_reusable: bool,
    /// The client connection can take another request (what `connection:` told the client).
    pub client_reusable: bool,
}

/// Why a relay failed, by what the client has already seen.
#[derive(Debug)]
pub(crate) enum RelayError {
    /// Nothing was written to the client yet: the caller answers with its own 502/504 page.
    /// `nothing_received`: not one byte came from the app and the failure was end-of-stream, a
    /// reset or a write error (never a timeout) — on a reused pooled connection the caller
    /// retries once on a fresh one.
    BeforeHead {
        /// What failed (`into_up` for the app's side, `into_down` for the client's).
        error: Box<Error>,
        /// See above.
        nothing_received: bool,
    },
    /// The client already has the response head (status given); the body broke off. The caller
    /// closes the client connection.
    AfterHead {
        /// What failed.
        error: Box<Error>,
        /// The status the client was sent.
        status: u16,
        /// Body bytes relayed before the failure.
        body_bytes: u64,
    },
}

/// How the app delimits the response body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Body {
    /// No body (HEAD, 204, 304).
    Empty,
    /// `Content-Length` bytes.
    Length(u64),
    /// Chunked: passed through as it is.
    Chunked,
    /// Until the app closes; re-framed chunked for the client.
    Rechunk,
    /// Until the app closes, in a transfer coding Palisade does not frame: passed through raw,
    /// and the client connection ends with it.
    Raw,
}

/// What the app's final response head said, once the client's head is built.
#[derive(Debug, Clone, Copy)]
struct Head {
    status: u16,
    /// Length of the app's head in the read buffer (body bytes follow it).
    len: usize,
    body: Body,
    /// The app's head allows another request on its connection.
    app_keepalive: bool,
    client_reusable: bool,
}

/// Sends `request` (its parts in order: the head, then any body) to the app and relays its
/// response to `client`. (A large body is written from where it was read rather than copied
/// after the head: a 100 KB JSON body is one copy less.)
///
/// `buf` receives what the app sends and `out` holds what goes to the client; both are the
/// caller's per-connection scratch buffers, cleared here and grown as needed (never shrunk), so
/// that a request allocates nothing once they have grown to fit. Each read from (and the write
/// to) the app is bounded by `read_timeout`; writes to the client are not (the caller's
/// slow-client rules apply to the client connection).
pub(crate) async fn relay<A, C>(
    app: &mut A,
    client: &mut C,
    request: &[&[u8]],
    rules: &ResponseRules<'_>,
    read_timeout: Duration,
    buf: &mut Vec<u8>,
    out: &mut Vec<u8>,
) -> Result<Relayed, RelayError>
where
    A: AsyncRead + AsyncWrite + Unpin,
    C: AsyncWrite + Unpin,
{
    buf.clear();
    out.clear();
    send_request(app, request, read_timeout).await?;
    let head = read_head(app, rules, read_timeout, buf, out).await?;
    relay_body(app, client, read_timeout, buf, out, head).await
}

/// A failure before the client has seen anything.
fn before(error: Box<Error>, nothing_received: bool) -> RelayError {
    RelayError::BeforeHead {
        error,
        nothing_received,
    }
}

/// An invalid app response (head or framing).
fn invalid(why: &'static str) -> Box<Error> {
    Error::explain(ErrorType::InvalidHTTPHeader, why).into_up()
}

/// Writes the request's parts to the app, within `read_timeout`.
async fn send_request<A>(
    app: &mut A,
    request: &[&[u8]],
    read_timeout: Duration,
) -> Result<(), RelayError>
where
    A: AsyncWrite + Unpin,
{
    let write = async {
        for part in request.iter().filter(|p| !p.is_empty()) {
            app.write_all(part).await?;
        }
        app.flush().await
    };
    match timeout(read_timeout, write).await {
        Ok(Ok(())) => Ok(()),
        // Nothing was received: a write error on a reused connection is most likely the app's
        // idle close, and worth the caller's one retry.
        Ok(Err(e)) => Err(before(
            Error::because(ErrorType::WriteError, "writing the request to the app", e).into_up(),
            true,
        )),
        Err(_) => Err(before(
            Error::explain(ErrorType::WriteTimedout, "writing the request to the app").into_up(),
            false,
        )),
    }
}

/// Reads what the app sends next into `buf`'s spare room (at least `spare` bytes of it): how
/// many bytes, 0 at end of stream.
async fn read_app<A>(
    app: &mut A,
    buf: &mut Vec<u8>,
    spare: usize,
    read_timeout: Duration,
) -> Result<usize, Box<Error>>
where
    A: AsyncRead + Unpin,
{
    if buf.capacity() - buf.len() < spare {
        buf.reserve(spare);
    }
    // `read_buf` reads into the spare capacity without zeroing it first.
    match timeout(read_timeout, app.read_buf(buf)).await {
        Ok(Ok(n)) => Ok(n),
        Ok(Err(e)) => {
            Err(Error::because(ErrorType::ReadError, "reading from the app", e).into_up())
        }
        Err(_) => Err(Error::explain(ErrorType::ReadTimedout, "reading from the app").into_up()),
    }
}

/// Reads the app's final response head into `buf` (interim responses are dropped from it) and
/// builds the client's head in `out`.
async fn read_head<A>(
    app: &mut A,
    rules: &ResponseRules<'_>,
    read_timeout: Duration,
    buf: &mut Vec<u8>,
    out: &mut Vec<u8>,
) -> Result<Head, RelayError>
where
    A: AsyncRead + Unpin,
{
    let mut parser = httparse::ParserConfig::default();
    // As Pingora's client session parses app responses.
    parser.allow_spaces_after_header_name_in_responses(true);
    let mut received = false;
    let mut interim = 0;
    loop {
        // Parse what is buffered first: after an interim response, the final one may have come
        // in the same read.
        if !buf.is_empty() {
            // Uninitialised: a 4 KiB header array is not zeroed for every response.
            let mut headers = [MaybeUninit::<httparse::Header<'_>>::uninit(); MAX_HEADERS];
            let mut resp = httparse::Response::new(&mut []);
            match parser.parse_response_with_uninit_headers(&mut resp, buf, &mut headers) {
                Ok(httparse::Status::Complete(len)) => {
                    let status = resp.code.unwrap_or(0);
                    if status == 101 {
                        return Err(before(
                            invalid(
                                "101 Switching Protocols to a request that asked for no upgrade",
                            ),
                            false,
                        ));
                    }
                    if (100..200).contains(&status) {
                        interim += 1;
                        if interim > MAX_INTERIM {
                            return Err(before(invalid("too many interim responses"), false));
                        }
                        // Interim responses are not forwarded (as on Pingora's path).
                        buf.drain(..len);
                        continue;
                    }
                    return client_head(&resp, len, rules, out).map_err(|e| before(e, false));
                }
                Ok(httparse::Status::Partial) => {
                    if buf.len() >= MAX_HEAD {
                        return Err(before(invalid("response head too large"), false));
                    }
                }
                Err(_) => return Err(before(invalid("invalid response head"), false)),
            }
        }
        match read_app(app, buf, HEAD_READ, read_timeout).await {
            Ok(0) => {
                let e = Error::explain(
                    ErrorType::ConnectionClosed,
                    "the app closed the connection before the response head",
                )
                .into_up();
                return Err(before(e, !received));
            }
            Ok(_) => received = true,
            Err(e) => {
                // A reset before any byte may be the app's idle close; a timeout never is.
                let retry = !received && *e.etype() == ErrorType::ReadError;
                return Err(before(e, retry));
            }
        }
    }
}

/// Builds the client's response head from the app's into `out`, and says how the body is framed.
fn client_head(
    resp: &httparse::Response<'_, '_>,
    len: usize,
    rules: &ResponseRules<'_>,
    out: &mut Vec<u8>,
) -> Result<Head, Box<Error>> {
    let status = match resp.code {
        Some(s @ 100..=999) => s,
        _ => return Err(invalid("invalid response status")),
    };
    let headers: &[httparse::Header<'_>] = resp.headers;

    // What the head says about framing and connections.
    let mut close = false;
    let mut keep_alive = false;
    let mut transfer_encoding: Option<&[u8]> = None;
    let mut length: Option<u64> = None;
    let mut bad_length = false;
    let mut nominates = false;
    for h in headers {
        let name = h.name.as_bytes();
        if name.eq_ignore_ascii_case(b"content-length") {
            match (content_length(h.value), length) {
                (Some(v), None) => length = Some(v),
                (Some(v), Some(l)) if v == l => {}
                _ => bad_length = true,
            }
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            // The last field's last coding decides (RFC 9112 §6.3).
            transfer_encoding = Some(h.value);
        } else if name.eq_ignore_ascii_case(b"connection") {
            for token in h.value.split(|&b| b == b',') {
                let token = token.trim_ascii();
                close |= token.eq_ignore_ascii_case(b"close");
                keep_alive |= token.eq_ignore_ascii_case(b"keep-alive");
            }
            nominates |= nominated_fields(std::iter::once(h.value)).next().is_some();
        }
    }
    // `Content-Length` does not count next to `Transfer-Encoding` (it is dropped below), as in
    // Pingora's client session.
    if bad_length && transfer_encoding.is_none() {
        return Err(invalid("invalid Content-Length"));
    }
    let mut app_keepalive = match resp.version {
        Some(1) => !close,
        _ => keep_alive && !close,
    };
    if transfer_encoding.is_some() && (length.is_some() || bad_length) {
        // Both framings at once may be an attempt at response splitting (RFC 9112 §6.3): the
        // response is relayed by its transfer coding, and the connection not trusted again.
        app_keepalive = false;
    }
    let body = if rules.head_request || status == 204 || status == 304 {
        Body::Empty
    } else if let Some(te) = transfer_encoding {
        let last = te.rsplit(|&b| b == b',').next().unwrap_or_default();
        if last.trim_ascii().eq_ignore_ascii_case(b"chunked") {
            Body::Chunked
        } else {
            Body::Raw
        }
    } else if let Some(n) = length {
        Body::Length(n)
    } else {
        Body::Rechunk
    };
    let client_reusable = rules.keep_client && body != Body::Raw;

    out.clear();
    out.extend_from_slice(b"HTTP/1.1 ");
    // `status` is three digits (checked above).
    out.extend_from_slice(&[
        b'0' + (status / 100) as u8,
        b'0' + (status / 10 % 10) as u8,
        b'0' + (status % 10) as u8,
        b' ',
    ]);
    out.extend_from_slice(resp.reason.unwrap_or_default().as_bytes());
    out.extend_from_slice(b"\r\n");
    let policy = rules.policy;
    let connection_values = || {
        headers
            .iter()
            .filter(|h| h.name.eq_ignore_ascii_case("connection"))
            .map(|h| h.value)
    };
    let mut has_request_id = false;
    for h in headers {
        let name = h.name.as_bytes();
        let dropped = name.eq_ignore_ascii_case(b"connection")
            || (nominates
                && nominated_fields(connection_values()).any(|t| name.eq_ignore_ascii_case(t)))
            || name.eq_ignore_ascii_case(b"keep-alive")
            || name.eq_ignore_ascii_case(b"proxy-connection")
            || name.eq_ignore_ascii_case(b"date")
            || (transfer_encoding.is_some() && name.eq_ignore_ascii_case(b"content-length"))
            || policy
                .remove
                .iter()
                .any(|r| name.eq_ignore_ascii_case(r.as_str().as_bytes()))
            || policy
                .add
                .iter()
                .any(|a| a.override_app && name.eq_ignore_ascii_case(a.name.as_bytes()));
        if !dropped {
            push_field(out, name, h.value);
            has_request_id |= name.eq_ignore_ascii_case(b"x-request-id");
        }
    }
    for a in &policy.add {
        if a.override_app
            || !headers
                .iter()
                .any(|h| h.name.as_bytes().eq_ignore_ascii_case(a.name.as_bytes()))
        {
            push_field(out, a.name.as_bytes(), a.value.as_bytes());
        }
    }
    if !has_request_id {
        push_field(out, b"x-request-id", rules.request_id);
    }
    if body == Body::Rechunk {
        out.extend_from_slice(b"transfer-encoding: chunked\r\n");
    }
    push_field(out, b"date", get_cached_date().as_bytes());
    out.extend_from_slice(if client_reusable {
        b"connection: keep-alive\r\n\r\n"
    } else {
        b"connection: close\r\n\r\n"
    });
    Ok(Head {
        status,
        len,
        body,
        app_keepalive,
        client_reusable,
    })
}

/// A `Content-Length` field's value: one decimal number, or a list of identical ones (RFC 9110
/// §8.6). `None` when invalid.
fn content_length(value: &[u8]) -> Option<u64> {
    let mut result = None;
    for item in value.split(|&b| b == b',') {
        let item = item.trim_ascii();
        if item.is_empty() || !item.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let mut n: u64 = 0;
        for &d in item {
            n = n.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
        }
        match result {
            None => result = Some(n),
            Some(m) if m == n => {}
            Some(_) => return None,
        }
    }
    result
}

/// Appends a chunk-size line for `len` data bytes.
fn push_chunk_size(out: &mut Vec<u8>, len: usize) {
    let mut digits = [0u8; 16];
    let mut i = digits.len();
    let mut n = len;
    loop {
        i -= 1;
        if let Some(d) = digits.get_mut(i) {
            *d = b"0123456789abcdef".get(n & 0xf).copied().unwrap_or(b'0');
        }
        n >>= 4;
        if n == 0 || i == 0 {
            break;
        }
    }
    out.extend_from_slice(digits.get(i..).unwrap_or_default());
    out.extend_from_slice(b"\r\n");
}

/// Where the body stands, for the bytes that arrive from the app.
enum Tracker {
    /// Bytes still to come of a sized (or empty) body.
    Remaining(u64),
    /// A chunked body.
    Chunked(ChunkedEnd),
    /// A body that ends when the app closes.
    UntilClose,
}

impl Tracker {
    /// Takes bytes from the app: how many of them belong to the body, and whether it has ended.
    fn take(&mut self, bytes: &[u8]) -> Result<(usize, bool), Box<Error>> {
        match self {
            Tracker::Remaining(left) => {
                let n = usize::try_from(*left).map_or(bytes.len(), |l| l.min(bytes.len()));
                *left -= n as u64;
                Ok((n, *left == 0))
            }
            Tracker::Chunked(c) => match c.feed(bytes) {
                Ok(Some(end)) => Ok((end, true)),
                Ok(None) => Ok((bytes.len(), false)),
                Err(e) => Err(invalid(e.0)),
            },
            Tracker::UntilClose => Ok((bytes.len(), false)),
        }
    }
}

/// Writes `bytes` to the client; on failure also says how many were written.
async fn write_counted<C>(client: &mut C, bytes: &[u8]) -> Result<(), (io::Error, usize)>
where
    C: AsyncWrite + Unpin,
{
    let mut written = 0;
    while let Some(rest) = bytes.get(written..).filter(|r| !r.is_empty()) {
        match client.write(rest).await {
            Ok(0) => return Err((io::ErrorKind::WriteZero.into(), written)),
            Ok(n) => written += n,
            Err(e) => return Err((e, written)),
        }
    }
    Ok(())
}

/// A client write error.
fn client_error(e: io::Error) -> Box<Error> {
    Error::because(
        ErrorType::WriteError,
        "writing the response to the client",
        e,
    )
    .into_down()
}

/// Sends the client head in `out` with the body bytes already in `buf`, then relays the rest of
/// the body.
async fn relay_body<A, C>(
    app: &mut A,
    client: &mut C,
    read_timeout: Duration,
    buf: &mut Vec<u8>,
    out: &mut Vec<u8>,
    head: Head,
) -> Result<Relayed, RelayError>
where
    A: AsyncRead + Unpin,
    C: AsyncWrite + Unpin,
{
    let status = head.status;
    let rechunk = head.body == Body::Rechunk;
    let mut tracker = match head.body {
        Body::Empty => Tracker::Remaining(0),
        Body::Length(n) => Tracker::Remaining(n),
        Body::Chunked => Tracker::Chunked(ChunkedEnd::default()),
        Body::Rechunk | Body::Raw => Tracker::UntilClose,
    };
    let mut app_reusable =
        head.app_keepalive && matches!(tracker, Tracker::Remaining(_) | Tracker::Chunked(_));
    let mut body_bytes = 0;
    let count = |tracker: &Tracker, body_bytes: &mut u64, taken: usize| match tracker {
        Tracker::Chunked(c) => *body_bytes = c.data_bytes(),
        _ => *body_bytes += taken as u64,
    };

    // The body bytes that came with the head go out in the same write as the head.
    let head_len = out.len();
    let early = buf.get(head.len..).unwrap_or_default();
    // A framing error here is still before the head: the caller can answer with its own page.
    let (taken, mut done) = tracker.take(early).map_err(|e| before(e, false))?;
    if taken < early.len() {
        // The app sent more than this response: it is not in step with its requests.
        app_reusable = false;
    }
    let piece = early.get(..taken).unwrap_or_default();
    if rechunk && !piece.is_empty() {
        push_chunk_size(out, piece.len());
        out.extend_from_slice(piece);
        out.extend_from_slice(b"\r\n");
    } else {
        out.extend_from_slice(piece);
    }
    count(&tracker, &mut body_bytes, taken);
    if let Err((e, written)) = write_counted(client, out).await {
        let error = client_error(e);
        return Err(if written < head_len {
            before(error, false)
        } else {
            RelayError::AfterHead {
                error,
                status,
                body_bytes: 0,
            }
        });
    }

    let after = |error: Box<Error>, body_bytes: u64| RelayError::AfterHead {
        error,
        status,
        body_bytes,
    };
    while !done {
        // What was written reaches the client before waiting on the app: a buffering client
        // stream must not hold back a streamed body.
        client
            .flush()
            .await
            .map_err(|e| after(client_error(e), body_bytes))?;
        buf.clear();
        let n = read_app(app, buf, BODY_READ, read_timeout)
            .await
            .map_err(|e| after(e, body_bytes))?;
        if n == 0 {
            if !matches!(tracker, Tracker::UntilClose) {
                let e = Error::explain(
                    ErrorType::ConnectionClosed,
                    "the app closed the connection before the response body ended",
                )
                .into_up();
                return Err(after(e, body_bytes));
            }
            if rechunk {
                client
                    .write_all(b"0\r\n\r\n")
                    .await
                    .map_err(|e| after(client_error(e), body_bytes))?;
            }
            break;
        }
        let bytes = buf.get(..n).unwrap_or_default();
        let (taken, end) = tracker.take(bytes).map_err(|e| after(e, body_bytes))?;
        if taken < n {
            app_reusable = false;
        }
        let piece = bytes.get(..taken).unwrap_or_default();
        let written = if rechunk {
            out.clear();
            push_chunk_size(out, piece.len());
            out.extend_from_slice(piece);
            out.extend_from_slice(b"\r\n");
            client.write_all(out).await
        } else {
            client.write_all(piece).await
        };
        written.map_err(|e| after(client_error(e), body_bytes))?;
        count(&tracker, &mut body_bytes, taken);
        done = end;
    }
    client
        .flush()
        .await
        .map_err(|e| after(client_error(e), body_bytes))?;
    Ok(Relayed {
        status,
        body_bytes,
        app_reusable,
        client_reusable: head.client_reusable,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::pin::Pin;
    use std::task::{Context, Poll};

    use pingora::ErrorSource;
    use tokio::net::{TcpListener, TcpStream};

    use super::*;
    use crate::headers::{AddedHeader, HeaderName};

    const GET: &[u8] = b"GET /x HTTP/1.1\r\nhost: app.test\r\n\r\n";
    const HEAD: &[u8] = b"HEAD /x HTTP/1.1\r\nhost: app.test\r\n\r\n";
    const WAIT: Duration = Duration::from_secs(5);

    fn policy() -> ResponseHeaderPolicy {
        ResponseHeaderPolicy {
            add: vec![
                AddedHeader::new("strict-transport-security", "max-age=63072000", true).unwrap(),
                AddedHeader::new("x-frame-options", "DENY", false).unwrap(),
            ],
            remove: vec![HeaderName::from_static("x-powered-by")],
        }
    }

    fn rules(policy: &ResponseHeaderPolicy) -> ResponseRules<'_> {
        ResponseRules {
            policy,
            request_id: b"req-1",
            head_request: false,
            keep_client: true,
        }
    }

    /// What the fake app does once it has written its response.
    #[derive(Clone, Copy)]
    enum Then {
        /// Closes the connection.
        Close,
        /// Keeps it open until Palisade's side closes.
        Hold,
    }

    struct Outcome {
        result: Result<Relayed, RelayError>,
        /// Everything the client received.
        client: Vec<u8>,
        /// What the app received.
        request: Vec<u8>,
    }

    /// Relays `request` to a fake app over loopback TCP; the app reads the request head, then
    /// writes `pieces` (a short pause between them, so that they arrive in separate reads).
    async fn run_with(
        request: &'static [u8],
        pieces: Vec<Vec<u8>>,
        then: Then,
        rules: ResponseRules<'_>,
        read_timeout: Duration,
    ) -> Outcome {
        let app_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let app_addr = app_listener.local_addr().unwrap();
        let fake_app = tokio::spawn(async move {
            let (mut s, _) = app_listener.accept().await.unwrap();
            let mut got = Vec::new();
            let mut b = [0u8; 1024];
            while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = s.read(&mut b).await.unwrap();
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&b[..n]);
            }
            for (i, piece) in pieces.iter().enumerate() {
                if i > 0 {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                // Palisade may have given up already (the tests of broken responses).
                let _ = s.write_all(piece).await;
            }
            if let Then::Hold = then {
                let _ = s.read(&mut b).await;
            }
            got
        });
        let client_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut client = TcpStream::connect(client_listener.local_addr().unwrap())
            .await
            .unwrap();
        let (mut peer, _) = client_listener.accept().await.unwrap();
        let reader = tokio::spawn(async move {
            let mut v = Vec::new();
            peer.read_to_end(&mut v).await.unwrap();
            v
        });
        let mut app = TcpStream::connect(app_addr).await.unwrap();
        let (mut buf, mut out) = (Vec::new(), Vec::new());
        let result = relay(
            &mut app,
            &mut client,
            &[request],
            &rules,
            read_timeout,
            &mut buf,
            &mut out,
        )
        .await;
        drop(client);
        drop(app);
        Outcome {
            result,
            client: reader.await.unwrap(),
            request: fake_app.await.unwrap(),
        }
    }

    /// A GET with the test policy, the app writing `pieces`.
    async fn get(pieces: &[&[u8]], then: Then) -> Outcome {
        let p = policy();
        let pieces = pieces.iter().map(|p| p.to_vec()).collect();
        run_with(GET, pieces, then, rules(&p), WAIT).await
    }

    /// The client's head (its `date` checked for shape and replaced with `D`) and body.
    fn split(received: &[u8]) -> (String, &[u8]) {
        let end = received.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        let head = std::str::from_utf8(&received[..end]).unwrap();
        let mut dates = 0;
        let lines: Vec<&str> = head
            .split("\r\n")
            .map(|line| match line.strip_prefix("date: ") {
                Some(d) => {
                    assert!(d.len() == 29 && d.ends_with(" GMT"), "{d}");
                    dates += 1;
                    "date: D"
                }
                None => line,
            })
            .collect();
        assert_eq!(dates, 1, "{head}");
        (lines.join("\r\n"), &received[end..])
    }

    fn relayed(o: &Outcome) -> Relayed {
        match &o.result {
            Ok(r) => *r,
            Err(e) => panic!("{e:?}"),
        }
    }

    /// The error of a failure before the head, and its `nothing_received`.
    fn before_head(o: &Outcome) -> (ErrorType, bool) {
        match &o.result {
            Err(RelayError::BeforeHead {
                error,
                nothing_received,
            }) => {
                assert_eq!(*error.esource(), ErrorSource::Upstream);
                assert!(o.client.is_empty(), "the client got {:?}", o.client);
                (error.etype().clone(), *nothing_received)
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn a_sized_response_gets_palisades_head_and_its_exact_body() {
        let o = get(
            &[
                b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Powered-By: PHP\r\n\
                Connection: keep-alive\r\nKeep-Alive: timeout=5\r\nProxy-Connection: x\r\n\
                Date: Mon, 01 Jan 2001 00:00:00 GMT\r\nStrict-Transport-Security: max-age=1\r\n\
                X-Custom: A b\r\nContent-Length: 5\r\n\r\nhello",
            ],
            Then::Hold,
        )
        .await;
        assert_eq!(o.request, GET);
        assert_eq!(
            relayed(&o),
            Relayed {
                status: 200,
                body_bytes: 5,
                app_reusable: true,
                client_reusable: true
            }
        );
        let (head, body) = split(&o.client);
        assert_eq!(
            head,
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Custom: A b\r\nContent-Length: 5\r\n\
             strict-transport-security: max-age=63072000\r\nx-frame-options: DENY\r\n\
             x-request-id: req-1\r\ndate: D\r\nconnection: keep-alive\r\n\r\n"
        );
        assert_eq!(body, b"hello");
    }

    #[tokio::test]
    async fn fields_the_apps_connection_nominates_are_not_forwarded() {
        let o = get(
            &[
                b"HTTP/1.1 200 OK\r\nConnection: X-Internal-Token, keep-alive\r\n\
                X-Internal-Token: secret\r\nX-Public: yes\r\nContent-Length: 2\r\n\r\nok",
            ],
            Then::Hold,
        )
        .await;
        let (head, body) = split(&o.client);
        assert!(
            !head.to_ascii_lowercase().contains("x-internal-token"),
            "{head}"
        );
        assert!(
            head.contains("X-Public: yes\r\nContent-Length: 2\r\n"),
            "{head}"
        );
        assert_eq!(body, b"ok");
        assert!(relayed(&o).app_reusable);
    }

    #[tokio::test]
    async fn palisades_request_id_replaces_one_the_policy_removes() {
        let mut p = policy();
        p.remove.push(HeaderName::from_static("x-request-id"));
        let o = run_with(
            GET,
            vec![
                b"HTTP/1.1 200 OK\r\nX-Request-Id: app-id\r\nContent-Length: 2\r\n\r\nok".to_vec(),
            ],
            Then::Hold,
            rules(&p),
            WAIT,
        )
        .await;
        let (head, _) = split(&o.client);
        assert!(!head.contains("app-id"), "{head}");
        assert!(head.contains("x-request-id: req-1\r\n"), "{head}");
    }

    #[tokio::test]
    async fn the_policy_overrides_respects_and_removes_app_headers() {
        let o = get(
            &[
                b"HTTP/1.1 404 Not Found\r\nx-frame-options: SAMEORIGIN\r\nx-powered-by: a\r\n\
                X-POWERED-BY: b\r\nSTRICT-Transport-Security: max-age=1\r\n\
                content-length: 0\r\n\r\n",
            ],
            Then::Hold,
        )
        .await;
        assert_eq!(relayed(&o).status, 404);
        let (head, body) = split(&o.client);
        assert_eq!(
            head,
            "HTTP/1.1 404 Not Found\r\nx-frame-options: SAMEORIGIN\r\ncontent-length: 0\r\n\
             strict-transport-security: max-age=63072000\r\nx-request-id: req-1\r\ndate: D\r\n\
             connection: keep-alive\r\n\r\n"
        );
        assert!(body.is_empty());
    }

    #[tokio::test]
    async fn the_apps_request_id_is_kept() {
        let o = get(
            &[b"HTTP/1.1 200 OK\r\nX-Request-Id: app-7\r\nContent-Length: 0\r\n\r\n"],
            Then::Hold,
        )
        .await;
        let (head, _) = split(&o.client);
        assert!(head.contains("\r\nX-Request-Id: app-7\r\n"), "{head}");
        assert!(!head.contains("req-1"), "{head}");
    }

    #[tokio::test]
    async fn a_chunked_body_passes_through_unchanged() {
        let chunked: &[u8] =
            b"5;ext=1\r\nhello\r\n6 ;q=\"a;b\"\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n";
        let (first, second) = chunked.split_at(12);
        let o = get(
            &[
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                first,
                second,
            ],
            Then::Hold,
        )
        .await;
        assert_eq!(
            relayed(&o),
            Relayed {
                status: 200,
                body_bytes: 11,
                app_reusable: true,
                client_reusable: true
            }
        );
        let (head, body) = split(&o.client);
        assert!(
            head.contains("\r\nTransfer-Encoding: chunked\r\n"),
            "{head}"
        );
        assert!(head.ends_with("connection: keep-alive\r\n\r\n"), "{head}");
        assert_eq!(body, chunked);
    }

    #[tokio::test]
    async fn a_close_delimited_body_is_rechunked() {
        let o = get(
            &[
                b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nhello",
                b" world",
            ],
            Then::Close,
        )
        .await;
        assert_eq!(
            relayed(&o),
            Relayed {
                status: 200,
                body_bytes: 11,
                app_reusable: false,
                client_reusable: true
            }
        );
        let (head, body) = split(&o.client);
        assert_eq!(
            head,
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\
             strict-transport-security: max-age=63072000\r\nx-frame-options: DENY\r\n\
             x-request-id: req-1\r\ntransfer-encoding: chunked\r\ndate: D\r\n\
             connection: keep-alive\r\n\r\n"
        );
        assert_eq!(body, b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
    }

    #[tokio::test]
    async fn an_unknown_transfer_coding_is_relayed_raw_and_closes_the_client() {
        let o = get(
            &[
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nabc",
                b"def",
            ],
            Then::Close,
        )
        .await;
        assert_eq!(
            relayed(&o),
            Relayed {
                status: 200,
                body_bytes: 6,
                app_reusable: false,
                client_reusable: false
            }
        );
        let (head, body) = split(&o.client);
        assert!(head.contains("\r\nTransfer-Encoding: gzip\r\n"), "{head}");
        assert!(head.ends_with("connection: close\r\n\r\n"), "{head}");
        assert_eq!(body, b"abcdef");
    }

    #[tokio::test]
    async fn content_length_next_to_chunked_is_dropped_and_the_app_not_reused() {
        let o = get(
            &[
                b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n\
                2\r\nok\r\n0\r\n\r\n",
            ],
            Then::Hold,
        )
        .await;
        let r = relayed(&o);
        assert!(!r.app_reusable && r.client_reusable);
        let (head, body) = split(&o.client);
        assert!(!head.contains("Content-Length"), "{head}");
        assert_eq!(body, b"2\r\nok\r\n0\r\n\r\n");
    }

    #[tokio::test]
    async fn a_head_request_reads_no_body() {
        let p = policy();
        let r = ResponseRules {
            head_request: true,
            ..rules(&p)
        };
        let o = run_with(
            HEAD,
            vec![b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n".to_vec()],
            Then::Hold,
            r,
            WAIT,
        )
        .await;
        assert_eq!(o.request, HEAD);
        assert_eq!(
            relayed(&o),
            Relayed {
                status: 200,
                body_bytes: 0,
                app_reusable: true,
                client_reusable: true
            }
        );
        let (head, body) = split(&o.client);
        assert!(head.contains("\r\nContent-Length: 1234\r\n"), "{head}");
        assert!(body.is_empty());

        // Without a length either: nothing is re-framed.
        let r = ResponseRules {
            head_request: true,
            ..rules(&p)
        };
        let o = run_with(
            HEAD,
            vec![b"HTTP/1.1 200 OK\r\n\r\n".to_vec()],
            Then::Hold,
            r,
            WAIT,
        )
        .await;
        assert!(relayed(&o).app_reusable);
        let (head, _) = split(&o.client);
        assert!(!head.contains("transfer-encoding"), "{head}");
    }

    #[tokio::test]
    async fn no_body_is_read_for_204_and_304() {
        for response in [
            &b"HTTP/1.1 204 No Content\r\n\r\n"[..],
            b"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\nETag: \"x\"\r\n\r\n",
        ] {
            let o = get(&[response], Then::Hold).await;
            let r = relayed(&o);
            assert!(r.app_reusable && r.client_reusable && r.body_bytes == 0);
            let (head, body) = split(&o.client);
            assert!(!head.contains("transfer-encoding"), "{head}");
            assert!(body.is_empty());
        }
    }

    #[tokio::test]
    async fn interim_responses_are_not_forwarded() {
        let o = get(
            &[
                b"HTTP/1.1 100 Continue\r\n\r\n",
                b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n\
                  HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
            ],
            Then::Hold,
        )
        .await;
        assert_eq!(relayed(&o).status, 200);
        let (head, body) = split(&o.client);
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        assert!(!head.contains("Link"), "{head}");
        assert_eq!(body, b"ok");
    }

    #[tokio::test]
    async fn switching_protocols_is_refused() {
        let o = get(
            &[b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"],
            Then::Hold,
        )
        .await;
        assert_eq!(before_head(&o), (ErrorType::InvalidHTTPHeader, false));
    }

    #[tokio::test]
    async fn connection_close_is_said_when_the_client_is_not_kept() {
        let p = policy();
        let r = ResponseRules {
            keep_client: false,
            ..rules(&p)
        };
        let o = run_with(
            GET,
            vec![b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".to_vec()],
            Then::Hold,
            r,
            WAIT,
        )
        .await;
        let r = relayed(&o);
        assert!(r.app_reusable && !r.client_reusable);
        let (head, _) = split(&o.client);
        assert!(head.ends_with("\r\nconnection: close\r\n\r\n"), "{head}");
    }

    #[tokio::test]
    async fn the_app_closing_mid_body_fails_after_the_head() {
        for (response, sent) in [
            (
                &b"HTTP/1.1 201 Created\r\nContent-Length: 10\r\n\r\nhel"[..],
                3,
            ),
            (
                b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhel",
                3,
            ),
        ] {
            let o = get(&[response], Then::Close).await;
            match &o.result {
                Err(RelayError::AfterHead {
                    error,
                    status,
                    body_bytes,
                }) => {
                    assert_eq!(*error.etype(), ErrorType::ConnectionClosed);
                    assert_eq!(*error.esource(), ErrorSource::Upstream);
                    assert_eq!((*status, *body_bytes), (201, sent));
                }
                other => panic!("{other:?}"),
            }
            let (head, body) = split(&o.client);
            assert!(head.starts_with("HTTP/1.1 201 Created\r\n"), "{head}");
            // What the app sent of its body, framing and all.
            let app_body = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
            assert_eq!(body, &response[app_body..]);
        }
    }

    #[tokio::test]
    async fn the_app_closing_before_any_byte_may_be_retried() {
        let o = get(&[], Then::Close).await;
        assert_eq!(before_head(&o), (ErrorType::ConnectionClosed, true));
        // Once a byte came, it may not.
        let o = get(&[b"HTTP/1.1 200 OK\r\n"], Then::Close).await;
        assert_eq!(before_head(&o), (ErrorType::ConnectionClosed, false));
    }

    #[tokio::test]
    async fn a_silent_app_times_out_and_is_not_retried() {
        let p = policy();
        for pieces in [vec![], vec![b"HTTP/1.1 200 OK\r\n".to_vec()]] {
            let o = run_with(
                GET,
                pieces,
                Then::Hold,
                rules(&p),
                Duration::from_millis(100),
            )
            .await;
            assert_eq!(before_head(&o), (ErrorType::ReadTimedout, false));
        }
    }

    #[tokio::test]
    async fn a_malformed_response_head_is_refused() {
        let mut too_many = b"HTTP/1.1 200 OK\r\n".to_vec();
        for i in 0..=MAX_HEADERS {
            too_many.extend_from_slice(format!("x-h{i}: v\r\n").as_bytes());
        }
        too_many.extend_from_slice(b"content-length: 0\r\n\r\n");
        let mut too_large = b"HTTP/1.1 200 OK\r\nx-big: ".to_vec();
        too_large.resize(MAX_HEAD + 1, b'a');
        for response in [
            &b"garbage\r\n\r\n"[..],
            b"HTTP/1.1 2000 OK\r\n\r\n",
            b"HTTP/1.1 099 Low\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nbad header\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nx: a\r\n folded\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\nhello",
            b"HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
            b"HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\nhello",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            &too_many,
            &too_large,
        ] {
            let o = get(&[response], Then::Hold).await;
            assert_eq!(
                before_head(&o),
                (ErrorType::InvalidHTTPHeader, false),
                "{:?}",
                String::from_utf8_lossy(&response[..response.len().min(80)])
            );
        }
    }

    #[tokio::test]
    async fn identical_content_lengths_are_accepted() {
        for response in [
            &b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok"[..],
            b"HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nok",
        ] {
            let o = get(&[response], Then::Hold).await;
            assert_eq!(relayed(&o).body_bytes, 2);
            assert_eq!(split(&o.client).1, b"ok");
        }
    }

    #[tokio::test]
    async fn bytes_beyond_the_response_make_the_app_connection_unusable() {
        for (response, body) in [
            (
                &b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n"[..],
                &b"ok"[..],
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nextra",
                b"0\r\n\r\n",
            ),
            (b"HTTP/1.1 204 No Content\r\n\r\nextra", b""),
        ] {
            let o = get(&[response], Then::Hold).await;
            let r = relayed(&o);
            assert!(!r.app_reusable && r.client_reusable);
            assert_eq!(split(&o.client).1, body);
        }
    }

    #[tokio::test]
    async fn app_reuse_follows_its_version_and_connection_header() {
        for (response, reusable) in [
            (
                &b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"[..],
                false,
            ),
            (
                b"HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\nok",
                true,
            ),
            (
                b"HTTP/1.1 200 OK\r\nConnection: foo, close\r\nContent-Length: 2\r\n\r\nok",
                false,
            ),
            (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", true),
        ] {
            let o = get(&[response], Then::Hold).await;
            let r = relayed(&o);
            assert_eq!(r.app_reusable, reusable, "{response:?}");
            // The client's connection is Palisade's business, not the app's.
            assert!(r.client_reusable);
            let (head, body) = split(&o.client);
            assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
            assert!(!head.to_ascii_lowercase().contains("keep-alive\r\ncontent"));
            assert_eq!(body, b"ok");
        }
    }

    #[tokio::test]
    async fn a_large_body_arrives_intact() {
        let body: Vec<u8> = (0..1 << 20).map(|i: u32| (i % 251) as u8).collect();
        let mut response =
            format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
        response.extend_from_slice(&body);
        let o = get(&[&response], Then::Hold).await;
        let r = relayed(&o);
        assert_eq!((r.body_bytes, r.app_reusable), (1 << 20, true));
        assert!(split(&o.client).1 == &body[..]);
    }

    #[tokio::test]
    async fn buffers_are_reused_across_requests_on_one_connection() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let fake_app = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut b = [0u8; 1024];
            for response in [
                &b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst"[..],
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nsec\r\n0\r\n\r\n",
            ] {
                let _ = s.read(&mut b).await.unwrap();
                s.write_all(response).await.unwrap();
            }
            let _ = s.read(&mut b).await;
        });
        let mut app = TcpStream::connect(addr).await.unwrap();
        let p = policy();
        let (mut buf, mut out) = (Vec::new(), Vec::new());
        let mut client = Vec::new();
        for expected in [&b"first"[..], b"3\r\nsec\r\n0\r\n\r\n"] {
            client.clear();
            let r = relay(
                &mut app,
                &mut client,
                &[GET],
                &rules(&p),
                WAIT,
                &mut buf,
                &mut out,
            )
            .await
            .unwrap();
            assert!(r.app_reusable);
            assert_eq!(split(&client).1, expected);
        }
        drop(app);
        fake_app.await.unwrap();
    }

    /// A client connection that is gone.
    struct GoneClient;

    impl AsyncWrite for GoneClient {
        fn poll_write(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            _: &[u8],
        ) -> Poll<io::Result<usize>> {
            Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()))
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    #[tokio::test]
    async fn a_client_gone_before_the_head_is_a_downstream_error_not_retried() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let fake_app = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut b = [0u8; 1024];
            let _ = s.read(&mut b).await.unwrap();
            s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                .await
                .unwrap();
            let _ = s.read(&mut b).await;
        });
        let mut app = TcpStream::connect(addr).await.unwrap();
        let p = policy();
        let (mut buf, mut out) = (Vec::new(), Vec::new());
        let result = relay(
            &mut app,
            &mut GoneClient,
            &[GET],
            &rules(&p),
            WAIT,
            &mut buf,
            &mut out,
        )
        .await;
        match result {
            Err(RelayError::BeforeHead {
                error,
                nothing_received,
            }) => {
                assert_eq!(*error.esource(), ErrorSource::Downstream);
                assert_eq!(*error.etype(), ErrorType::WriteError);
                assert!(!nothing_received);
            }
            other => panic!("{other:?}"),
        }
        drop(app);
        fake_app.await.unwrap();
    }
}
