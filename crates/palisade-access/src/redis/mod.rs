//! A small async Redis client: RESP2 over any `AsyncRead + AsyncWrite` stream, one pipelined
//! connection per process with reconnection, per-request timeouts and a health signal.

pub mod client;
pub mod connection;
pub mod resp;
pub mod url;

pub use client::{RedisClient, SharedStatus, SharedWarning};
pub use connection::{RedisConnector, RedisError, RespConnection, TcpConnector};
pub use resp::RespValue;
pub use url::RedisUrl;
