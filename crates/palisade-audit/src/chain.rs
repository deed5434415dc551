//! The tamper-evidence hash chain.
//!
//! Every line carries `palisade.seq`, `palisade.prev` (the previous line's hash) and `palisade.hash`,
//! the HMAC-SHA256 (keyed) or SHA-256 (unkeyed) of the line's exact bytes up to the hash field. The
//! chain is per process (`palisade.boot_id`) and per dyno, starting at seq 1 with `prev` all zeros.
//! Hashing the bytes as written (rather than a re-serialisation) means `verify` needs no canonical
//! form: it cuts the line at the hash marker and recomputes.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::{SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// A 32-byte chain hash.
pub type ChainHash = [u8; 32];

/// `palisade.chain` value for keyed chains.
pub const ALG_HMAC: &str = "hmac-sha256";
/// `palisade.chain` value for unkeyed chains.
pub const ALG_SHA256: &str = "sha256";
/// `prev` of the first line of a boot.
pub const GENESIS: ChainHash = [0; 32];

/// Hash of `body` with the optional key.
pub fn chain_hash(key: Option<&[u8]>, body: &[u8]) -> ChainHash {
    match key {
        Some(key) => keyed(key)
            .map(|mac| finish_mac(mac, body))
            .unwrap_or_else(|| Sha256::digest(body).into()),
        None => Sha256::digest(body).into(),
    }
}

fn keyed(key: &[u8]) -> Option<Hmac<Sha256>> {
    // HMAC accepts keys of any length, so this never fails; the Option only avoids an unwrap.
    <Hmac<Sha256> as Mac>::new_from_slice(key).ok()
}

fn finish_mac(mut mac: Hmac<Sha256>, body: &[u8]) -> ChainHash {
    mac.update(body);
    mac.finalize().into_bytes().into()
}

/// Lower-case hex of a hash.
pub fn to_hex(hash: &ChainHash) -> String {
    let mut out = String::with_capacity(64);
    push_hex(&mut out, hash);
    out
}

/// Appends the lower-case hex of a hash to `out` (the writer's per-line path: no allocation).
pub fn push_hex(out: &mut String, hash: &ChainHash) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut buf = [0u8; 64];
    for (pair, b) in buf.chunks_exact_mut(2).zip(hash) {
        pair[0] = DIGITS[usize::from(b >> 4)];
        pair[1] = DIGITS[usize::from(b & 15)];
    }
    // Only hex digits were written.
    out.push_str(std::str::from_utf8(&buf).unwrap_or_default());
}

/// Parses 64 hex digits.
pub fn from_hex(s: &str) -> Option<ChainHash> {
    let b = s.as_bytes();
    if b.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in b.chunks_exact(2).enumerate() {
        let hi = char::from(pair[0]).to_digit(16)?;
        let lo = char::from(pair[1]).to_digit(16)?;
        out[i] = (hi * 16 + lo) as u8;
    }
    Some(out)
}

/// A fresh 64-bit boot id as 16 hex digits (unique per process, not secret).
pub fn new_boot_id() -> String {
    let mut h = RandomState::new().build_hasher();
    h.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.write_u32(std::process::id());
    format!("{:016x}", h.finish())
}

/// The writer's chain state: assigns sequence numbers and hashes lines in write order.
pub(crate) struct Chain {
    template: Option<Hmac<Sha256>>,
    prev: ChainHash,
    seq: u64,
}

impl Chain {
    pub(crate) fn new(key: Option<&[u8]>) -> Self {
        Chain {
            template: key.and_then(keyed),
            prev: GENESIS,
            seq: 0,
        }
    }

    /// `palisade.chain` value.
    pub(crate) fn alg(&self) -> &'static str {
        if self.template.is_some() {
            ALG_HMAC
        } else {
            ALG_SHA256
        }
    }

    /// The next line's sequence number and `prev` (not consumed until [`Chain::seal`]).
    pub(crate) fn peek(&self) -> (u64, &ChainHash) {
        (self.seq + 1, &self.prev)
    }

    /// Hashes a finished line body and advances the chain.
    pub(crate) fn seal(&mut self, body: &[u8]) -> ChainHash {
        let hash = match &self.template {
            Some(mac) => finish_mac(mac.clone(), body),
            None => Sha256::digest(body).into(),
        };
        self.seq += 1;
        self.prev = hash;
        hash
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors() {
        // SHA-256("abc") and HMAC-SHA256 from RFC 4231 test case 2 ("Jefe").
        assert_eq!(
            to_hex(&chain_hash(None, b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            to_hex(&chain_hash(Some(b"Jefe"), b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn chain_links_and_hex_round_trips() {
        let mut c = Chain::new(Some(b"0123456789abcdef"));
        assert_eq!(c.alg(), ALG_HMAC);
        assert_eq!(c.peek(), (1, &GENESIS));
        let h1 = c.seal(b"line one");
        assert_eq!(h1, chain_hash(Some(b"0123456789abcdef"), b"line one"));
        assert_eq!(c.peek(), (2, &h1));
        assert_eq!(from_hex(&to_hex(&h1)), Some(h1));
        assert_eq!(from_hex("zz"), None);
        assert_eq!(from_hex(&"g".repeat(64)), None);
        assert_eq!(Chain::new(None).alg(), ALG_SHA256);
        assert_ne!(new_boot_id(), new_boot_id());
        assert_eq!(new_boot_id().len(), 16);
    }
}
