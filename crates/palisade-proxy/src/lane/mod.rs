//! The HTTP/1 lane: plain-TCP HTTP/1.1 connections are read here first. A bodyless `GET`,
//! `HEAD`, `DELETE` or `OPTIONS`, or a `POST`/`PUT`/`PATCH` whose body has one plain
//! `Content-Length` within the lane's cap — nearly all of an app's traffic — is parsed in place,
//! checked (access control on the head before any body is read, the body paced as the ordinary
//! path paces it) and inspected by the same code as every other request (`service/lane.rs`),
//! and relayed to the app over Palisade's own keep-alive pool, without Pingora's session
//! machinery. Anything else (chunked or large bodies, upgrades, unusual heads, TLS, HTTP/2) is handed to
//! Pingora's `HttpProxy` with the bytes already read, one request at a time, and the lane takes
//! the connection back afterwards.
//!
//! Why: on a small GET, Pingora's server session, its per-request header maps and its proxy
//! state machine cost about as much CPU as everything Palisade itself does (measured with
//! callgrind: ~90k instructions per request through `HttpProxy`, of which Palisade's checks are
//! ~20k); on a 10 KB form POST its body path cost ~110 µs of CPU against the lane's ~40. The lane
//! does not change what a request may do — it only serves the requests it is sure of
//! (`request.rs`) and leaves every refusal of a malformed or oversized head or body to the
//! ordinary path.

use std::net::IpAddr;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::{Buf, BytesMut};
use pingora::apps::{HttpServerApp, ServerApp};
use pingora::protocols::http::ServerSession;
use pingora::protocols::Stream;
use pingora::proxy::HttpProxy;
use pingora::server::ShutdownWatch;
use tokio::io::AsyncReadExt;

use crate::limits::check_raw_head;
use crate::service::{Admission, BodyFailure, LaneBuffers, LaneEnd, PalisadeProxy};
use crate::slow_client::BodyRate;

pub(crate) mod chunked;
pub(crate) mod request;
pub(crate) mod response;

use request::{LaneHead, Parsed, MAX_HEADERS};

/// Heads longer than this are left to the ordinary path (which allows up to its own limits).
const MAX_LANE_HEAD: usize = 16 * 1024;

/// Largest body the lane reads itself (also capped by `max_inspect_body` and `max_body`); larger
/// ones are held or streamed by the ordinary path.
const MAX_LANE_BODY: usize = 1024 * 1024;

/// Buffers grown past this by a large request or response are given back once the connection
/// has been idle for [`IDLE_SHRINK`], so idle keep-alive connections do not each keep a large
/// body's memory (while a busy connection keeps reusing them).
const KEEP_BUFFER: usize = 64 * 1024;

/// How long a connection waits for its next request before giving back large buffers.
const IDLE_SHRINK: std::time::Duration = std::time::Duration::from_secs(1);

/// Pingora's keep-alive setting for a fresh HTTP/1 session (its default), narrowed by
/// `early_request_filter` to Palisade's own.
const ORDINARY_KEEPALIVE_SECS: u64 = 60;

/// How long the first bytes of a head may take on a fresh connection, as Pingora's read
/// timeout (the request-head deadline below the lane bounds the whole head anyway).
const FIRST_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// The lane in front of Pingora's proxy (the "ordinary path").
pub struct H1Lane {
    proxy: PalisadeProxy,
    ordinary: Arc<HttpProxy<PalisadeProxy>>,
    enabled: bool,
}

impl H1Lane {
    /// The lane for `proxy`, with `ordinary` (Pingora's proxy around a clone of the same
    /// `PalisadeProxy`) for everything the lane does not serve. With `enabled` false
    /// (`PALISADE_HTTP1_LANE=false`) every connection goes to `ordinary`.
    pub fn new(proxy: PalisadeProxy, ordinary: HttpProxy<PalisadeProxy>, enabled: bool) -> H1Lane {
        H1Lane {
            proxy,
            ordinary: Arc::new(ordinary),
            enabled,
        }
    }
}

/// How reading a request head ended.
enum HeadRead {
    /// A complete head of this many bytes is at the start of the buffer.
    Complete(usize),
    /// Something the ordinary path must read (no CRLF end within bounds, bare LF).
    Ordinary,
    /// The client closed, went idle past the keep-alive timeout, or failed: close.
    Closed,
}

impl H1Lane {
    /// Serves the connection until it closes.
    async fn serve(&self, mut stream: Stream, peer: Option<IpAddr>, shutdown: &ShutdownWatch) {
        let mut buf = BytesMut::with_capacity(4096);
        let mut bufs = LaneBuffers::default();
        let mut fresh = true;
        loop {
            let head_len = match self
                .read_head(&mut stream, &mut buf, &mut bufs, fresh)
                .await
            {
                HeadRead::Complete(n) => Some(n),
                HeadRead::Ordinary => None,
                HeadRead::Closed => return,
            };
            fresh = false;
            let shutting_down = *shutdown.borrow();
            let served = match head_len {
                Some(n) => {
                    self.serve_request(&mut stream, &mut buf, n, peer, &mut bufs, shutting_down)
                        .await
                }
                None => None,
            };
            match served {
                Some((LaneEnd::KeepOpen, n)) => buf.advance(n),
                Some((LaneEnd::Close, _)) => return,
                None => {
                    // The ordinary path reads this request from the bytes already here.
                    let prefix = std::mem::replace(&mut buf, BytesMut::with_capacity(4096));
                    match self.ordinary_request(stream, prefix, shutdown).await {
                        Some(s) => stream = s,
                        None => return,
                    }
                }
            }
        }
    }

    /// Serves the request whose head is the buffer's first `head_len` bytes, reading its body
    /// first if it has one. Returns how the connection ends and the bytes the request took, or
    /// `None` (nothing written) when the ordinary path must take the request from the buffer.
    async fn serve_request(
        &self,
        stream: &mut Stream,
        buf: &mut BytesMut,
        head_len: usize,
        peer: Option<IpAddr>,
        bufs: &mut LaneBuffers,
        shutting_down: bool,
    ) -> Option<(LaneEnd, usize)> {
        let limits = self.proxy.limits();
        let max_body = self.proxy.lane_max_body(MAX_LANE_BODY);
        // Nearly always one pass: no body, or all of it came with the head. Otherwise the body
        // is read after access control has passed the head, and the head parsed again (the
        // buffer may have moved; the same bytes parse the same).
        let mut admitted = None;
        loop {
            let body_len = {
                let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
                let Parsed::Lane(head) =
                    LaneHead::parse(buf.get(..head_len)?, &mut fields, limits, max_body)
                else {
                    // (Never after admission; if it were, the ordinary path must not count the
                    // request again.)
                    return admitted.map(|_| (LaneEnd::Close, 0));
                };
                // A client access control refuses is answered before its body is read.
                let ctx = match admitted.take() {
                    Some(ctx) => ctx,
                    None => match self.proxy.admit_lane(&head, stream, peer).await? {
                        Admission::Answered(end) => return Some((end, head_len)),
                        Admission::Admitted(ctx) => ctx,
                    },
                };
                let total = head_len + head.body_len;
                if let Some(body) = buf.get(head_len..total) {
                    let end = self
                        .proxy
                        .finish_lane(&head, body, stream, peer, bufs, ctx, shutting_down)
                        .await;
                    return Some((end, total));
                }
                admitted = Some(ctx);
                head.body_len
            };
            if let Err(failure) = self.read_body(stream, buf, head_len + body_len).await {
                let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
                let (Parsed::Lane(head), Some(ctx)) = (
                    LaneHead::parse(buf.get(..head_len)?, &mut fields, limits, max_body),
                    admitted.take(),
                ) else {
                    return Some((LaneEnd::Close, 0));
                };
                let read = buf.len().saturating_sub(head_len).min(body_len);
                let end = self
                    .proxy
                    .lane_body_failed(&head, stream, ctx, failure, read)
                    .await;
                return Some((end, 0));
            }
        }
    }

    /// Reads until the buffer holds `total` bytes (head and body), judging the upload as the
    /// ordinary path does: each read may wait at most `body_rate_grace` (Pingora's 60 s read
    /// timeout without a `min_body_rate`), and once the grace has passed the average pace must
    /// meet `min_body_rate`.
    async fn read_body(
        &self,
        stream: &mut Stream,
        buf: &mut BytesMut,
        total: usize,
    ) -> Result<(), BodyFailure> {
        let limits = self.proxy.limits();
        let min_rate = limits.min_body_rate;
        let grace = limits.body_rate_grace;
        let stall = if min_rate.is_some() {
            grace
        } else {
            FIRST_READ_TIMEOUT
        };
        let mut pace = BodyRate::start();
        while buf.len() < total {
            // Room for what is still due, a piece at a time: a Content-Length is a claim, not
            // a reason to set memory aside before the bytes come.
            buf.reserve((total - buf.len()).min(KEEP_BUFFER));
            match pingora::prelude::timeout(stall, stream.read_buf(buf)).await {
                Ok(Ok(n)) if n > 0 => {
                    if !pace.record(n, min_rate.unwrap_or(0), grace) {
                        return Err(BodyFailure::TooSlow);
                    }
                }
                Ok(_) => return Err(BodyFailure::Closed),
                Err(_) => return Err(BodyFailure::Stalled),
            }
        }
        Ok(())
    }

    /// Reads until the buffer starts with a complete head (CRLF line endings), or decides the
    /// ordinary path must read it.
    async fn read_head(
        &self,
        stream: &mut Stream,
        buf: &mut BytesMut,
        bufs: &mut LaneBuffers,
        fresh: bool,
    ) -> HeadRead {
        let mut searched = 0;
        loop {
            if let Some(end) =
                memchr::memmem::find(buf.get(searched..).unwrap_or_default(), b"\r\n\r\n")
            {
                return HeadRead::Complete(searched + end + 4);
            }
            // A head ended by bare line feeds never has CRLF CRLF: the ordinary path refuses
            // those (and the lane must not wait for an end that never comes).
            if buf.len() > MAX_LANE_HEAD || ordinary_partial_head(buf) {
                return HeadRead::Ordinary;
            }
            searched = buf.len().saturating_sub(3);
            // Between requests the keep-alive timeout applies; within a head (or for a new
            // connection's first bytes) the read timeout, under the head deadline.
            let idle = buf.is_empty() && !fresh;
            let mut wait = if idle {
                self.proxy.keepalive_timeout()
            } else {
                FIRST_READ_TIMEOUT
            };
            if idle && (buf.capacity() > KEEP_BUFFER || bufs.larger_than(KEEP_BUFFER)) {
                // Large buffers are kept only while the next request follows soon.
                let first = IDLE_SHRINK.min(wait);
                match pingora::prelude::timeout(first, stream.read_buf(buf)).await {
                    Ok(Ok(n)) if n > 0 => continue,
                    Ok(_) => return HeadRead::Closed,
                    Err(_) => {
                        *buf = BytesMut::with_capacity(4096);
                        bufs.shrink(KEEP_BUFFER);
                        wait = wait.saturating_sub(first);
                    }
                }
            }
            match pingora::prelude::timeout(wait, stream.read_buf(buf)).await {
                Ok(Ok(n)) if n > 0 => {}
                _ => return HeadRead::Closed,
            }
        }
    }

    /// One request through Pingora's proxy, which reads it starting with `prefix`. Returns the
    /// connection when it may carry another request.
    async fn ordinary_request(
        &self,
        stream: Stream,
        prefix: BytesMut,
        shutdown: &ShutdownWatch,
    ) -> Option<Stream> {
        let mut session = ServerSession::new_http1(stream);
        if *shutdown.borrow() {
            session.set_keepalive(None);
        } else {
            session.set_keepalive(Some(ORDINARY_KEEPALIVE_SECS));
        }
        if !prefix.is_empty() {
            session.set_pipelined_prefix(prefix);
        }
        let reused = self.ordinary.process_new_http(session, shutdown).await?;
        // Pipelined bytes past a request are not kept (Pingora refuses reuse when there are
        // any, unless pipelining is on, which Palisade does not enable).
        let (stream, _settings) = reused.consume();
        Some(stream)
    }
}

/// Whether the head read so far already shows what the ordinary path refuses (a bare LF, which
/// also means the CRLF CRLF end the lane waits for may never come; bare CR; folding): the same
/// check as for every complete head, on the complete lines read so far.
fn ordinary_partial_head(bytes: &[u8]) -> bool {
    check_raw_head(bytes, false).is_some()
}

/// Appends one header line (`name: value` CRLF) to a head being built.
pub(crate) fn push_field(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

#[async_trait]
impl ServerApp for H1Lane {
    async fn process_new(
        self: &Arc<Self>,
        stream: Stream,
        shutdown: &ShutdownWatch,
    ) -> Option<Stream> {
        // TLS (and with it HTTP/2) stays on the ordinary path.
        if !self.enabled || stream.get_ssl().is_some() || stream.get_ssl_digest().is_some() {
            return self.ordinary.process_new(stream, shutdown).await;
        }
        let peer = stream
            .get_socket_digest()
            .and_then(|d| d.peer_addr().and_then(|a| a.as_inet()).map(|a| a.ip()));
        self.serve(stream, peer, shutdown).await;
        None
    }

    async fn cleanup(&self) {
        ServerApp::cleanup(&*self.ordinary).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_line_feeds_are_found() {
        assert!(!ordinary_partial_head(b"GET / HTTP/1.1\r\nHost: a\r\n"));
        assert!(ordinary_partial_head(b"GET / HTTP/1.1\nHost: a"));
        assert!(ordinary_partial_head(b"\nGET"));
        assert!(!ordinary_partial_head(b""));
    }
}
