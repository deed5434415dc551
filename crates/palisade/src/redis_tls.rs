//! The Redis connector for `rediss://`: TCP, then TLS 1.2+ with BoringSSL (the TLS library
//! Pingora already links), handed to the access crate's Redis client, which has no TLS of its own.
//!
//! Two policies, chosen in `wiring`:
//! - **verify** (default for an explicit `PALISADE_REDIS_URL` / `access.redis.url`): the server's
//!   certificate must chain to the system CA bundle (or `SSL_CERT_FILE`) and name the URL's host
//!   (or IP address). A failed handshake never sends the password; the client reconnects with
//!   backoff and the proxy keeps deciding from local limits meanwhile.
//! - **encrypt only** (default for Heroku's own `REDIS_URL`, whose certificates are self-signed,
//!   see Heroku's "Connecting to Heroku Data for Redis" — clients are told to skip verification):
//!   the traffic is still encrypted, but the certificate is not checked.

use std::io;
use std::pin::Pin;

use palisade_access::{RedisConnector, RedisUrl};
use palisade_proxy::pingora::tls::ssl::{SslConnector, SslMethod, SslVerifyMode, SslVersion};
use palisade_proxy::pingora::tls::tokio_ssl::SslStream;
use tokio::net::TcpStream;

/// CA bundles tried in order when `SSL_CERT_FILE` is not set, in addition to BoringSSL's defaults
/// (Heroku's stacks and Debian/Ubuntu ship the first).
const CA_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/cert.pem",
];

/// Opens TLS connections to Redis.
pub struct TlsRedisConnector {
    tls: SslConnector,
    verify: bool,
}

impl TlsRedisConnector {
    /// Builds the TLS client context: TLS 1.2 or later; with `verify`, certificate chain and host
    /// name checks against the system CA bundle (or `SSL_CERT_FILE`).
    pub fn new(verify: bool) -> Result<TlsRedisConnector, String> {
        let setup = |e: &dyn std::fmt::Display| format!("cannot set up TLS for Redis: {e}");
        let mut builder = SslConnector::builder(SslMethod::tls()).map_err(|e| setup(&e))?;
        builder
            .set_min_proto_version(Some(SslVersion::TLS1_2))
            .map_err(|e| setup(&e))?;
        if verify {
            // `SSL_CERT_FILE` (honoured by the defaults) lets an operator trust a private CA.
            if std::env::var_os("SSL_CERT_FILE").is_none() {
                if let Some(bundle) = CA_BUNDLES.iter().find(|p| std::path::Path::new(p).exists()) {
                    builder
                        .set_ca_file(bundle)
                        .map_err(|e| format!("cannot read the CA bundle {bundle}: {e}"))?;
                }
            }
        } else {
            builder.set_verify(SslVerifyMode::NONE);
        }
        Ok(TlsRedisConnector {
            tls: builder.build(),
            verify,
        })
    }

    /// Whether certificates are verified.
    pub fn verifies(&self) -> bool {
        self.verify
    }
}

fn tls_error(what: &str, e: impl std::fmt::Display) -> io::Error {
    io::Error::other(format!("{what}: {e}"))
}

impl RedisConnector for TlsRedisConnector {
    type Stream = SslStream<TcpStream>;

    async fn connect(&self, url: &RedisUrl) -> io::Result<SslStream<TcpStream>> {
        if !url.tls {
            // Wiring only hands `rediss://` URLs to this connector; refuse rather than guess.
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the TLS connector was given a redis:// URL",
            ));
        }
        let tcp = TcpStream::connect((url.host.as_str(), url.port)).await?;
        tcp.set_nodelay(true)?;
        // `into_ssl` sets SNI (for a host name) and, when verifying, the name or IP address the
        // certificate must carry.
        let ssl = self
            .tls
            .configure()
            .map(|c| c.verify_hostname(self.verify))
            .and_then(|c| c.into_ssl(&url.host))
            .map_err(|e| tls_error("TLS setup", e))?;
        let mut stream = SslStream::new(ssl, tcp).map_err(|e| tls_error("TLS setup", e))?;
        Pin::new(&mut stream)
            .connect()
            .await
            .map_err(|e| tls_error(&format!("TLS handshake with {}", url.host), e))?;
        Ok(stream)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn builds_both_policies() {
        assert!(TlsRedisConnector::new(true).unwrap().verifies());
        assert!(!TlsRedisConnector::new(false).unwrap().verifies());
    }

    #[tokio::test]
    async fn refuses_a_plain_url_and_reports_refused_connections() {
        let c = TlsRedisConnector::new(false).unwrap();
        let plain = RedisUrl::parse("redis://127.0.0.1:1").unwrap();
        let err = c.connect(&plain).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        // Nothing listens on port 1: an I/O error, not a panic or a hang.
        let tls = RedisUrl::parse("rediss://:pw@127.0.0.1:1").unwrap();
        let err = c.connect(&tls).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused, "{err}");
    }

    #[tokio::test]
    async fn a_server_that_is_not_tls_fails_the_handshake() {
        // A plain TCP server that answers like a Redis without TLS would.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            if let Ok((mut s, _)) = listener.accept().await {
                let _ = s.write_all(b"-ERR wrong protocol\r\n").await;
            }
        });
        let c = TlsRedisConnector::new(false).unwrap();
        let url = RedisUrl::parse(&format!("rediss://127.0.0.1:{port}")).unwrap();
        let err = c.connect(&url).await.unwrap_err();
        assert!(err.to_string().contains("TLS handshake"), "{err}");
    }
}
