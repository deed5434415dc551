//! The alert webhooks' connector: plain TCP for `http://`, BoringSSL (the TLS library Pingora
//! already links) for `https://`, with SNI and certificate + host name verification against the
//! system's CA bundle. Slack and most incident tools only accept `https://`.

use std::io;
use std::pin::Pin;

use palisade_audit::alert::url::WebhookUrl;
use palisade_audit::{AlertConnector, AlertStream, ConnectFuture, TcpConnector};
use palisade_proxy::pingora::tls::ssl::{SslConnector, SslMethod, SslVersion};
use palisade_proxy::pingora::tls::tokio_ssl::SslStream;

/// CA bundles tried in order, in addition to BoringSSL's defaults and `SSL_CERT_FILE`
/// (Heroku's stacks and Debian/Ubuntu ship the first).
const CA_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/cert.pem",
];

/// Connects to webhook destinations over TCP, adding TLS for `https://` URLs.
pub struct TlsAlertConnector {
    tls: SslConnector,
}

fn tls_error(what: &str, e: impl std::fmt::Display) -> io::Error {
    io::Error::other(format!("{what}: {e}"))
}

impl TlsAlertConnector {
    /// Builds the TLS client context (TLS 1.2 or later, peer verification on).
    pub fn new() -> Result<TlsAlertConnector, String> {
        let mut builder = SslConnector::builder(SslMethod::tls())
            .map_err(|e| format!("cannot set up TLS for alert webhooks: {e}"))?;
        builder
            .set_min_proto_version(Some(SslVersion::TLS1_2))
            .map_err(|e| format!("cannot set up TLS for alert webhooks: {e}"))?;
        // `SSL_CERT_FILE` (honoured by the defaults) lets an operator point at a private CA.
        if std::env::var_os("SSL_CERT_FILE").is_none() {
            if let Some(bundle) = CA_BUNDLES.iter().find(|p| std::path::Path::new(p).exists()) {
                builder
                    .set_ca_file(bundle)
                    .map_err(|e| format!("cannot read the CA bundle {bundle}: {e}"))?;
            }
        }
        Ok(TlsAlertConnector {
            tls: builder.build(),
        })
    }
}

impl AlertConnector for TlsAlertConnector {
    fn connect<'a>(&'a self, url: &'a WebhookUrl) -> ConnectFuture<'a> {
        Box::pin(async move {
            let tcp = TcpConnector::connect_tcp(url).await?;
            if !url.https {
                return Ok(Box::new(tcp) as Box<dyn AlertStream>);
            }
            // `into_ssl` sets SNI and the host name the certificate must match.
            let ssl = self
                .tls
                .configure()
                .and_then(|c| c.into_ssl(&url.host))
                .map_err(|e| tls_error("TLS setup", e))?;
            let mut stream = SslStream::new(ssl, tcp).map_err(|e| tls_error("TLS setup", e))?;
            Pin::new(&mut stream)
                .connect()
                .await
                .map_err(|e| tls_error(&format!("TLS handshake with {}", url.host), e))?;
            Ok(Box::new(stream) as Box<dyn AlertStream>)
        })
    }
}
