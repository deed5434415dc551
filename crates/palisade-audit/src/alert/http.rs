//! A minimal HTTP/1.1 POST client over any `AsyncRead + AsyncWrite` stream (plain TCP here; the lead
//! wraps TLS around TCP for `https://`). One request per connection (`Connection: close`); only the
//! status line of the response matters.

use std::fmt;
use std::io;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::url::WebhookUrl;

/// Largest response head read.
const MAX_RESPONSE_HEAD: usize = 16 * 1024;

/// A failed webhook call.
#[derive(Debug)]
pub enum HttpError {
    /// Connecting, writing or reading failed.
    Io(io::Error),
    /// The peer's answer is not HTTP/1.x.
    BadResponse(&'static str),
    /// No answer in time.
    Timeout,
    /// The receiver answered with a non-2xx status.
    Status(u16),
}

impl HttpError {
    /// Whether trying again later could help (network errors, timeouts, 408, 429, 5xx).
    pub fn is_retryable(&self) -> bool {
        match self {
            HttpError::Io(e) => e.kind() != io::ErrorKind::Unsupported,
            HttpError::Timeout => true,
            HttpError::BadResponse(_) => false,
            HttpError::Status(s) => *s == 408 || *s == 429 || *s >= 500,
        }
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpError::Io(e) => write!(f, "{e}"),
            HttpError::BadResponse(why) => write!(f, "bad response: {why}"),
            HttpError::Timeout => f.write_str("timed out"),
            HttpError::Status(s) => write!(f, "receiver answered {s}"),
        }
    }
}

impl std::error::Error for HttpError {}

impl From<io::Error> for HttpError {
    fn from(e: io::Error) -> Self {
        HttpError::Io(e)
    }
}

/// Sends `POST url.path` with a JSON body on `stream` and returns the response status (any status;
/// the caller decides what counts as success).
pub async fn post_json<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    url: &WebhookUrl,
    body: &[u8],
) -> Result<u16, HttpError> {
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: palisade/{}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        url.path,
        url.host_header(),
        env!("CARGO_PKG_VERSION"),
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body).await?;
    stream.flush().await?;
    let mut buf = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    loop {
        if let Some(status) = parse_status(&buf)? {
            return Ok(status);
        }
        if buf.len() >= MAX_RESPONSE_HEAD {
            return Err(HttpError::BadResponse("response head too long"));
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(HttpError::BadResponse(
                "connection closed before a status line",
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// The status code once a full status line is buffered; `None` if more bytes are needed.
fn parse_status(buf: &[u8]) -> Result<Option<u16>, HttpError> {
    let Some(end) = buf.windows(2).position(|w| w == b"\r\n") else {
        return Ok(None);
    };
    let line = std::str::from_utf8(&buf[..end])
        .map_err(|_| HttpError::BadResponse("status line is not UTF-8"))?;
    let mut parts = line.splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    if !version.starts_with("HTTP/1.") {
        return Err(HttpError::BadResponse("not an HTTP/1.x status line"));
    }
    let code = parts.next().unwrap_or("");
    match code.parse::<u16>() {
        Ok(c) if code.len() == 3 && (100..=599).contains(&c) => Ok(Some(c)),
        _ => Err(HttpError::BadResponse("bad status code")),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn status_lines() {
        assert_eq!(parse_status(b"HTTP/1.1 200 OK\r\n").unwrap(), Some(200));
        assert_eq!(parse_status(b"HTTP/1.0 503\r\n").unwrap(), Some(503));
        assert_eq!(parse_status(b"HTTP/1.1 20").unwrap(), None);
        assert!(parse_status(b"SSH-2.0-OpenSSH\r\n").is_err());
        assert!(parse_status(b"HTTP/1.1 2000 OK\r\n").is_err());
    }

    #[tokio::test]
    async fn posts_over_an_in_memory_stream() {
        let (mut client, mut server) = tokio::io::duplex(64 * 1024);
        let url = WebhookUrl::parse("http://example.test:8080/hooks/abc").unwrap();
        let server_task = tokio::spawn(async move {
            let mut got = Vec::new();
            let mut buf = [0u8; 4096];
            while !got.ends_with(b"{\"a\":1}") {
                let n = server.read(&mut buf).await.unwrap();
                assert!(n > 0);
                got.extend_from_slice(&buf[..n]);
            }
            server
                .write_all(b"HTTP/1.1 204 No Content\r\n\r\n")
                .await
                .unwrap();
            String::from_utf8(got).unwrap()
        });
        let status = post_json(&mut client, &url, b"{\"a\":1}").await.unwrap();
        assert_eq!(status, 204);
        let request = server_task.await.unwrap();
        assert!(
            request.starts_with("POST /hooks/abc HTTP/1.1\r\nHost: example.test:8080\r\n"),
            "{request}"
        );
        assert!(request.contains("Content-Length: 7\r\n"));
    }

    #[test]
    fn retry_policy() {
        assert!(HttpError::Status(503).is_retryable());
        assert!(HttpError::Status(429).is_retryable());
        assert!(!HttpError::Status(404).is_retryable());
        assert!(HttpError::Timeout.is_retryable());
    }
}
