//! A raw HTTP/1.1 request parser for `palisade explain` and tests: request line, headers (CRLF or
//! bare LF, obsolete line folding joined), body by `Transfer-Encoding: chunked` or
//! `Content-Length` or the rest of the input. Never panics; errors say what is wrong and where.

use std::fmt;

/// A parsed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawRequest {
    /// Method.
    pub method: String,
    /// Raw request-target.
    pub target: Vec<u8>,
    /// Version token (`HTTP/1.1`), empty when absent.
    pub version: String,
    /// Headers in order.
    pub headers: Vec<(String, Vec<u8>)>,
    /// Body (de-chunked).
    pub body: Vec<u8>,
}

/// Why a raw request could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawRequestError {
    /// 1-based line of the problem.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for RawRequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "request line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for RawRequestError {}

fn err(line: usize, message: impl Into<String>) -> RawRequestError {
    RawRequestError {
        line,
        message: message.into(),
    }
}

/// Largest chunk size accepted while de-chunking (bounds the work on hostile input).
const MAX_CHUNK: usize = 64 * 1024 * 1024;

impl RawRequest {
    /// Headers as the engine takes them.
    pub fn header_refs(&self) -> Vec<(&str, &[u8])> {
        self.headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_slice()))
            .collect()
    }

    /// The first header of that name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }
}

fn next_line(input: &[u8], pos: &mut usize) -> Option<Vec<u8>> {
    if *pos >= input.len() {
        return None;
    }
    let rest = &input[*pos..];
    let (line, used) = match rest.iter().position(|&b| b == b'\n') {
        Some(n) => (&rest[..n], n + 1),
        None => (rest, rest.len()),
    };
    *pos += used;
    Some(line.strip_suffix(b"\r").unwrap_or(line).to_vec())
}

/// Parses a request from bytes.
pub fn parse_raw_request(input: &[u8]) -> Result<RawRequest, RawRequestError> {
    let mut pos = 0;
    let mut line_no = 1;
    // Tolerate leading blank lines (RFC 9112 §2.2).
    let request_line = loop {
        let l = next_line(input, &mut pos)
            .ok_or_else(|| err(line_no, "empty input: expected 'METHOD target HTTP/1.1'"))?;
        if !l.is_empty() {
            break l;
        }
        line_no += 1;
    };
    let text = String::from_utf8_lossy(&request_line);
    let mut parts = text.splitn(3, ' ');
    let method = parts.next().unwrap_or("").to_string();
    let target = parts.next().unwrap_or("").as_bytes().to_vec();
    let version = parts.next().unwrap_or("").trim().to_string();
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(err(line_no, format!("'{method}' is not a method")));
    }
    if target.is_empty() {
        return Err(err(line_no, "missing request-target after the method"));
    }
    let mut headers: Vec<(String, Vec<u8>)> = Vec::new();
    loop {
        line_no += 1;
        let Some(l) = next_line(input, &mut pos) else {
            break;
        };
        if l.is_empty() {
            break;
        }
        if matches!(l.first(), Some(b' ' | b'\t')) {
            // Obsolete line folding: join to the previous header.
            match headers.last_mut() {
                Some((_, v)) => {
                    v.push(b' ');
                    v.extend_from_slice(crate::decode::trim(&l));
                }
                None => return Err(err(line_no, "continuation line before any header")),
            }
            continue;
        }
        let colon = l
            .iter()
            .position(|&b| b == b':')
            .ok_or_else(|| err(line_no, "header line without ':'"))?;
        let name = String::from_utf8_lossy(&l[..colon]).trim().to_string();
        if name.is_empty() {
            return Err(err(line_no, "empty header name"));
        }
        headers.push((name, crate::decode::trim(&l[colon + 1..]).to_vec()));
    }
    let rest = &input[pos.min(input.len())..];
    let mut req = RawRequest {
        method,
        target,
        version,
        headers,
        body: Vec::new(),
    };
    let chunked = req.header("transfer-encoding").is_some_and(|te| {
        String::from_utf8_lossy(te)
            .to_ascii_lowercase()
            .contains("chunked")
    });
    req.body = if chunked {
        dechunk(rest, line_no)?
    } else if let Some(cl) = req.header("content-length") {
        let n: usize = String::from_utf8_lossy(cl)
            .trim()
            .parse()
            .map_err(|_| err(line_no, "Content-Length is not a number"))?;
        rest[..n.min(rest.len())].to_vec()
    } else {
        rest.to_vec()
    };
    Ok(req)
}

fn dechunk(mut s: &[u8], line_no: usize) -> Result<Vec<u8>, RawRequestError> {
    let mut out = Vec::new();
    loop {
        let nl = s
            .iter()
            .position(|&b| b == b'\n')
            .ok_or_else(|| err(line_no, "chunked body: missing chunk-size line"))?;
        let size_line = String::from_utf8_lossy(&s[..nl]);
        let size_hex = size_line.trim().split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_hex, 16).map_err(|_| {
            err(
                line_no,
                format!("chunked body: '{size_hex}' is not a hex chunk size"),
            )
        })?;
        if size > MAX_CHUNK {
            return Err(err(line_no, "chunked body: chunk too large"));
        }
        s = &s[nl + 1..];
        if size == 0 {
            return Ok(out);
        }
        if s.len() < size {
            return Err(err(line_no, "chunked body: chunk shorter than its size"));
        }
        out.extend_from_slice(&s[..size]);
        s = &s[size..];
        s = s
            .strip_prefix(b"\r\n")
            .or_else(|| s.strip_prefix(b"\n"))
            .unwrap_or(s);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn parses_content_length_body() {
        let r = parse_raw_request(
            b"POST /a?b=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcdef",
        )
        .unwrap();
        assert_eq!(r.method, "POST");
        assert_eq!(r.target, b"/a?b=1");
        assert_eq!(r.version, "HTTP/1.1");
        assert_eq!(r.header("host"), Some(&b"x"[..]));
        assert_eq!(r.body, b"abc");
    }

    #[test]
    fn parses_chunked_and_bare_lf() {
        let r = parse_raw_request(
            b"POST / HTTP/1.1\nTransfer-Encoding: chunked\n\n3\nabc\n2;ext\nde\n0\n\n",
        )
        .unwrap();
        assert_eq!(r.body, b"abcde");
    }

    #[test]
    fn errors_point_at_line() {
        assert_eq!(parse_raw_request(b"").unwrap_err().line, 1);
        let e = parse_raw_request(b"GET / HTTP/1.1\r\nHost x\r\n\r\n").unwrap_err();
        assert_eq!(e.line, 2);
        let e = parse_raw_request(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")
            .unwrap_err();
        assert!(e.message.contains("hex"));
    }

    #[test]
    fn folding_joined() {
        let r = parse_raw_request(b"GET / HTTP/1.1\r\nX-A: one\r\n two\r\n\r\n").unwrap();
        assert_eq!(r.header("x-a"), Some(&b"one two"[..]));
    }
}
