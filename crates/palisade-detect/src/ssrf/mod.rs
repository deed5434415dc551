//! Server-side request forgery: a value that is a URL whose host is inside the dyno's network.
//!
//! The value must start with a URL (after white space), because that is what an app hands to
//! its HTTP client. The authority is read the way the parsers an app might use read it, and the
//! host is judged if *any* of them would connect there:
//!
//! * the host ends at `/ ? #` (RFC 3986, Python's `urlsplit`) or also at `\` (WHATWG URL, so
//!   Node's `fetch`); `http://evil.example\@127.0.0.1/` is 127.0.0.1 to one and not the other.
//!   A space does not end it (`http://a.example:80 &@127.0.0.1/` splits parsers the same way),
//!   and some parsers read past `?` and `#` to the first `/`;
//! * user info ends at the last `@` (WHATWG, curl) or the first (some older parsers);
//! * special schemes (`http`, `https`, `ws`, `wss`, `ftp`) accept any run of `/` and `\` after
//!   the colon, or none (`http:127.1` is a URL to WHATWG);
//! * percent-escapes in the host are decoded (WHATWG does); in the engine that is once more
//!   than the rule's URL decoding, so a double-encoded host is read as the app's fetch reads it;
//! * characters IDNA maps to ASCII (`①②⑦。⓪。⓪。①`, `ⓛⓞⓒⓐⓛⓗⓞⓢⓣ`, full-width forms) are mapped;
//! * IPv4 in every spelling resolvers accept ([`ipv4`]), IPv6 with IPv4 inside ([`host`]).
//!
//! The span is the host as it appears in the value.

mod host;
mod ipv4;

use crate::{Detection, DetectorKind};
use host::Internal;

const LOOPBACK: &str = "ssrf:loopback";
const PRIVATE: &str = "ssrf:private-address";
const LINK_LOCAL: &str = "ssrf:link-local";
const INTERNAL_NAME: &str = "ssrf:internal-name";

/// Every fingerprint [`ssrf`] can return.
pub const FINGERPRINTS: &[&str] = &[LOOPBACK, PRIVATE, LINK_LOCAL, INTERNAL_NAME];

/// Longest host judged (DNS names stop at 253 bytes; the rest is room for brackets and escapes).
const MAX_HOST: usize = 320;

/// Cheap pre-filter: `false` means [`ssrf`] cannot fire on this value (it has no scheme colon).
pub fn ssrf_candidate(input: &[u8]) -> bool {
    memchr::memchr(b':', input).is_some()
}

/// Finds a URL at the start of `input` whose host is loopback, private, link-local (cloud
/// metadata) or a name that resolves there.
pub fn ssrf(input: &str) -> Option<Detection> {
    let bytes = input.as_bytes();
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace())?;
    let url = &bytes[start..];
    if !url.first()?.is_ascii_alphabetic() {
        return None;
    }
    let colon = url
        .iter()
        .position(|&b| !(b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.')))?;
    if url[colon] != b':' {
        return None;
    }
    let scheme = &url[..colon];
    let special = [&b"http"[..], b"https", b"ws", b"wss", b"ftp"]
        .iter()
        .any(|s| scheme.eq_ignore_ascii_case(s));
    let after_colon = &url[colon + 1..];
    let slashes = after_colon
        .iter()
        .take_while(|&&b| b == b'/' || b == b'\\')
        .count();
    if !special && &after_colon[..slashes] != b"//" {
        return None;
    }
    let authority_at = start + colon + 1 + slashes;
    let rest = &after_colon[slashes..];
    // Where the authority ends, for each family of parsers (see the module comment).
    let end_slash = rest
        .iter()
        .position(|&b| b == b'/' || b < 0x20)
        .unwrap_or(rest.len());
    let end_rfc = rest[..end_slash]
        .iter()
        .position(|&b| b == b'?' || b == b'#')
        .unwrap_or(end_slash);
    let end_whatwg = rest[..end_rfc]
        .iter()
        .position(|&b| b == b'\\')
        .unwrap_or(end_rfc);
    let mut previous = None;
    for end in [end_whatwg, end_rfc, end_slash] {
        if previous == Some(end) {
            continue;
        }
        previous = Some(end);
        let authority = &rest[..end];
        let last_at = authority
            .iter()
            .rposition(|&b| b == b'@')
            .map_or(0, |i| i + 1);
        let first_at = authority
            .iter()
            .position(|&b| b == b'@')
            .map_or(0, |i| i + 1);
        for host_at in [last_at, first_at] {
            let host = host_of(&authority[host_at..]);
            if let Some(kind) = judge(host) {
                let from = authority_at + host_at;
                return Some(Detection::new(
                    DetectorKind::Ssrf,
                    fingerprint(kind),
                    from..from + host.len(),
                ));
            }
            if first_at == last_at {
                break;
            }
        }
    }
    None
}

/// The host of an authority without user info: a bracketed IPv6 literal, or up to the port
/// (or the next `@`, when the user info was taken to end at the first one).
fn host_of(authority: &[u8]) -> &[u8] {
    if authority.first() == Some(&b'[') {
        let close = authority
            .iter()
            .position(|&b| b == b']')
            .map_or(authority.len(), |i| i + 1);
        return &authority[..close];
    }
    let colon = authority
        .iter()
        .position(|&b| b == b':' || b == b'@')
        .unwrap_or(authority.len());
    &authority[..colon]
}

/// Decodes percent-escapes, maps the characters IDNA (UTS #46) maps to ASCII digits, letters
/// and dots, and lower-cases the host into stack buffers, then classifies it.
fn judge(host: &[u8]) -> Option<Internal> {
    if host.is_empty() || host.len() > MAX_HOST {
        return None;
    }
    let mut decoded = [0u8; MAX_HOST];
    let mut n = 0;
    let mut i = 0;
    while i < host.len() {
        decoded[n] = match (host[i], host.get(i + 1..i + 3)) {
            (b'%', Some(&[h, l])) if h.is_ascii_hexdigit() && l.is_ascii_hexdigit() => {
                i += 2;
                hex(h) << 4 | hex(l)
            }
            (b, _) => b,
        };
        n += 1;
        i += 1;
    }
    let mut ascii = [0u8; MAX_HOST];
    let mut m = 0;
    for c in std::str::from_utf8(&decoded[..n]).ok()?.chars() {
        let (first, second) = idna_ascii(c)?;
        for b in std::iter::once(first).chain(second) {
            *ascii.get_mut(m)? = b;
            m += 1;
        }
    }
    host::classify(&ascii[..m])
}

/// The ASCII a character becomes in a host name under IDNA mapping (UTS #46), for the
/// characters that spell addresses and short names: ASCII itself (lower-cased), full-width
/// forms, circled digits, numbers and letters, and the ideographic full stops. `None` for any
/// other character: such a host is a real internationalised name, never an internal one.
fn idna_ascii(c: char) -> Option<(u8, Option<u8>)> {
    let cp = u32::from(c);
    let one = |b: u32| Some((b as u8, None));
    match cp {
        0x00..=0x7f => one(u32::from(c.to_ascii_lowercase())),
        0xff01..=0xff5e => one(u32::from(char::from_u32(cp - 0xfee0)?.to_ascii_lowercase())),
        0x3002 | 0xff61 => one(u32::from(b'.')),
        // ① … ⑳ are the numbers 1 to 20.
        0x2460..=0x2473 => {
            let n = cp - 0x2460 + 1;
            let digit = |d: u32| b'0' + d as u8;
            Some(if n < 10 {
                (digit(n), None)
            } else {
                (digit(n / 10), Some(digit(n % 10)))
            })
        }
        0x24ea => one(u32::from(b'0')),
        0x24b6..=0x24cf => one(u32::from(b'a') + cp - 0x24b6),
        0x24d0..=0x24e9 => one(u32::from(b'a') + cp - 0x24d0),
        _ => None,
    }
}

fn hex(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b - b'0',
        _ => (b | 0x20) - b'a' + 10,
    }
}

fn fingerprint(kind: Internal) -> &'static str {
    match kind {
        Internal::Loopback => LOOPBACK,
        Internal::Private => PRIVATE,
        Internal::LinkLocal => LINK_LOCAL,
        Internal::Name => INTERNAL_NAME,
    }
}

#[cfg(test)]
mod tests;
