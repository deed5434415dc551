//! Idle keep-alive connections to the app, for the direct relay (`service/direct_relay.rs`).
//!
//! Pingora's own pool spawns a task per released connection to watch it while idle; at tens of
//! thousands of requests per second that task, and its channel, cost more than the rest of a small
//! request's trip through the proxy. This pool does no work while a connection is idle: it checks
//! a connection when it is taken instead — too old, or readable (the app closed it or sent bytes
//! nobody asked for), and it is dropped. A connection the app closes in the instant between that
//! check and the request is caught by the relay, which retries once on a fresh connection (only
//! bodyless GET and HEAD requests take that path, so a retry can never repeat a side effect).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use pingora::protocols::l4::stream::Stream as TcpStream;
use pingora::protocols::Stream;
use pingora::{Error, ErrorType, Result};
use tokio::io::ReadBuf;

/// How many idle connections the pool keeps, like Pingora's default upstream pool size.
pub const MAX_IDLE: usize = 128;

/// An idle connection and when it went idle.
struct Idle {
    stream: Stream,
    addr: SocketAddr,
    since: Instant,
}

/// Idle connections to the app, newest last (taken first: the likeliest to be alive).
pub struct AppPool {
    idle: Mutex<VecDeque<Idle>>,
    idle_timeout: Duration,
    connect_timeout: Duration,
}

/// A connection to the app, and whether it came from the pool (a failure on a reused connection
/// before any response byte may be the app's idle close, and is worth one retry).
pub struct AppConnection {
    /// The connection.
    pub stream: Stream,
    /// Taken from the pool rather than freshly connected.
    pub reused: bool,
}

impl AppPool {
    /// A pool that drops connections idle longer than `idle_timeout` (shorter than a typical app
    /// server's own idle timeout, so Palisade is the side that stops using them) and gives up
    /// connecting after `connect_timeout`.
    pub fn new(idle_timeout: Duration, connect_timeout: Duration) -> AppPool {
        AppPool {
            idle: Mutex::new(VecDeque::new()),
            idle_timeout,
            connect_timeout,
        }
    }

    /// An idle connection to `addr` that still looks usable, else a new one.
    pub async fn get(&self, addr: SocketAddr) -> Result<AppConnection> {
        if let Some(stream) = self.take(addr) {
            return Ok(AppConnection {
                stream,
                reused: true,
            });
        }
        Ok(AppConnection {
            stream: self.connect(addr).await?,
            reused: false,
        })
    }

    /// A new connection to `addr`, never from the pool.
    pub async fn connect(&self, addr: SocketAddr) -> Result<Stream> {
        let tcp =
            match tokio::time::timeout(self.connect_timeout, tokio::net::TcpStream::connect(addr))
                .await
            {
                Ok(Ok(tcp)) => tcp,
                Ok(Err(e)) => {
                    let kind = if e.kind() == std::io::ErrorKind::ConnectionRefused {
                        ErrorType::ConnectRefused
                    } else {
                        ErrorType::ConnectError
                    };
                    return Err(Error::because(
                        kind,
                        format!("connecting to the app at {addr}"),
                        e,
                    ));
                }
                Err(_) => {
                    return Error::e_explain(
                        ErrorType::ConnectTimedout,
                        format!(
                            "connecting to the app at {addr}: no answer within {} ms",
                            self.connect_timeout.as_millis()
                        ),
                    )
                }
            };
        // Heads and small bodies go out at once rather than waiting for Nagle.
        tcp.set_nodelay(true)
            .map_err(|e| Error::because(ErrorType::ConnectError, "setting TCP_NODELAY", e))?;
        Ok(Box::new(TcpStream::from(tcp)))
    }

    /// Keeps `stream` (a connection to `addr` whose last response was read in full) for reuse.
    pub fn put(&self, stream: Stream, addr: SocketAddr) {
        let now = Instant::now();
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        // The oldest are at the front: drop the expired ones while we are here, and the oldest
        // when full. Dropping closes them.
        while idle
            .front()
            .is_some_and(|c| now.duration_since(c.since) > self.idle_timeout)
            || idle.len() >= MAX_IDLE
        {
            idle.pop_front();
        }
        idle.push_back(Idle {
            stream,
            addr,
            since: now,
        });
    }

    /// The newest idle connection to `addr` that is neither expired nor closed.
    fn take(&self, addr: SocketAddr) -> Option<Stream> {
        let now = Instant::now();
        loop {
            let candidate = self
                .idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .pop_back()?;
            let Idle {
                mut stream,
                addr: to,
                since,
            } = candidate;
            if to == addr && now.duration_since(since) <= self.idle_timeout && quiet(&mut stream) {
                return Some(stream);
            }
            // Expired, closed by the app, or to an old address: drop it (closing it) and look
            // at the next.
        }
    }

    /// Idle connections held now.
    pub fn idle_count(&self) -> usize {
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

/// Whether an idle connection has nothing to read: not closed by the app, and no stray bytes. One
/// non-blocking read attempt; the no-op waker is replaced by the next real read's.
fn quiet(stream: &mut Stream) -> bool {
    let mut byte = [0u8; 1];
    let mut buf = ReadBuf::new(&mut byte);
    let mut cx = Context::from_waker(Waker::noop());
    matches!(
        Pin::new(&mut **stream).poll_read(&mut cx, &mut buf),
        Poll::Pending
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn pool() -> AppPool {
        AppPool::new(Duration::from_secs(4), Duration::from_secs(1))
    }

    async fn listener() -> (tokio::net::TcpListener, SocketAddr) {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        (l, addr)
    }

    #[tokio::test]
    async fn a_returned_connection_is_reused() {
        let (l, addr) = listener().await;
        let p = pool();
        let first = p.get(addr).await.unwrap();
        assert!(!first.reused);
        let (_server_side, _) = l.accept().await.unwrap();
        p.put(first.stream, addr);
        assert_eq!(p.idle_count(), 1);
        let again = p.get(addr).await.unwrap();
        assert!(again.reused, "the idle connection is taken");
        assert_eq!(p.idle_count(), 0);
    }

    #[tokio::test]
    async fn a_connection_the_app_closed_is_not_reused() {
        let (l, addr) = listener().await;
        let p = pool();
        let conn = p.get(addr).await.unwrap();
        let (server_side, _) = l.accept().await.unwrap();
        p.put(conn.stream, addr);
        drop(server_side);
        // Let the FIN arrive.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let next = p.get(addr).await.unwrap();
        assert!(
            !next.reused,
            "a closed idle connection is dropped, a new one made"
        );
    }

    #[tokio::test]
    async fn a_connection_with_stray_bytes_is_not_reused() {
        let (l, addr) = listener().await;
        let p = pool();
        let conn = p.get(addr).await.unwrap();
        let (mut server_side, _) = l.accept().await.unwrap();
        p.put(conn.stream, addr);
        server_side.write_all(b"HTTP/1.1 200 OK\r\n").await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        let next = p.get(addr).await.unwrap();
        assert!(
            !next.reused,
            "bytes nobody asked for: the connection is out of step"
        );
        drop(server_side);
    }

    #[tokio::test]
    async fn an_expired_connection_is_dropped() {
        let (l, addr) = listener().await;
        let p = AppPool::new(Duration::from_millis(20), Duration::from_secs(1));
        let conn = p.get(addr).await.unwrap();
        let (mut server_side, _) = l.accept().await.unwrap();
        p.put(conn.stream, addr);
        tokio::time::sleep(Duration::from_millis(60)).await;
        let next = p.get(addr).await.unwrap();
        assert!(!next.reused);
        // The expired one was closed: the app sees end of stream on it.
        let mut b = [0u8; 1];
        assert_eq!(server_side.read(&mut b).await.unwrap(), 0);
    }

    #[tokio::test]
    async fn connections_to_another_address_are_not_handed_out() {
        let (l1, a1) = listener().await;
        let (_l2, a2) = listener().await;
        let p = pool();
        let conn = p.get(a1).await.unwrap();
        let _s = l1.accept().await.unwrap();
        p.put(conn.stream, a1);
        let other = p.get(a2).await.unwrap();
        assert!(!other.reused);
    }

    #[tokio::test]
    async fn the_pool_is_bounded() {
        let (l, addr) = listener().await;
        let p = pool();
        let mut accepted = Vec::new();
        for _ in 0..MAX_IDLE + 3 {
            let c = p.connect(addr).await.unwrap();
            accepted.push(l.accept().await.unwrap());
            p.put(c, addr);
        }
        assert_eq!(p.idle_count(), MAX_IDLE);
    }

    #[tokio::test]
    async fn a_refused_connect_says_so() {
        let (l, addr) = listener().await;
        drop(l);
        let e = pool().connect(addr).await.err().unwrap();
        assert_eq!(e.etype(), &ErrorType::ConnectRefused);
    }
}
