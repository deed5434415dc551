//! JSON bodies: every object key and every string leaf, named by its JSON path (`$.a.b`, arrays as
//! `[]` so a path names the same field in every request and exclusions can use it). Numbers,
//! booleans and null cannot carry an injection and are skipped. Nesting is bounded.

use std::borrow::Cow;

use super::document_encoding;
use super::{Limits, Sink};
use crate::fields::classify;
use crate::leaf::{FieldKind, Leaf, Location};
use crate::signal::Signal;

struct Parser<'a, 's> {
    s: &'a [u8],
    i: usize,
    limits: Limits,
    sink: &'s mut dyn Sink,
    path: String,
}

#[derive(Debug)]
enum Stop {
    Malformed,
    TooDeep,
}

/// Parses a JSON document and feeds its leaves to `sink`. Returns `false` (after a
/// `json_malformed` signal) when the body is not JSON, so the caller can inspect it as text.
/// A document in UTF-16 or UTF-32 raises `unsupported_charset`; UTF-16 is parsed as the UTF-8
/// it transcodes to ([`super::document_encoding`]).
pub fn decode_json(body: &[u8], limits: Limits, sink: &mut dyn Sink) -> bool {
    let encoding = document_encoding::detect_json(body);
    document_encoding::read_as_encoded(encoding, body, sink, |doc, sink| {
        parse_json(doc, limits, sink)
    })
}

fn parse_json(body: &[u8], limits: Limits, sink: &mut dyn Sink) -> bool {
    let mut p = Parser {
        s: body,
        i: 0,
        limits,
        sink,
        path: String::from("$"),
    };
    let r = p.skip_ws_and(|p| p.value(0, "", ""));
    let r = r.and_then(|()| {
        p.ws();
        if p.i == p.s.len() {
            Ok(())
        } else {
            Err(Stop::Malformed)
        }
    });
    match r {
        Ok(()) => true,
        Err(Stop::TooDeep) => {
            p.sink.signal(Signal::JsonTooDeep, Location::Json, "$");
            true
        }
        Err(Stop::Malformed) => {
            p.sink.signal(Signal::JsonMalformed, Location::Json, "$");
            false
        }
    }
}

impl<'a> Parser<'a, '_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && matches!(self.s[self.i], b' ' | b'\t' | b'\r' | b'\n') {
            self.i += 1;
        }
    }

    fn skip_ws_and(&mut self, f: impl FnOnce(&mut Self) -> Result<(), Stop>) -> Result<(), Stop> {
        self.ws();
        // A UTF-8 byte-order mark is tolerated at the start.
        if self.i == 0 && self.s.starts_with(b"\xef\xbb\xbf") {
            self.i = 3;
        }
        f(self)
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn value(&mut self, depth: usize, parent: &str, key: &str) -> Result<(), Stop> {
        if depth > self.limits.max_depth {
            return Err(Stop::TooDeep);
        }
        self.ws();
        match self.peek() {
            Some(b'{') => self.object(depth + 1, key),
            Some(b'[') => self.array(depth + 1, parent, key),
            Some(b'"') => {
                let v = self.string()?;
                self.sink.leaf(Leaf {
                    location: Location::Json,
                    name: &self.path,
                    value: &v,
                    field: classify(parent, key),
                });
                Ok(())
            }
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(Stop::Malformed),
        }
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), Stop> {
        if self.s[self.i..].starts_with(word) {
            self.i += word.len();
            Ok(())
        } else {
            Err(Stop::Malformed)
        }
    }

    fn number(&mut self) -> Result<(), Stop> {
        let start = self.i;
        while self.i < self.s.len()
            && matches!(
                self.s[self.i],
                b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9'
            )
        {
            self.i += 1;
        }
        if self.i == start {
            Err(Stop::Malformed)
        } else {
            Ok(())
        }
    }

    fn object(&mut self, depth: usize, own_key: &str) -> Result<(), Stop> {
        self.i += 1; // '{'
        self.ws();
        if self.peek() == Some(b'}') {
            self.i += 1;
            return Ok(());
        }
        loop {
            self.ws();
            if self.peek() != Some(b'"') {
                return Err(Stop::Malformed);
            }
            let raw_key = self.string()?;
            // Valid UTF-8 (nearly every key) borrows without the lossy decoder's chunk walk.
            let key: Cow<'_, str> = match std::str::from_utf8(&raw_key) {
                Ok(k) => Cow::Borrowed(k),
                Err(_) => String::from_utf8_lossy(&raw_key),
            };
            let saved = self.path.len();
            // `{"constructor": {"prototype": …}}` pollutes a prototype as `__proto__` does
            // (lodash's merge): that key is judged with its parent, as rules read it.
            let value: &[u8] = if key == "prototype" && self.path.ends_with(".constructor") {
                b"constructor.prototype"
            } else {
                key.as_bytes()
            };
            self.path.push('.');
            self.path.push_str(&key);
            self.sink.leaf(Leaf {
                location: Location::ArgName,
                name: &self.path,
                value,
                field: FieldKind::Generic,
            });
            self.ws();
            if self.peek() != Some(b':') {
                return Err(Stop::Malformed);
            }
            self.i += 1;
            self.value(depth, own_key, &key)?;
            self.path.truncate(saved);
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return Ok(());
                }
                _ => return Err(Stop::Malformed),
            }
        }
    }

    fn array(&mut self, depth: usize, parent: &str, key: &str) -> Result<(), Stop> {
        self.i += 1; // '['
        let saved = self.path.len();
        self.path.push_str("[]");
        self.ws();
        if self.peek() == Some(b']') {
            self.i += 1;
            self.path.truncate(saved);
            return Ok(());
        }
        loop {
            self.value(depth, parent, key)?;
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    self.path.truncate(saved);
                    return Ok(());
                }
                _ => return Err(Stop::Malformed),
            }
        }
    }

    /// Parses a string at `"`; borrows when it has no escapes.
    fn string(&mut self) -> Result<Cow<'a, [u8]>, Stop> {
        let s = self.s;
        let start = self.i + 1;
        // The end of the string or its first escape, found many bytes at a time.
        let mut j = s
            .get(start..)
            .and_then(|rest| memchr::memchr2(b'"', b'\\', rest))
            .map_or(s.len(), |k| start + k);
        if j < s.len() && s[j] == b'"' {
            self.i = j + 1;
            return Ok(Cow::Borrowed(&s[start..j]));
        }
        let mut out = s[start..j.min(s.len())].to_vec();
        while j < s.len() {
            match s[j] {
                b'"' => {
                    self.i = j + 1;
                    return Ok(Cow::Owned(out));
                }
                b'\\' => {
                    let e = *s.get(j + 1).ok_or(Stop::Malformed)?;
                    j += 2;
                    match e {
                        b'"' | b'\\' | b'/' => out.push(e),
                        b'b' => out.push(0x08),
                        b'f' => out.push(0x0c),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'u' => {
                            let mut cp = hex4(s, j).ok_or(Stop::Malformed)?;
                            j += 4;
                            if (0xD800..0xDC00).contains(&cp)
                                && s.get(j) == Some(&b'\\')
                                && s.get(j + 1) == Some(&b'u')
                            {
                                if let Some(lo) =
                                    hex4(s, j + 2).filter(|lo| (0xDC00..0xE000).contains(lo))
                                {
                                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                                    j += 6;
                                }
                            }
                            let c = char::from_u32(cp).unwrap_or('\u{fffd}');
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                        }
                        _ => return Err(Stop::Malformed),
                    }
                }
                b => {
                    out.push(b);
                    j += 1;
                }
            }
        }
        Err(Stop::Malformed)
    }
}

fn hex4(s: &[u8], at: usize) -> Option<u32> {
    let d = s.get(at..at + 4)?;
    d.iter().try_fold(0u32, |acc, &b| {
        (b as char).to_digit(16).map(|x| acc << 4 | x)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::CollectingSink;

    fn limits() -> Limits {
        Limits {
            max_depth: 8,
            inspect_file_contents: false,
        }
    }

    #[test]
    fn keys_and_strings_with_paths() {
        let mut s = CollectingSink::default();
        let ok = decode_json(
            br#"{"a":{"b":"x\u0027y","n":1},"l":["p",{"q":"r"}],"t":true}"#,
            limits(),
            &mut s,
        );
        assert!(ok);
        let got: Vec<(String, String)> = s
            .leaves
            .iter()
            .map(|(n, v, _)| (n.clone(), String::from_utf8_lossy(v).into_owned()))
            .collect();
        let want = [
            ("args_names:$.a", "a"),
            ("args_names:$.a.b", "b"),
            ("json:$.a.b", "x'y"),
            ("args_names:$.a.n", "n"),
            ("args_names:$.l", "l"),
            ("json:$.l[]", "p"),
            ("args_names:$.l[].q", "q"),
            ("json:$.l[].q", "r"),
            ("args_names:$.t", "t"),
        ];
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn narrative_typed() {
        let mut s = CollectingSink::default();
        decode_json(br#"{"text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>"}}"#, limits(), &mut s);
        let div = s.leaves.iter().find(|(n, _, _)| n == "json:$.text.div");
        assert_eq!(div.map(|d| d.2), Some(FieldKind::Narrative));
    }

    #[test]
    fn malformed_is_signal() {
        for bad in [
            &b"{\"a\":"[..],
            b"{\"a\" 1}",
            b"[1,,2]",
            b"\"\\x\"",
            b"{}x",
            b"",
        ] {
            let mut s = CollectingSink::default();
            assert!(
                !decode_json(bad, limits(), &mut s),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
            assert_eq!(s.signals, vec![Signal::JsonMalformed]);
        }
    }

    #[test]
    fn depth_bounded() {
        let deep = "[".repeat(100_000);
        let mut s = CollectingSink::default();
        decode_json(deep.as_bytes(), limits(), &mut s);
        assert_eq!(s.signals, vec![Signal::JsonTooDeep]);
    }
}
