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

    /// [`Self::accept_or_generate`] for an id given as bytes (the HTTP/1 lane's parsed head).
    pub fn accept_or_generate_bytes(incoming: Option<&[u8]>) -> RequestId {
        match incoming.filter(|v| is_acceptable(v)) {
            Some(v) => match HeaderValue::from_bytes(v) {
                Ok(v) => RequestId(v),
                Err(_) => generate(),
            },
            None => generate(),
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
    let text = uuid_text(hi, lo);
    // Hex digits and dashes are always a valid header value; the fallback is unreachable.
    RequestId(
        HeaderValue::from_bytes(&text).unwrap_or_else(|_| HeaderValue::from_static("invalid-id")),
    )
}

/// `hi:lo` as 8-4-4-4-12 lower-case hex digits. Runs for every request without a usable router
/// id, so it writes two digits per byte into fixed positions rather than walking a chain of
/// ranges nibble by nibble.
fn uuid_text(hi: u64, lo: u64) -> [u8; 36] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    /// Where each byte's two digits go: the text's positions skipping the four dashes.
    const AT: [usize; 16] = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];
    let mut text = [b'-'; 36];
    let bytes = ((u128::from(hi) << 64) | u128::from(lo)).to_be_bytes();
    for (&b, &at) in bytes.iter().zip(AT.iter()) {
        text[at] = HEX[usize::from(b >> 4)];
        text[at + 1] = HEX[usize::from(b & 0xf)];
    }
    text
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

    /// The nibble-by-nibble layout `uuid_text` must reproduce.
    fn uuid_text_reference(hi: u64, lo: u64) -> [u8; 36] {
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
        text
    }

    #[test]
    fn uuid_text_matches_the_reference_layout() {
        let mut x = 1u64;
        for _ in 0..10_000 {
            let hi = splitmix64(x);
            let lo = splitmix64(hi);
            x = lo;
            assert_eq!(uuid_text(hi, lo), uuid_text_reference(hi, lo));
        }
        for (hi, lo) in [(0, 0), (u64::MAX, u64::MAX), (0x0123_4567_89ab_cdef, 1)] {
            assert_eq!(uuid_text(hi, lo), uuid_text_reference(hi, lo));
        }
        assert_eq!(
            &uuid_text(0x0123_4567_89ab_cdef, 0xfedc_ba98_7654_3210),
            b"01234567-89ab-cdef-fedc-ba9876543210"
        );
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
