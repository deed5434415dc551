//! JSON Web Tokens that say they are unsigned (`"alg": "none"`).
//!
//! A JWT library that honours the token's own `alg` accepts a token with no signature at all
//! when that says `none` (CVE-2015-9235 and its many successors): anyone can then be anyone.
//! No real client sends one, so the engine flags it wherever a token travels (the
//! `Authorization` header, a cookie, a parameter). The header segment is decoded and read with
//! the JSON decoder, so escapes (`"n\u006fne"`) and key order do not hide it.

use super::{json, Limits, Sink};
use crate::leaf::{Leaf, Location};
use crate::signal::Signal;
use crate::transform::base64_decode;

/// Longest header segment decoded (real ones are under 200 characters).
const MAX_HEADER_LEN: usize = 1024;

/// True when the value is a compact JWS (optionally after `Bearer `) whose header's `alg` is
/// `none`, in any case.
pub fn is_unsigned_jwt(value: &[u8]) -> bool {
    let token = match value.get(..7) {
        Some(scheme) if scheme.eq_ignore_ascii_case(b"bearer ") => super::trim(&value[7..]),
        _ => value,
    };
    if !starts_like_a_jwt(token) {
        return false;
    }
    let mut segments = token.split(|&b| b == b'.');
    let header = segments.next().unwrap_or_default();
    if segments.count() != 2 || header.len() > MAX_HEADER_LEN {
        return false;
    }
    let Some(header) = base64_decode::decode(header) else {
        return false;
    };
    let mut alg = AlgIsNone(false);
    let limits = Limits {
        max_depth: 4,
        inspect_file_contents: false,
    };
    json::decode_json(&header, limits, &mut alg);
    alg.0
}

/// True when the value starts as base64 of `{` followed by `"` or whitespace (`ey`, `ew`), as
/// every JWT header does: the one test most values take.
pub fn starts_like_a_jwt(value: &[u8]) -> bool {
    matches!(value, [b'e', b'y' | b'w', ..])
}

/// Finds a top-level `alg` of `none`.
struct AlgIsNone(bool);

impl Sink for AlgIsNone {
    fn leaf(&mut self, leaf: Leaf<'_>) {
        if leaf.location == Location::Json
            && leaf.name == "$.alg"
            && super::trim(leaf.value).eq_ignore_ascii_case(b"none")
        {
            self.0 = true;
        }
    }

    fn signal(&mut self, _signal: Signal, _location: Location, _name: &str) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64url(s: &str) -> String {
        const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut out = String::new();
        for chunk in s.as_bytes().chunks(3) {
            let n = chunk
                .iter()
                .enumerate()
                .fold(0u32, |acc, (i, &b)| acc | u32::from(b) << (16 - 8 * i));
            for i in 0..=chunk.len() {
                out.push(char::from(A[(n >> (18 - 6 * i) & 63) as usize]));
            }
        }
        out
    }

    fn token(header: &str, signature: &str) -> String {
        format!(
            "{}.{}.{signature}",
            b64url(header),
            b64url(r#"{"sub":"admin"}"#)
        )
    }

    #[test]
    fn unsigned_tokens_in_every_spelling() {
        for header in [
            r#"{"alg":"none","typ":"JWT"}"#,
            r#"{"typ":"JWT","alg":"NONE"}"#,
            r#"{ "alg" : "nOnE" }"#,
            "{\n\t\"alg\": \"none\"\n}",
            r#"{"alg":"n\u006fne"}"#,
        ] {
            assert!(is_unsigned_jwt(token(header, "").as_bytes()), "{header}");
            let bearer = format!("Bearer {}", token(header, ""));
            assert!(is_unsigned_jwt(bearer.as_bytes()), "{header}");
        }
    }

    #[test]
    fn signed_tokens_and_other_values_are_not() {
        let signed = token(r#"{"alg":"HS256","typ":"JWT"}"#, "c2lnbmF0dXJl");
        assert!(!is_unsigned_jwt(signed.as_bytes()));
        // `none` somewhere other than `alg`.
        assert!(!is_unsigned_jwt(
            token(r#"{"alg":"RS256","kid":"none"}"#, "x").as_bytes()
        ));
        assert!(!is_unsigned_jwt(b"eyJ"));
        assert!(!is_unsigned_jwt(b"eyJhbGciOiJub25lIn0"));
        assert!(!is_unsigned_jwt(b"Basic dXNlcjpwYXNz"));
        assert!(!is_unsigned_jwt("eyJ!!!.a.b".as_bytes()));
    }
}
