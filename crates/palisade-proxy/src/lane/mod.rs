//! The HTTP/1 lane: plain-TCP HTTP/1.1 connections are read here first. A bodyless `GET` or
//! `HEAD` — nearly all of an app's traffic — is parsed in place, checked and inspected by the
//! same code as every other request (`service/lane.rs`), and relayed to the app over Palisade's
//! own keep-alive pool, without Pingora's session machinery. Anything else (bodies, upgrades,
//! unusual heads, TLS, HTTP/2) is handed to Pingora's `HttpProxy` with the bytes already read,
//! one request at a time, and the lane takes the connection back afterwards.
//!
//! Why: on a small GET, Pingora's server session, its per-request header maps and its proxy
//! state machine cost about as much CPU as everything Palisade itself does (measured with
//! callgrind: ~90k instructions per request through `HttpProxy`, of which Palisade's checks are
//! ~20k). The lane does not change what a request may do — it only serves the heads it is sure
//! of (`request.rs`) and leaves every refusal of a malformed or oversized head to the ordinary
//! path.

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
use crate::service::{LaneBuffers, LaneEnd, PalisadeProxy};

pub(crate) mod chunked;
pub(crate) mod request;
pub(crate) mod response;

use request::{LaneHead, Parsed, MAX_HEADERS};

/// Heads longer than this are left to the ordinary path (which allows up to its own limits).
const MAX_LANE_HEAD: usize = 16 * 1024;

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
            let head_len = match self.read_head(&mut stream, &mut buf, fresh).await {
                HeadRead::Complete(n) => Some(n),
                HeadRead::Ordinary => None,
                HeadRead::Closed => return,
            };
            fresh = false;
            let shutting_down = *shutdown.borrow();
            let served = match head_len {
                Some(n) => {
                    let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
                    match buf
                        .get(..n)
                        .map(|raw| LaneHead::parse(raw, &mut fields, self.proxy.limits()))
                    {
                        Some(Parsed::Lane(head)) => self
                            .proxy
                            .serve_lane(&head, &mut stream, peer, &mut bufs, shutting_down)
                            .await
                            .map(|end| (end, n)),
                        _ => None,
                    }
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

    /// Reads until the buffer starts with a complete head (CRLF line endings), or decides the
    /// ordinary path must read it.
    async fn read_head(&self, stream: &mut Stream, buf: &mut BytesMut, fresh: bool) -> HeadRead {
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
            let wait = if buf.is_empty() && !fresh {
                self.proxy.keepalive_timeout()
            } else {
                FIRST_READ_TIMEOUT
            };
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
