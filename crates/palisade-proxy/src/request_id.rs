//! Request ids: the Heroku router's `X-Request-Id` when it is sane, otherwise a fresh one.

use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use http::header::HeaderValue;

/// Shortest incoming id kept (the Heroku router keeps ids of 20-200 characters).
pub const MIN_INCOMING_LEN: usize = 20;
/// Longest incoming id kept.
pub const MAX_INCOMING_LEN: usize = 200;

/// One request's id, always 20-200 characters of a log-safe ASCII alphabet.
///
/// Held as a header value because that is where it goes: the upstream request and the response
/// each get a clone, which shares the bytes (a reference count) instead of copying them. An id
/// accepted from the router shares the request head's own buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(HeaderValue);

impl RequestId {
    /// The incoming id when it is 20-200 characters of a log-safe alphabet; anything else
    /// (missing, too short, quotes, control bytes) is replaced so a client cannot inject text
    /// into logs or forge another request's id format.
    pub fn accept_or_generate(incoming: Option<&HeaderValue>) -> RequestId {
        match incoming {
            Some(v) if is_acceptable(v.as_bytes()) => RequestId(v.clone()),
            _ => generate(),
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        // Both constructors admit ASCII only, so this never falls back.
        self.0.to_str().unwrap_or_default()
    }

    /// The id as a header value (shares its bytes).
    pub fn header_value(&self) -> HeaderValue {
        self.0.clone()
    }
}

impl Default for RequestId {
    /// No id yet (the request has not reached the request filter).
    fn default() -> Self {
        RequestId(HeaderValue::from_static(""))
    }
}

fn is_acceptable(v: &[u8]) -> bool {
    (MIN_INCOMING_LEN..=MAX_INCOMING_LEN).contains(&v.len())
        && v.iter()
            .all(|&b| b.is_ascii_alphanumeric() || b"-_.:+=/".contains(&b))
}

/// A new UUID-formatted id (version-4 layout), unique within the process and random across
/// processes. Cheap: a counter through a bijective mixer, keyed by a per-process random seed,
/// written as hex straight into the header value's one allocation.
pub fn generate() -> RequestId {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let seed = process_seed();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let hi = splitmix64(seed ^ n);
    let lo = splitmix64(hi ^ seed.rotate_left(17));
    let hi = (hi & 0xffff_ffff_ffff_0fff) | 0x0000_0000_0000_4000;
    let lo = (lo & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000;
    // 8-4-4-4-12 hex digits: the 32 nibbles of hi:lo in order, dashes between the groups.
    let mut text = [b'-'; 36];
    let positions = (0..8)
        .chain(9..13)
        .chain(14..18)
        .chain(19..23)
        .chain(24..36);
    for (i, pos) in positions.enumerate() {
        let word = if i < 16 { hi } else { lo };
        let nibble = (word >> (60 - 4 * (i % 16))) & 0xf;
        text[pos] = b"0123456789abcdef"[nibble as usize];
    }
    // Hex digits and dashes are always a valid header value; the fallback is unreachable.
    RequestId(
        HeaderValue::from_bytes(&text).unwrap_or_else(|_| HeaderValue::from_static("invalid-id")),
    )
}

fn process_seed() -> u64 {
    static SEED: OnceLock<u64> = OnceLock::new();
    *SEED.get_or_init(|| {
        let mut buf = [0u8; 8];
        let from_urandom = std::fs::File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut buf))
            .is_ok();
        if from_urandom {
            u64::from_le_bytes(buf)
        } else {
            // Uniqueness within the process still holds; only cross-process randomness is weaker.
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64);
            t ^ u64::from(std::process::id()).rotate_left(32)
        }
    })
}

fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn generated_ids_have_the_uuid_v4_layout() {
        for _ in 0..1_000 {
            let id = generate();
            let text = id.as_str().as_bytes();
            assert_eq!(text.len(), 36);
            for (i, &b) in text.iter().enumerate() {
                if [8, 13, 18, 23].contains(&i) {
                    assert_eq!(b, b'-', "{}", id.as_str());
                } else {
                    assert!(matches!(b, b'0'..=b'9' | b'a'..=b'f'), "{}", id.as_str());
                }
            }
            assert_eq!(text[14], b'4', "version nibble: {}", id.as_str());
            assert!(b"89ab".contains(&text[19]), "variant: {}", id.as_str());
            assert_eq!(id.header_value().as_bytes(), text);
        }
    }

    #[test]
    fn keeps_router_ids() {
        let id = HeaderValue::from_static("f9ed4675-f4c1-4e1f-8a30-04ad87e8b7a5");
        assert_eq!(
            RequestId::accept_or_generate(Some(&id)).as_str(),
            "f9ed4675-f4c1-4e1f-8a30-04ad87e8b7a5"
        );
    }

    #[test]
    fn replaces_unsafe_or_short_ids() {
        for bad in [
            &b"short"[..],
            b"aaaaaaaaaaaaaaaaaaaaaaa\"}",
            b"aaaaaaaaaaaaaaaaaaaaaaa\tX",
            "aaaaaaaaaaaaaaaaaaaaaaa\u{e9}".as_bytes(),
        ] {
            let incoming = HeaderValue::from_bytes(bad).unwrap();
            let id = RequestId::accept_or_generate(Some(&incoming));
            assert_ne!(id.as_str().as_bytes(), bad);
            assert_eq!(id.as_str().len(), 36);
        }
        assert_eq!(RequestId::accept_or_generate(None).as_str().len(), 36);
    }

    #[test]
    fn generated_ids_are_unique() {
        let ids: std::collections::HashSet<String> = (0..10_000)
            .map(|_| generate().as_str().to_owned())
            .collect();
        assert_eq!(ids.len(), 10_000);
    }
}
