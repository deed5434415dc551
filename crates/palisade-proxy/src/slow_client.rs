//! Slow clients (issue #8): a total deadline for every request head, and a minimum body rate.
//!
//! Pingora 0.9.1 times the request head per read (`read_request` wraps each socket read in the
//! keep-alive or read timeout, 60 s by default), so a client sending one byte every 59 s keeps a
//! connection and a task forever, and no `ProxyHttp` hook runs before the head is complete. The
//! only place to bound the whole head is below Pingora's parser: [`HeadDeadlineApp`] wraps the
//! proxy's `ServerApp` and hands it each accepted connection wrapped in a [`HeadDeadlineStream`].
//! That stream knows where a head starts and ends (the first byte after a response was written,
//! or the connection's start; the first empty line), and fails reads with `TimedOut` once a head
//! has taken longer than the deadline, so Pingora closes the connection. Bodies are not
//! affected: their pace is judged by [`BodyRate`] in `request_body_filter`.
//!
//! HTTP/2 connections (TLS with ALPN h2) are passed through unwrapped: their heads are HPACK
//! frames, bounded by h2's own limits (see docs/hardening.md).

use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use palisade_audit::{Action, AuditSink, Control, RequestInfo, SecurityEvent};
use pingora::apps::ServerApp;
use pingora::protocols::raw_connect::ProxyDigest;
use pingora::protocols::{
    GetProxyDigest, GetSocketDigest, GetTimingDigest, Peek, Shutdown, SocketDigest, Ssl, Stream,
    TimingDigest, UniqueID, UniqueIDType, ALPN,
};
use pingora::server::ShutdownWatch;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

/// Where a connection is in its request/response cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Reading a head; the deadline runs.
    Head,
    /// The head ended: body bytes (paced by [`BodyRate`]), then the response.
    Body,
    /// A final response went out; the next byte read starts the next head (the idle wait
    /// before it is Pingora's keep-alive timeout).
    Responded,
}

/// Finds the end of a head across reads: an empty line (`\n\n`, `\r\n\r\n`, or the mixes
/// httparse also accepts), ignoring empty lines before the request line.
#[derive(Debug, Default, Clone, Copy)]
struct HeadEnd {
    seen_content: bool,
    after_newline: bool,
}

impl HeadEnd {
    /// Feeds bytes; returns the index just past the head's end when it is in `bytes`.
    ///
    /// Runs on every byte of every request head, so it jumps from line feed to line feed
    /// (`memchr`) instead of stepping through each byte: between two line feeds only one fact
    /// matters, whether the stretch holds anything but `\r` (it almost always does, and the
    /// first byte says so).
    fn feed(&mut self, bytes: &[u8]) -> Option<usize> {
        let mut start = 0;
        for nl in memchr::memchr_iter(b'\n', bytes) {
            self.see(&bytes[start..nl]);
            if self.after_newline && self.seen_content {
                return Some(nl + 1);
            }
            self.after_newline = self.seen_content;
            start = nl + 1;
        }
        self.see(&bytes[start..]);
        None
    }

    /// A stretch without line feeds: any byte other than `\r` is content.
    fn see(&mut self, stretch: &[u8]) {
        if stretch.iter().any(|&b| b != b'\r') {
            self.seen_content = true;
            self.after_newline = false;
        }
    }
}

/// A downstream connection whose request heads must each arrive within a deadline.
pub struct HeadDeadlineStream {
    inner: Stream,
    timeout: Duration,
    phase: Phase,
    head_end: HeadEnd,
    sleep: Pin<Box<Sleep>>,
    expired: Arc<AtomicU64>,
    timed_out: bool,
}

impl std::fmt::Debug for HeadDeadlineStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HeadDeadlineStream")
            .field("inner", &self.inner)
            .field("phase", &self.phase)
            .finish()
    }
}

impl HeadDeadlineStream {
    /// Wraps a fresh connection: its first head is due within `timeout` from now.
    pub fn new(inner: Stream, timeout: Duration, expired: Arc<AtomicU64>) -> Self {
        HeadDeadlineStream {
            inner,
            timeout,
            phase: Phase::Head,
            head_end: HeadEnd::default(),
            sleep: Box::pin(tokio::time::sleep(timeout)),
            expired,
            timed_out: false,
        }
    }

    fn start_head(&mut self) {
        self.phase = Phase::Head;
        self.head_end = HeadEnd::default();
        let deadline = tokio::time::Instant::now() + self.timeout;
        self.sleep.as_mut().reset(deadline);
    }

    fn scan(&mut self, bytes: &[u8]) {
        if self.phase == Phase::Head && self.head_end.feed(bytes).is_some() {
            self.phase = Phase::Body;
        }
    }
}

impl AsyncRead for HeadDeadlineStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.phase == Phase::Head && this.sleep.as_mut().poll(cx).is_ready() {
            if !this.timed_out {
                this.timed_out = true;
                this.expired.fetch_add(1, Ordering::Relaxed);
            }
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "request head deadline passed",
            )));
        }
        let before = buf.filled().len();
        let res = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = res {
            let new = &buf.filled()[before..];
            if !new.is_empty() {
                if this.phase == Phase::Responded {
                    this.start_head();
                }
                this.scan(new);
            }
        }
        res
    }
}

/// Whether written bytes start a final (non-1xx) HTTP/1 response head.
fn starts_final_response(buf: &[u8]) -> bool {
    buf.len() >= 10 && buf.starts_with(b"HTTP/1.") && buf[9] != b'1'
}

impl AsyncWrite for HeadDeadlineStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.phase != Phase::Responded && starts_final_response(buf) {
            this.phase = Phase::Responded;
        }
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[async_trait]
impl Shutdown for HeadDeadlineStream {
    async fn shutdown(&mut self) {
        self.inner.shutdown().await;
    }
}

impl UniqueID for HeadDeadlineStream {
    fn id(&self) -> UniqueIDType {
        self.inner.id()
    }
}

impl Ssl for HeadDeadlineStream {
    fn get_ssl(&self) -> Option<&pingora::protocols::tls::TlsRef> {
        self.inner.get_ssl()
    }

    fn get_ssl_digest(&self) -> Option<Arc<pingora::protocols::tls::SslDigest>> {
        self.inner.get_ssl_digest()
    }

    fn selected_alpn_proto(&self) -> Option<ALPN> {
        self.inner.selected_alpn_proto()
    }
}

impl GetTimingDigest for HeadDeadlineStream {
    fn get_timing_digest(&self) -> Vec<Option<TimingDigest>> {
        self.inner.get_timing_digest()
    }

    fn get_read_pending_time(&self) -> Duration {
        self.inner.get_read_pending_time()
    }

    fn get_write_pending_time(&self) -> Duration {
        self.inner.get_write_pending_time()
    }
}

impl GetProxyDigest for HeadDeadlineStream {
    fn get_proxy_digest(&self) -> Option<Arc<ProxyDigest>> {
        self.inner.get_proxy_digest()
    }

    fn set_proxy_digest(&mut self, digest: ProxyDigest) {
        self.inner.set_proxy_digest(digest);
    }
}

impl GetSocketDigest for HeadDeadlineStream {
    fn get_socket_digest(&self) -> Option<Arc<SocketDigest>> {
        self.inner.get_socket_digest()
    }

    fn set_socket_digest(&mut self, socket_digest: SocketDigest) {
        self.inner.set_socket_digest(socket_digest);
    }
}

#[async_trait]
impl Peek for HeadDeadlineStream {
    async fn try_peek(&mut self, buf: &mut [u8]) -> io::Result<bool> {
        self.inner.try_peek(buf).await
    }
}

/// Wraps a Pingora app so every HTTP/1 connection gets a request-head deadline.
pub struct HeadDeadlineApp<A> {
    inner: Arc<A>,
    timeout: Duration,
    expired: Arc<AtomicU64>,
    audit: AuditSink,
}

impl<A> HeadDeadlineApp<A> {
    /// Wraps `inner`; heads slower than `timeout` close their connection, with one audit event.
    pub fn new(inner: A, timeout: Duration, audit: AuditSink) -> Self {
        HeadDeadlineApp {
            inner: Arc::new(inner),
            timeout,
            expired: Arc::new(AtomicU64::new(0)),
            audit,
        }
    }

    /// Connections closed so far because a head missed its deadline.
    pub fn expired_counter(&self) -> Arc<AtomicU64> {
        self.expired.clone()
    }
}

#[async_trait]
impl<A: ServerApp + Send + Sync + 'static> ServerApp for HeadDeadlineApp<A> {
    async fn process_new(
        self: &Arc<Self>,
        stream: Stream,
        shutdown: &ShutdownWatch,
    ) -> Option<Stream> {
        if matches!(stream.selected_alpn_proto(), Some(ALPN::H2)) {
            return self.inner.process_new(stream, shutdown).await;
        }
        let peer: Option<IpAddr> = stream
            .get_socket_digest()
            .and_then(|d| d.peer_addr().and_then(|a| a.as_inet()).map(|a| a.ip()));
        let conn_expired = Arc::new(AtomicU64::new(0));
        let wrapped = HeadDeadlineStream::new(stream, self.timeout, conn_expired.clone());
        let started = Instant::now();
        let out = self.inner.process_new(Box::new(wrapped), shutdown).await;
        if conn_expired.load(Ordering::Relaxed) > 0 {
            self.expired.fetch_add(1, Ordering::Relaxed);
            let info = RequestInfo {
                client_ip: peer,
                ..RequestInfo::default()
            };
            let mut ev = SecurityEvent::new(
                info,
                Action::Block,
                Control::Limits,
                format!(
                    "request head not complete within header_timeout ({} ms); connection closed after {} ms",
                    self.timeout.as_millis(),
                    started.elapsed().as_millis()
                ),
            );
            ev.status = None;
            self.audit.security(ev);
        }
        out
    }

    async fn cleanup(&self) {
        self.inner.cleanup().await;
    }
}

/// Judges a request body's pace: after `grace`, the average rate since the body started must be
/// at least `min_rate` bytes per second.
#[derive(Debug, Clone, Copy)]
pub struct BodyRate {
    started: Instant,
    bytes: u64,
}

impl BodyRate {
    /// Starts timing a body now.
    pub fn start() -> Self {
        BodyRate {
            started: Instant::now(),
            bytes: 0,
        }
    }

    /// Counts `n` more bytes; returns false when the body is too slow.
    pub fn record(&mut self, n: usize, min_rate: u64, grace: Duration) -> bool {
        self.bytes = self.bytes.saturating_add(n as u64);
        self.acceptable_at(Instant::now(), min_rate, grace)
    }

    /// Bytes counted so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    fn acceptable_at(&self, now: Instant, min_rate: u64, grace: Duration) -> bool {
        let elapsed = now.saturating_duration_since(self.started);
        if elapsed <= grace {
            return true;
        }
        let rate = self.bytes as f64 / elapsed.as_secs_f64();
        rate >= min_rate as f64
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn head_end_is_found_across_reads_and_line_endings() {
        let mut h = HeadEnd::default();
        assert_eq!(h.feed(b"GET / HTTP/1.1\r\nHost: x\r"), None);
        assert_eq!(h.feed(b"\n\r"), None);
        assert_eq!(h.feed(b"\nBODY"), Some(1));
        let mut h = HeadEnd::default();
        assert_eq!(h.feed(b"GET / HTTP/1.1\nHost: x\n\n"), Some(24));
        // Leading empty lines (which parsers skip) do not end a head that has not started.
        let mut h = HeadEnd::default();
        assert_eq!(h.feed(b"\r\n\r\n\r\n"), None);
        assert_eq!(h.feed(b"G"), None);
    }

    /// The byte-at-a-time definition `HeadEnd::feed` must agree with.
    fn feed_bytewise(h: &mut HeadEnd, bytes: &[u8]) -> Option<usize> {
        for (i, &b) in bytes.iter().enumerate() {
            match b {
                b'\n' if h.after_newline && h.seen_content => return Some(i + 1),
                b'\n' => h.after_newline = h.seen_content,
                b'\r' => {}
                _ => {
                    h.seen_content = true;
                    h.after_newline = false;
                }
            }
        }
        None
    }

    #[test]
    fn head_end_agrees_with_the_bytewise_definition() {
        // Every string over {\r, \n, a} up to 7 bytes, fed whole and split at every point.
        let alphabet = [b'\r', b'\n', b'a'];
        for len in 0..=7u32 {
            for mut code in 0..3usize.pow(len) {
                let mut input = Vec::new();
                for _ in 0..len {
                    input.push(alphabet[code % 3]);
                    code /= 3;
                }
                for split in 0..=input.len() {
                    let (a, b) = input.split_at(split);
                    let (mut fast, mut slow) = (HeadEnd::default(), HeadEnd::default());
                    let got = (fast.feed(a), fast.feed(b));
                    let want = (feed_bytewise(&mut slow, a), feed_bytewise(&mut slow, b));
                    if want.0.is_some() {
                        assert_eq!(got.0, want.0, "{input:?} split at {split}");
                    } else {
                        assert_eq!(got, want, "{input:?} split at {split}");
                        assert_eq!(
                            (fast.seen_content, fast.after_newline),
                            (slow.seen_content, slow.after_newline),
                            "{input:?} split at {split}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn only_final_responses_end_a_cycle() {
        assert!(starts_final_response(b"HTTP/1.1 200 OK\r\n"));
        assert!(!starts_final_response(b"HTTP/1.1 100 Continue\r\n"));
        assert!(!starts_final_response(b"hello world"));
    }

    #[test]
    fn body_rate() {
        let grace = Duration::from_secs(2);
        let r = BodyRate {
            started: Instant::now(),
            bytes: 100,
        };
        let t = r.started;
        assert!(r.acceptable_at(t + Duration::from_secs(1), 1000, grace));
        assert!(!r.acceptable_at(t + Duration::from_secs(4), 1000, grace));
        let r = BodyRate { bytes: 8000, ..r };
        assert!(r.acceptable_at(t + Duration::from_secs(4), 1000, grace));
    }

    #[tokio::test]
    async fn slow_head_times_out_and_fast_head_passes() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (client, server) = tokio::io::duplex(1024);
        let counter = Arc::new(AtomicU64::new(0));
        let mut s = HeadDeadlineStream::new(
            Box::new(server),
            Duration::from_millis(300),
            counter.clone(),
        );
        let mut client = client;
        client
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 64];
        let n = s.read(&mut buf).await.unwrap();
        assert_eq!(n, 27);
        assert_eq!(s.phase, Phase::Body);
        // Body reads are not bound by the head deadline.
        tokio::time::sleep(Duration::from_millis(400)).await;
        client.write_all(b"x").await.unwrap();
        assert_eq!(s.read(&mut buf).await.unwrap(), 1);
        // The response ends the cycle; the next head trickles and is cut.
        s.write_all(b"HTTP/1.1 200 OK\r\n\r\n").await.unwrap();
        let trickle = tokio::spawn(async move {
            for _ in 0..20 {
                if client.write_all(b"G").await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            client
        });
        let started = Instant::now();
        let err = loop {
            match s.read(&mut buf).await {
                Ok(_) => continue,
                Err(e) => break e,
            }
        };
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert!(started.elapsed() < Duration::from_millis(900));
        assert_eq!(counter.load(Ordering::Relaxed), 1);
        drop(trickle.await.unwrap());
    }
}
