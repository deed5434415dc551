//! One Redis connection over any byte stream, and the connector that opens it.
//!
//! [`RespConnection`] is generic over `AsyncRead + AsyncWrite`, so the proxy can hand in a TLS
//! stream (BoringSSL) for `rediss://`; this crate ships [`TcpConnector`] for `redis://`.

use std::fmt;
use std::future::Future;
use std::io;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::resp::{encode_command, parse_reply, RespError, RespValue};
use super::url::RedisUrl;

/// How long connecting (TCP + handshake) may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// What went wrong talking to Redis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedisError {
    /// I/O error or closed connection.
    Io(String),
    /// The server broke the protocol.
    Protocol(String),
    /// The server answered with an error reply (`-ERR …`).
    Server(String),
    /// The server did not answer within the allowed time.
    Timeout,
    /// Not connected (reconnecting) or too many requests queued.
    Unavailable,
}

impl fmt::Display for RedisError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RedisError::Io(e) => write!(f, "redis I/O error: {e}"),
            RedisError::Protocol(e) => write!(f, "redis protocol error: {e}"),
            RedisError::Server(e) => write!(f, "redis error reply: {e}"),
            RedisError::Timeout => f.write_str("redis did not answer in time"),
            RedisError::Unavailable => f.write_str("redis is not connected"),
        }
    }
}

impl std::error::Error for RedisError {}

impl From<io::Error> for RedisError {
    fn from(e: io::Error) -> Self {
        RedisError::Io(e.to_string())
    }
}

impl From<RespError> for RedisError {
    fn from(e: RespError) -> Self {
        RedisError::Protocol(e.0)
    }
}

/// Opens the byte stream to Redis (TCP, or TLS supplied by the caller).
pub trait RedisConnector: Send + Sync + 'static {
    /// The stream type.
    type Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    /// Connects to `url.host:url.port` (TLS if `url.tls`).
    fn connect(&self, url: &RedisUrl) -> impl Future<Output = io::Result<Self::Stream>> + Send;
}

/// Plain TCP (`redis://`). Refuses `rediss://` URLs rather than sending a password in clear.
#[derive(Debug, Clone, Copy, Default)]
pub struct TcpConnector;

impl RedisConnector for TcpConnector {
    type Stream = TcpStream;
    async fn connect(&self, url: &RedisUrl) -> io::Result<TcpStream> {
        if url.tls {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "rediss:// needs a TLS connector (SharedLimiter::with_connector)",
            ));
        }
        let stream = TcpStream::connect((url.host.as_str(), url.port)).await?;
        stream.set_nodelay(true)?;
        Ok(stream)
    }
}

/// A Redis connection speaking RESP2, one command at a time.
pub struct RespConnection<S> {
    stream: S,
    buf: Vec<u8>,
    out: Vec<u8>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> RespConnection<S> {
    /// Wraps a connected stream.
    pub fn new(stream: S) -> Self {
        RespConnection {
            stream,
            buf: Vec::with_capacity(4096),
            out: Vec::with_capacity(256),
        }
    }

    /// Sends a command and reads its reply. An error reply is returned as
    /// [`RedisError::Server`].
    pub async fn command(&mut self, args: &[&[u8]]) -> Result<RespValue, RedisError> {
        self.out.clear();
        encode_command(args, &mut self.out);
        self.stream.write_all(&self.out).await?;
        self.stream.flush().await?;
        match self.read_reply().await? {
            RespValue::Error(e) => Err(RedisError::Server(e)),
            v => Ok(v),
        }
    }

    /// Reads the next reply.
    pub async fn read_reply(&mut self) -> Result<RespValue, RedisError> {
        loop {
            if let Some((value, used)) = parse_reply(&self.buf)? {
                self.buf.drain(..used);
                return Ok(value);
            }
            let mut chunk = [0u8; 4096];
            let n = self.stream.read(&mut chunk).await?;
            if n == 0 {
                return Err(RedisError::Io("connection closed by server".into()));
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// `AUTH` (if the URL has a password) and `SELECT` (if not database 0).
    pub async fn handshake(&mut self, url: &RedisUrl) -> Result<(), RedisError> {
        if let Some(password) = &url.password {
            match &url.username {
                Some(user) => {
                    let with_user = self
                        .command(&[b"AUTH", user.as_bytes(), password.as_bytes()])
                        .await;
                    // Old Heroku URLs carry a dummy user (`redis://h:pw@…`) that the server does
                    // not know; retry with the password alone (the `default` user).
                    if let Err(RedisError::Server(_)) = with_user {
                        self.command(&[b"AUTH", password.as_bytes()]).await?;
                    } else {
                        with_user?;
                    }
                }
                None => {
                    self.command(&[b"AUTH", password.as_bytes()]).await?;
                }
            }
        }
        if url.db != 0 {
            self.command(&[b"SELECT", url.db.to_string().as_bytes()])
                .await?;
        }
        Ok(())
    }

    /// Splits into the stream and any bytes already read but not parsed.
    pub fn into_parts(self) -> (S, Vec<u8>) {
        (self.stream, self.buf)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn command_round_trip_over_a_duplex_stream() {
        let (client, mut server) = tokio::io::duplex(1024);
        let server_task = tokio::spawn(async move {
            let mut buf = vec![0u8; 1024];
            let mut got = Vec::new();
            while !got.ends_with(b"PING\r\n") {
                let n = server.read(&mut buf).await.unwrap();
                got.extend_from_slice(&buf[..n]);
            }
            // Reply in two pieces to exercise partial reads.
            server.write_all(b"+PO").await.unwrap();
            server.flush().await.unwrap();
            tokio::time::sleep(Duration::from_millis(5)).await;
            server.write_all(b"NG\r\n-ERR nope\r\n").await.unwrap();
            got
        });
        let mut conn = RespConnection::new(client);
        assert_eq!(
            conn.command(&[b"PING"]).await.unwrap(),
            RespValue::Simple("PONG".into())
        );
        assert_eq!(
            conn.read_reply().await.map_err(|e| e.to_string()),
            Ok(RespValue::Error("ERR nope".into()))
        );
        assert_eq!(server_task.await.unwrap(), b"*1\r\n$4\r\nPING\r\n");
    }

    #[tokio::test]
    async fn closed_stream_is_an_io_error() {
        let (client, server) = tokio::io::duplex(64);
        drop(server);
        let mut conn = RespConnection::new(client);
        assert!(matches!(
            conn.command(&[b"PING"]).await,
            Err(RedisError::Io(_))
        ));
    }

    #[tokio::test]
    async fn tcp_connector_refuses_tls_urls() {
        let url = RedisUrl::parse("rediss://:pw@127.0.0.1:1").unwrap();
        let err = TcpConnector.connect(&url).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::Unsupported);
    }
}
