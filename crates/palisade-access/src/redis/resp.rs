//! RESP2 encoding of commands and incremental parsing of replies, with size limits so a
//! misbehaving server cannot make us allocate without bound.

use std::fmt;

/// Largest bulk string accepted in a reply.
pub const MAX_BULK_LEN: usize = 8 * 1024 * 1024;
/// Largest array accepted in a reply.
pub const MAX_ARRAY_LEN: usize = 65_536;
/// Deepest nesting accepted in a reply.
pub const MAX_DEPTH: usize = 8;

/// A RESP2 reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RespValue {
    /// `+OK`
    Simple(String),
    /// `-ERR …`
    Error(String),
    /// `:42`
    Integer(i64),
    /// `$…` (`None` for the null bulk string).
    Bulk(Option<Vec<u8>>),
    /// `*…` (`None` for the null array).
    Array(Option<Vec<RespValue>>),
}

/// A reply that breaks the protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RespError(pub String);

impl fmt::Display for RespError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RESP protocol error: {}", self.0)
    }
}

impl std::error::Error for RespError {}

/// Appends a command as an array of bulk strings.
pub fn encode_command(args: &[&[u8]], out: &mut Vec<u8>) {
    out.push(b'*');
    out.extend_from_slice(args.len().to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
    for arg in args {
        out.push(b'$');
        out.extend_from_slice(arg.len().to_string().as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}

/// Parses one reply from the front of `buf`: `Ok(Some((value, bytes used)))`, `Ok(None)` if more
/// bytes are needed, or an error for a malformed reply.
pub fn parse_reply(buf: &[u8]) -> Result<Option<(RespValue, usize)>, RespError> {
    parse_at(buf, 0, 0)
}

fn line(buf: &[u8], start: usize) -> Option<(&[u8], usize)> {
    let rest = buf.get(start..)?;
    let pos = rest.windows(2).position(|w| w == b"\r\n")?;
    Some((&rest[..pos], start + pos + 2))
}

fn int(bytes: &[u8]) -> Result<i64, RespError> {
    std::str::from_utf8(bytes)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| RespError(format!("bad integer {:?}", String::from_utf8_lossy(bytes))))
}

fn parse_at(
    buf: &[u8],
    start: usize,
    depth: usize,
) -> Result<Option<(RespValue, usize)>, RespError> {
    if depth > MAX_DEPTH {
        return Err(RespError("reply nested too deeply".into()));
    }
    let Some(&kind) = buf.get(start) else {
        return Ok(None);
    };
    let Some((body, next)) = line(buf, start + 1) else {
        // Guard against a server that never sends a line end.
        if buf.len() - start > MAX_BULK_LEN {
            return Err(RespError("header line too long".into()));
        }
        return Ok(None);
    };
    let text = || String::from_utf8_lossy(body).into_owned();
    match kind {
        b'+' => Ok(Some((RespValue::Simple(text()), next))),
        b'-' => Ok(Some((RespValue::Error(text()), next))),
        b':' => Ok(Some((RespValue::Integer(int(body)?), next))),
        b'$' => {
            let len = int(body)?;
            if len == -1 {
                return Ok(Some((RespValue::Bulk(None), next)));
            }
            let len = usize::try_from(len)
                .ok()
                .filter(|&l| l <= MAX_BULK_LEN)
                .ok_or_else(|| RespError(format!("bulk length {len} out of range")))?;
            let end = next + len;
            if buf.len() < end + 2 {
                return Ok(None);
            }
            if &buf[end..end + 2] != b"\r\n" {
                return Err(RespError("bulk string not terminated by CRLF".into()));
            }
            Ok(Some((
                RespValue::Bulk(Some(buf[next..end].to_vec())),
                end + 2,
            )))
        }
        b'*' => {
            let len = int(body)?;
            if len == -1 {
                return Ok(Some((RespValue::Array(None), next)));
            }
            let len = usize::try_from(len)
                .ok()
                .filter(|&l| l <= MAX_ARRAY_LEN)
                .ok_or_else(|| RespError(format!("array length {len} out of range")))?;
            let mut items = Vec::with_capacity(len.min(64));
            let mut pos = next;
            for _ in 0..len {
                match parse_at(buf, pos, depth + 1)? {
                    Some((v, after)) => {
                        items.push(v);
                        pos = after;
                    }
                    None => return Ok(None),
                }
            }
            Ok(Some((RespValue::Array(Some(items)), pos)))
        }
        other => Err(RespError(format!("unknown reply type byte 0x{other:02x}"))),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn encodes_commands() {
        let mut out = Vec::new();
        encode_command(&[b"SET", b"k", b"v\r\n"], &mut out);
        assert_eq!(out, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\nv\r\n\r\n");
    }

    #[test]
    fn parses_every_type() {
        let buf =
            b"+OK\r\n-ERR no\r\n:-42\r\n$3\r\nabc\r\n$-1\r\n*2\r\n:1\r\n*1\r\n$0\r\n\r\n*-1\r\n";
        let mut pos = 0;
        let mut got = Vec::new();
        while let Some((v, used)) = parse_reply(&buf[pos..]).unwrap() {
            got.push(v);
            pos += used;
        }
        assert_eq!(pos, buf.len());
        assert_eq!(
            got,
            vec![
                RespValue::Simple("OK".into()),
                RespValue::Error("ERR no".into()),
                RespValue::Integer(-42),
                RespValue::Bulk(Some(b"abc".to_vec())),
                RespValue::Bulk(None),
                RespValue::Array(Some(vec![
                    RespValue::Integer(1),
                    RespValue::Array(Some(vec![RespValue::Bulk(Some(vec![]))])),
                ])),
                RespValue::Array(None),
            ]
        );
    }

    #[test]
    fn partial_input_needs_more() {
        let full = b"*2\r\n$5\r\nhello\r\n:7\r\n";
        for cut in 0..full.len() {
            assert_eq!(parse_reply(&full[..cut]).unwrap(), None, "cut at {cut}");
        }
        assert!(parse_reply(full).unwrap().is_some());
    }

    #[test]
    fn malformed_replies_are_errors() {
        for bad in [
            &b"?x\r\n"[..],
            b":abc\r\n",
            b"$99999999999\r\n",
            b"*-5\r\n",
            b"$3\r\nabcde\r\n",
        ] {
            assert!(
                parse_reply(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        let mut deep = Vec::new();
        for _ in 0..20 {
            deep.extend_from_slice(b"*1\r\n");
        }
        deep.extend_from_slice(b":1\r\n");
        assert!(parse_reply(&deep).is_err());
    }
}
