//! A minimal HTTP/1.1 GET for bundles, over the audit crate's pluggable connector: plain TCP
//! here ([`palisade_audit::TcpConnector`]); for `https://` the binary passes a connector that
//! wraps the TCP stream in TLS (the same one the webhooks use). One request per connection,
//! `If-None-Match` for conditional polling, `Content-Length`, chunked or read-to-close bodies.

use std::fmt;
use std::io;
use std::time::Duration;

use palisade_audit::alert::url::WebhookUrl;
use palisade_audit::AlertConnector;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::bundle::MAX_BUNDLE_BYTES;

/// Largest response head accepted.
const MAX_HEAD: usize = 32 * 1024;

/// What a poll brought back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    /// `304 Not Modified`: the bundle is the one we already have.
    NotModified,
    /// `200 OK` with the bundle bytes and the server's `ETag`, if any.
    Bundle {
        /// Response body.
        bytes: Vec<u8>,
        /// `ETag` to send back as `If-None-Match`.
        etag: Option<String>,
    },
}

/// A failed fetch. Nothing changes when a fetch fails.
#[derive(Debug)]
pub enum FetchError {
    /// Connecting, writing or reading failed.
    Io(io::Error),
    /// No complete answer in time.
    Timeout,
    /// The server answered something other than 200 or 304.
    Status(u16),
    /// Not an HTTP/1.x response, or a truncated one.
    BadResponse(String),
    /// The body is larger than [`MAX_BUNDLE_BYTES`].
    TooLarge,
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FetchError::Io(e) => write!(f, "{e}"),
            FetchError::Timeout => f.write_str("timed out"),
            FetchError::Status(s) => write!(f, "server answered HTTP {s}"),
            FetchError::BadResponse(why) => write!(f, "bad response: {why}"),
            FetchError::TooLarge => write!(f, "response over {MAX_BUNDLE_BYTES} bytes"),
        }
    }
}

impl std::error::Error for FetchError {}

impl From<io::Error> for FetchError {
    fn from(e: io::Error) -> Self {
        FetchError::Io(e)
    }
}

/// Parses a bundle URL (`http://` or `https://`; no credentials in it).
pub fn parse_url(s: &str) -> Result<WebhookUrl, String> {
    WebhookUrl::parse(s).map_err(|why| format!("{}: {why}", WebhookUrl::redacted_text(s)))
}

/// `GET url` with an optional `If-None-Match`, all within `limit`.
pub async fn fetch(
    connector: &dyn AlertConnector,
    url: &WebhookUrl,
    etag: Option<&str>,
    limit: Duration,
) -> Result<Fetched, FetchError> {
    tokio::time::timeout(limit, fetch_inner(connector, url, etag))
        .await
        .unwrap_or(Err(FetchError::Timeout))
}

async fn fetch_inner(
    connector: &dyn AlertConnector,
    url: &WebhookUrl,
    etag: Option<&str>,
) -> Result<Fetched, FetchError> {
    let mut stream = connector.connect(url).await?;
    let mut head = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: palisade/{}\r\nAccept: application/octet-stream\r\nConnection: close\r\n",
        url.path,
        url.host_header(),
        env!("CARGO_PKG_VERSION"),
    );
    // An ETag is a quoted string; anything that could break the header line is not sent.
    if let Some(tag) = etag.filter(|t| t.bytes().all(|b| (0x20..0x7f).contains(&b))) {
        head.push_str(&format!("If-None-Match: {tag}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await?;
    stream.flush().await?;
    let mut buf = Vec::with_capacity(64 * 1024);
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        if buf.len() + n > MAX_BUNDLE_BYTES + MAX_HEAD {
            return Err(FetchError::TooLarge);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    parse_response(&buf)
}

fn bad(why: impl Into<String>) -> FetchError {
    FetchError::BadResponse(why.into())
}

/// Parses a complete response (the server closed the connection after it).
pub fn parse_response(buf: &[u8]) -> Result<Fetched, FetchError> {
    let head_end = buf
        .windows(4)
        .take(MAX_HEAD)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad("no complete response head"))?;
    let head =
        std::str::from_utf8(&buf[..head_end]).map_err(|_| bad("response head is not UTF-8"))?;
    let body = &buf[head_end + 4..];
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let mut parts = status_line.splitn(3, ' ');
    if !parts.next().unwrap_or("").starts_with("HTTP/1.") {
        return Err(bad("not an HTTP/1.x status line"));
    }
    let code = parts.next().unwrap_or("");
    let status: u16 = match code.parse() {
        Ok(c) if code.len() == 3 => c,
        _ => return Err(bad("bad status code")),
    };
    let mut etag = None;
    let mut length = None;
    let mut chunked = false;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            return Err(bad("malformed header line"));
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("etag") {
            etag = Some(value.to_string());
        } else if name.eq_ignore_ascii_case("content-length") {
            length = Some(
                value
                    .parse::<usize>()
                    .map_err(|_| bad("bad Content-Length"))?,
            );
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value
                .to_ascii_lowercase()
                .split(',')
                .any(|t| t.trim() == "chunked");
        }
    }
    match status {
        304 => return Ok(Fetched::NotModified),
        200 => {}
        other => return Err(FetchError::Status(other)),
    }
    let bytes = if chunked {
        dechunk(body)?
    } else if let Some(n) = length {
        if body.len() < n {
            return Err(bad(format!("body truncated: {} of {n} bytes", body.len())));
        }
        body[..n].to_vec()
    } else {
        body.to_vec()
    };
    if bytes.len() > MAX_BUNDLE_BYTES {
        return Err(FetchError::TooLarge);
    }
    Ok(Fetched::Bundle { bytes, etag })
}

fn dechunk(mut rest: &[u8]) -> Result<Vec<u8>, FetchError> {
    let mut out = Vec::with_capacity(rest.len());
    loop {
        let eol = rest
            .windows(2)
            .take(64)
            .position(|w| w == b"\r\n")
            .ok_or_else(|| bad("bad chunk size line"))?;
        let line = std::str::from_utf8(&rest[..eol]).map_err(|_| bad("bad chunk size line"))?;
        let size_text = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| bad("bad chunk size"))?;
        rest = &rest[eol + 2..];
        if size == 0 {
            return Ok(out);
        }
        if size > MAX_BUNDLE_BYTES || rest.len() < size + 2 || &rest[size..size + 2] != b"\r\n" {
            return Err(bad("truncated chunk"));
        }
        out.extend_from_slice(&rest[..size]);
        if out.len() > MAX_BUNDLE_BYTES {
            return Err(FetchError::TooLarge);
        }
        rest = &rest[size + 2..];
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use palisade_audit::TcpConnector;
    use tokio::net::TcpListener;

    #[test]
    fn parses_bodies_etags_and_statuses() {
        let r =
            parse_response(b"HTTP/1.1 200 OK\r\nETag: \"v1\"\r\nContent-Length: 5\r\n\r\nhello")
                .unwrap();
        assert_eq!(
            r,
            Fetched::Bundle {
                bytes: b"hello".to_vec(),
                etag: Some("\"v1\"".into())
            }
        );
        let r = parse_response(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhel\r\n2;x=y\r\nlo\r\n0\r\n\r\n").unwrap();
        assert_eq!(
            r,
            Fetched::Bundle {
                bytes: b"hello".to_vec(),
                etag: None
            }
        );
        let r = parse_response(b"HTTP/1.0 200 OK\r\n\r\nhello").unwrap();
        assert_eq!(
            r,
            Fetched::Bundle {
                bytes: b"hello".to_vec(),
                etag: None
            }
        );
        assert_eq!(
            parse_response(b"HTTP/1.1 304 Not Modified\r\n\r\n").unwrap(),
            Fetched::NotModified
        );
        assert!(matches!(
            parse_response(b"HTTP/1.1 404 Not Found\r\n\r\n"),
            Err(FetchError::Status(404))
        ));
        assert!(parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nhello").is_err());
        assert!(
            parse_response(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n9\r\nhel")
                .is_err()
        );
        assert!(parse_response(b"SSH-2.0\r\n\r\n").is_err());
        assert!(parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n").is_err());
    }

    #[test]
    fn refuses_bad_urls_without_echoing_paths() {
        let e = parse_url("ftp://user:secret@rules.example/SECRET").unwrap_err();
        assert!(!e.contains("SECRET") && !e.contains("secret"), "{e}");
        assert!(parse_url("http://127.0.0.1:1/rules.bundle").is_ok());
    }

    #[tokio::test]
    async fn fetches_over_tcp_with_if_none_match() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let mut seen = Vec::new();
            for _ in 0..2 {
                let (mut s, _) = listener.accept().await.unwrap();
                let mut req = Vec::new();
                let mut b = [0u8; 1024];
                while !req.ends_with(b"\r\n\r\n") {
                    let n = s.read(&mut b).await.unwrap();
                    req.extend_from_slice(&b[..n]);
                }
                let req = String::from_utf8(req).unwrap();
                let resp: &[u8] = if req.contains("If-None-Match: \"abc\"") {
                    b"HTTP/1.1 304 Not Modified\r\n\r\n"
                } else {
                    b"HTTP/1.1 200 OK\r\nETag: \"abc\"\r\nContent-Length: 3\r\n\r\nxyz"
                };
                s.write_all(resp).await.unwrap();
                seen.push(req);
            }
            seen
        });
        let url = parse_url(&format!("http://127.0.0.1:{port}/r.bundle")).unwrap();
        let first = fetch(&TcpConnector, &url, None, Duration::from_secs(5))
            .await
            .unwrap();
        let Fetched::Bundle { bytes, etag } = first else {
            panic!("expected a body")
        };
        assert_eq!(bytes, b"xyz");
        let second = fetch(&TcpConnector, &url, etag.as_deref(), Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(second, Fetched::NotModified);
        let seen = server.await.unwrap();
        assert!(
            seen[0].starts_with("GET /r.bundle HTTP/1.1\r\n"),
            "{}",
            seen[0]
        );
    }

    #[tokio::test]
    async fn silent_server_times_out() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let _keep = tokio::spawn(async move {
            let (_s, _) = listener.accept().await.unwrap();
            tokio::time::sleep(Duration::from_secs(10)).await;
        });
        let url = parse_url(&format!("http://127.0.0.1:{port}/")).unwrap();
        let e = fetch(&TcpConnector, &url, None, Duration::from_millis(200))
            .await
            .unwrap_err();
        assert!(matches!(e, FetchError::Timeout), "{e}");
    }
}
