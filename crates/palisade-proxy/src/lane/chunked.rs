//! Finding where a chunked response body ends (RFC 9112 §7.1), without decoding it.
//!
//! The fast lane passes a chunked body from the app to the client byte for byte; all it needs to
//! know is where the body stops, so that the app connection can be reused for the next request
//! and bytes beyond the end are never mistaken for part of this response. [`ChunkedEnd`] is fed
//! the bytes as they arrive, in pieces of any size, and says where the end is once it has seen it.
//!
//! It is strict where a lenient reading could make Palisade and the client disagree about where
//! the body ends (every line must end in CRLF, sizes are hex without sign or prefix), and lenient
//! only where httparse, which Pingora uses, is too: whitespace between a size and its `;`
//! extensions, or before the line's CRLF.

use std::fmt;

/// Hex digits a chunk size may have: 16 fill a `u64`, more can only be an attack or garbage.
const MAX_SIZE_DIGITS: u8 = 16;
/// Longest chunk-extension part of one size line. Extensions are passed through, not read; the
/// bound keeps a never-ending line from passing as a body.
const MAX_EXTENSION: u32 = 4096;
/// Longest trailer section (all trailer field lines together).
const MAX_TRAILERS: u32 = 64 * 1024;

/// Malformed chunked framing; the reason is for logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ChunkedError(pub &'static str);

impl fmt::Display for ChunkedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid chunked body: {}", self.0)
    }
}

impl std::error::Error for ChunkedError {}

/// Where in the framing the next byte falls.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum State {
    /// In a chunk-size line's hex digits (`digits` of them so far).
    #[default]
    Size,
    /// Whitespace after the size digits: `;` or CR may follow.
    SizeSpace,
    /// In the chunk extensions, up to CR.
    Extension,
    /// After the size line's CR.
    SizeLf,
    /// In chunk data.
    Data,
    /// After chunk data: CR expected.
    DataCr,
    /// After chunk data's CR: LF expected.
    DataLf,
    /// At the start of a trailer field line, or of the final empty line.
    TrailerStart,
    /// Inside a trailer field line.
    Trailer,
    /// After a trailer field line's CR.
    TrailerLf,
    /// After the final empty line's CR.
    FinalLf,
    /// The body has ended.
    Done,
}

/// A streaming finder for the end of a chunked body.
#[derive(Debug, Clone, Default)]
pub(crate) struct ChunkedEnd {
    state: State,
    /// The current chunk's size while its line is read; then the data bytes left in it.
    size: u64,
    /// Hex digits of the current size line.
    digits: u8,
    /// Bytes of the current line's extensions, or of the trailer section.
    line: u32,
    /// Data bytes seen so far (the decoded body's length).
    data: u64,
}

impl ChunkedEnd {
    /// Takes the next bytes of the body. Returns `Some(i)` when the body ends inside `bytes`,
    /// `bytes[i..]` being what follows it (not part of this body); `None` when more is needed.
    /// Once the end has been found, further calls return `Some(0)`.
    pub(crate) fn feed(&mut self, bytes: &[u8]) -> Result<Option<usize>, ChunkedError> {
        let mut i = 0;
        while let Some(&b) = bytes.get(i) {
            match self.state {
                State::Data => {
                    // Skip the data in one step: this is where nearly all of a body's bytes are.
                    let left = bytes.len() - i;
                    let take = usize::try_from(self.size).map_or(left, |s| s.min(left));
                    i += take;
                    self.size -= take as u64;
                    self.data += take as u64;
                    if self.size == 0 {
                        self.state = State::DataCr;
                    }
                    continue;
                }
                State::Size => {
                    if let Some(v) = hex_value(b) {
                        if self.digits == MAX_SIZE_DIGITS {
                            return Err(ChunkedError("chunk size too long"));
                        }
                        self.digits += 1;
                        self.size = (self.size << 4) | u64::from(v);
                    } else if self.digits == 0 {
                        return Err(ChunkedError("chunk size is not hex"));
                    } else {
                        match b {
                            b';' => self.start_extension(),
                            b' ' | b'\t' => self.state = State::SizeSpace,
                            b'\r' => self.state = State::SizeLf,
                            _ => return Err(ChunkedError("chunk size is not hex")),
                        }
                    }
                }
                State::SizeSpace => match b {
                    b' ' | b'\t' => {}
                    b';' => self.start_extension(),
                    b'\r' => self.state = State::SizeLf,
                    _ => return Err(ChunkedError("unexpected byte after chunk size")),
                },
                State::Extension => match b {
                    b'\r' => self.state = State::SizeLf,
                    b'\n' => return Err(ChunkedError("bare LF in chunk extension")),
                    _ => {
                        self.line += 1;
                        if self.line > MAX_EXTENSION {
                            return Err(ChunkedError("chunk extension too long"));
                        }
                    }
                },
                State::SizeLf => {
                    if b != b'\n' {
                        return Err(ChunkedError("chunk size line not ended by CRLF"));
                    }
                    if self.size == 0 {
                        // The last chunk: trailer fields, then an empty line.
                        self.line = 0;
                        self.state = State::TrailerStart;
                    } else {
                        self.state = State::Data;
                    }
                }
                State::DataCr => {
                    if b != b'\r' {
                        return Err(ChunkedError("chunk data not followed by CRLF"));
                    }
                    self.state = State::DataLf;
                }
                State::DataLf => {
                    if b != b'\n' {
                        return Err(ChunkedError("chunk data not followed by CRLF"));
                    }
                    self.size = 0;
                    self.digits = 0;
                    self.state = State::Size;
                }
                State::TrailerStart | State::Trailer => match b {
                    b'\r' if self.state == State::TrailerStart => self.state = State::FinalLf,
                    b'\r' => self.state = State::TrailerLf,
                    b'\n' => return Err(ChunkedError("bare LF in trailer section")),
                    _ => {
                        self.line += 1;
                        if self.line > MAX_TRAILERS {
                            return Err(ChunkedError("trailer section too long"));
                        }
                        self.state = State::Trailer;
                    }
                },
                State::TrailerLf => {
                    if b != b'\n' {
                        return Err(ChunkedError("trailer field not ended by CRLF"));
                    }
                    self.state = State::TrailerStart;
                }
                State::FinalLf => {
                    if b != b'\n' {
                        return Err(ChunkedError("chunked body not ended by CRLF"));
                    }
                    self.state = State::Done;
                    return Ok(Some(i + 1));
                }
                State::Done => return Ok(Some(0)),
            }
            i += 1;
        }
        Ok((self.state == State::Done).then_some(0))
    }

    /// Whether the end of the body has been seen.
    #[cfg(test)]
    pub(crate) fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// The body's data bytes seen so far, without the chunk framing.
    pub(crate) fn data_bytes(&self) -> u64 {
        self.data
    }

    fn start_extension(&mut self) {
        self.line = 0;
        self.state = State::Extension;
    }
}

/// The value of an ASCII hex digit.
fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// Feeds `input` in the pieces `cuts` splits it into; the end's index in `input`, if found.
    fn end_fed_split(input: &[u8], cuts: &[usize]) -> Result<Option<usize>, ChunkedError> {
        let mut c = ChunkedEnd::default();
        let mut start = 0;
        for &cut in cuts.iter().chain(std::iter::once(&input.len())) {
            if let Some(end) = c.feed(&input[start..cut])? {
                return Ok(Some(start + end));
            }
            start = cut;
        }
        Ok(None)
    }

    /// The end found with `input` fed at once, split at every offset, and byte by byte — all
    /// must agree.
    fn end_every_way(input: &[u8]) -> Result<Option<usize>, ChunkedError> {
        let whole = end_fed_split(input, &[]);
        for cut in 0..=input.len() {
            assert_eq!(
                end_fed_split(input, &[cut]),
                whole,
                "split at {cut} of {:?}",
                String::from_utf8_lossy(input)
            );
        }
        let bytewise: Vec<usize> = (1..input.len()).collect();
        assert_eq!(end_fed_split(input, &bytewise), whole, "byte by byte");
        whole
    }

    const BODIES: &[&[u8]] = &[
        b"0\r\n\r\n",
        b"5\r\nhello\r\n0\r\n\r\n",
        b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
        b"A\r\n0123456789\r\n0\r\n\r\n",
        b"a\r\n0123456789\r\n000\r\n\r\n",
        b"5;name=value\r\nhello\r\n0;last\r\n\r\n",
        b"5 ;a=\"q;uoted\"\r\nhello\r\n0\t;x\r\n\r\n",
        b"5 \r\nhello\r\n0\r\n\r\n",
        b"5\r\nhello\r\n0\r\nExpires: never\r\nX-Checksum: abc\r\n\r\n",
        b"3\r\n\r\n\r\r\n0\r\n\r\n",
        b"0000000000000003\r\nabc\r\n0\r\n\r\n",
    ];

    #[test]
    fn whole_bodies_end_where_they_end_however_they_are_fed() {
        for body in BODIES {
            assert_eq!(end_every_way(body), Ok(Some(body.len())), "{body:?}");
        }
    }

    #[test]
    fn bytes_after_the_end_are_not_consumed() {
        for body in BODIES {
            let mut piped = body.to_vec();
            piped.extend_from_slice(b"HTTP/1.1 200 OK\r\n\r\n");
            assert_eq!(end_every_way(&piped), Ok(Some(body.len())), "{body:?}");
        }
        let mut c = ChunkedEnd::default();
        assert_eq!(c.feed(b"0\r\n\r\n0\r\n"), Ok(Some(5)));
        assert!(c.is_done());
        assert_eq!(c.feed(b"more"), Ok(Some(0)));
        assert_eq!(c.feed(b""), Ok(Some(0)));
    }

    #[test]
    fn incomplete_bodies_need_more() {
        for body in BODIES {
            for len in 0..body.len() {
                assert_eq!(end_every_way(&body[..len]), Ok(None), "{body:?} to {len}");
            }
        }
    }

    #[test]
    fn data_bytes_are_counted_without_framing() {
        let mut c = ChunkedEnd::default();
        c.feed(b"5;x=y\r\nhello\r\n6\r\n wor").unwrap();
        assert_eq!(c.data_bytes(), 9);
        c.feed(b"ld\r\n0\r\nT: v\r\n\r\n").unwrap();
        assert_eq!(c.data_bytes(), 11);
    }

    #[test]
    fn a_large_chunk_is_skipped_in_pieces() {
        let mut body = b"100000\r\n".to_vec();
        body.resize(body.len() + 0x10_0000, b'x');
        body.extend_from_slice(b"\r\n0\r\n\r\n");
        let mut c = ChunkedEnd::default();
        let mut end = None;
        for (n, piece) in body.chunks(1000).enumerate() {
            if let Some(e) = c.feed(piece).unwrap() {
                end = Some(n * 1000 + e);
                break;
            }
        }
        assert_eq!(end, Some(body.len()));
        assert_eq!(c.data_bytes(), 0x10_0000);
    }

    #[test]
    fn malformed_framing_is_refused() {
        for (body, why) in [
            (&b"\r\n"[..], "no size"),
            (b"x\r\n", "not hex"),
            (b"-5\r\nhello\r\n0\r\n\r\n", "sign"),
            (b"0x5\r\nhello\r\n0\r\n\r\n", "prefix"),
            (b"5x\r\nhello\r\n0\r\n\r\n", "junk after size"),
            (b" 5\r\nhello\r\n0\r\n\r\n", "space before size"),
            (b"5 x\r\nhello\r\n0\r\n\r\n", "junk after space"),
            (b"10000000000000000\r\n", "17 digits"),
            (b"00000000000000000\r\n", "17 digits even if zero"),
            (b"5\nhello\r\n0\r\n\r\n", "bare LF after size"),
            (b"5\rhello\r\n0\r\n\r\n", "CR without LF after size"),
            (b"5;a\nhello\r\n0\r\n\r\n", "bare LF in extension"),
            (b"5\r\nhelloX\r\n0\r\n\r\n", "data longer than its size"),
            (b"5\r\nhello\n0\r\n\r\n", "bare LF after data"),
            (b"5\r\nhello\rX0\r\n\r\n", "CR without LF after data"),
            (b"5\r\nhello\r\n0\r\n\n", "bare LF final line"),
            (b"5\r\nhello\r\n0\r\n\rX", "CR without LF final line"),
            (b"0\r\nT: v\n\r\n", "bare LF after trailer"),
            (b"0\r\nT: v\rX\r\n", "CR without LF after trailer"),
            (b"0\r\n\nT: v\r\n\r\n", "bare LF starting trailers"),
        ] {
            assert!(end_every_way(body).is_err(), "{why}");
        }
        let mut long_ext = b"5;".to_vec();
        long_ext.resize(long_ext.len() + MAX_EXTENSION as usize + 1, b'a');
        assert!(end_every_way(&long_ext).is_err());
        let mut long_trailers = b"0\r\n".to_vec();
        // Each line has 9 bytes of field (line ends are not counted).
        for _ in 0..(MAX_TRAILERS / 9 + 1) {
            long_trailers.extend_from_slice(b"T: 123456\r\n");
        }
        assert!(ChunkedEnd::default().feed(&long_trailers).is_err());
    }
}
