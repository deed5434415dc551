//! Request ids: the Heroku router's `X-Request-Id` when it is sane, otherwise a fresh one.

use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// Shortest incoming id kept (the Heroku router keeps ids of 20-200 characters).
pub const MIN_INCOMING_LEN: usize = 20;
/// Longest incoming id kept.
pub const MAX_INCOMING_LEN: usize = 200;

/// Returns the incoming id when it is 20-200 characters of a log-safe alphabet; anything else
/// (missing, too short, quotes, control bytes) is replaced so a client cannot inject text into
/// logs or forge another request's id format.
pub fn accept_or_generate(incoming: Option<&[u8]>) -> String {
    match incoming {
        Some(v) if is_acceptable(v) => String::from_utf8_lossy(v).into_owned(),
        _ => generate(),
    }
}

fn is_acceptable(v: &[u8]) -> bool {
    (MIN_INCOMING_LEN..=MAX_INCOMING_LEN).contains(&v.len())
        && v.iter()
            .all(|&b| b.is_ascii_alphanumeric() || b"-_.:+=/".contains(&b))
}

/// A new UUID-formatted id (version-4 layout), unique within the process and random across
/// processes. Cheap: a counter through a bijective mixer, keyed by a per-process random seed.
pub fn generate() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let seed = process_seed();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let hi = splitmix64(seed ^ n);
    let lo = splitmix64(hi ^ seed.rotate_left(17));
    let hi = (hi & 0xffff_ffff_ffff_0fff) | 0x0000_0000_0000_4000;
    let lo = (lo & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000;
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        hi >> 32,
        (hi >> 16) & 0xffff,
        hi & 0xffff,
        lo >> 48,
        lo & 0xffff_ffff_ffff
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
    use super::*;

    #[test]
    fn keeps_router_ids() {
        let id = b"f9ed4675-f4c1-4e1f-8a30-04ad87e8b7a5";
        assert_eq!(accept_or_generate(Some(id)), String::from_utf8_lossy(id));
    }

    #[test]
    fn replaces_unsafe_or_short_ids() {
        for bad in [
            &b"short"[..],
            b"aaaaaaaaaaaaaaaaaaaaaaa\"}",
            b"aaaaaaaaaaaaaaaaaaaaaaa\nX",
        ] {
            let id = accept_or_generate(Some(bad));
            assert_ne!(id.as_bytes(), bad);
            assert_eq!(id.len(), 36);
        }
        assert_eq!(accept_or_generate(None).len(), 36);
    }

    #[test]
    fn generated_ids_are_unique() {
        let ids: std::collections::HashSet<String> = (0..10_000).map(|_| generate()).collect();
        assert_eq!(ids.len(), 10_000);
    }
}
