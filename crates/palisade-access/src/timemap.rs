//! [`TimeMap`]: a sharded, bounded map from a 64-bit key to a time, the state behind rate limits,
//! bot scores and bans.
//!
//! Each value is a point in time (nanoseconds since the owner's epoch) after which the entry
//! means nothing: a GCRA theoretical arrival time, or a ban's end. An entry whose time has passed
//! is equivalent to no entry, so it can be dropped at any moment — that is what keeps memory
//! bounded under a flood of distinct clients. When a shard is full, expired entries go first;
//! if that frees too little, the quarter of entries closest to expiry go (the clients with the
//! least state to lose). One entry costs 16 bytes plus the hash table's control byte and slack,
//! about 17–34 bytes; see the `limiter_memory` example for a measurement.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Mutex;

/// Number of shards (a power of two); the shard is chosen by the key's top bits.
const SHARDS: usize = 64;
const SHARD_BITS: u32 = SHARDS.trailing_zeros();

/// Keys are already keyed SipHash outputs, so the table only needs a cheap mix: multiplying by
/// an odd constant spreads the (random) low bits into the high bits the table uses for tags.
#[derive(Default, Clone, Copy)]
pub(crate) struct MixHasher(u64);

impl Hasher for MixHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

type Shard = HashMap<u64, u64, BuildHasherDefault<MixHasher>>;

/// How a stored value says when it stops mattering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expiry {
    /// The value is that time itself (GCRA arrival time, ban end).
    Value,
    /// The value is a packed [`crate::window::SlidingWindow`] state with this window length.
    Window(u64),
}

impl Expiry {
    #[inline]
    fn of(self, value: u64, now: u64) -> u64 {
        match self {
            Expiry::Value => value,
            Expiry::Window(window_ns) => {
                crate::window::SlidingWindow::expiry(window_ns, value, now)
            }
        }
    }
}

/// Sharded, bounded `key → time` map. See the module docs.
pub(crate) struct TimeMap {
    shards: Box<[Mutex<Shard>]>,
    shard_capacity: usize,
    expiry: Expiry,
}

impl TimeMap {
    /// A map holding about `max_entries` entries: each shard holds its share plus 12.5 % slack,
    /// so keys that hash unevenly across shards still fit before anything is evicted.
    pub(crate) fn new(max_entries: usize) -> Self {
        Self::with_expiry(max_entries, Expiry::Value)
    }

    /// Like [`TimeMap::new`] for values whose expiry is computed by `expiry`.
    pub(crate) fn with_expiry(max_entries: usize, expiry: Expiry) -> Self {
        let share = max_entries.div_ceil(SHARDS);
        let shard_capacity = (share + share / 8).max(16);
        let shards = (0..SHARDS)
            .map(|_| Mutex::new(Shard::default()))
            .collect::<Vec<_>>()
            .into_boxed_slice();
        TimeMap {
            shards,
            shard_capacity,
            expiry,
        }
    }

    fn shard(&self, key: u64) -> &Mutex<Shard> {
        &self.shards[(key >> (64 - SHARD_BITS)) as usize]
    }

    /// Reads the live value for `key` (expired values read as `None`), lets `f` change it, and
    /// stores the result (`None` or a time not after `now` removes the entry).
    pub(crate) fn update<R>(&self, key: u64, now: u64, f: impl FnOnce(&mut Option<u64>) -> R) -> R {
        // A poisoned shard only means another thread panicked mid-update; the map holds plain
        // integers, so its contents are still consistent and we keep using it.
        let mut shard = self
            .shard(key)
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let expiry = self.expiry;
        let mut value = shard
            .get(&key)
            .copied()
            .filter(|&v| expiry.of(v, now) > now);
        let existed = value.is_some();
        let result = f(&mut value);
        match value {
            Some(t) if expiry.of(t, now) > now => {
                if !existed && shard.len() >= self.shard_capacity && !shard.contains_key(&key) {
                    make_room(&mut shard, now, self.shard_capacity, expiry);
                }
                shard.insert(key, t);
            }
            _ => {
                shard.remove(&key);
            }
        }
        result
    }

    /// The live value for `key`, if any.
    pub(crate) fn get(&self, key: u64, now: u64) -> Option<u64> {
        let shard = self
            .shard(key)
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        shard
            .get(&key)
            .copied()
            .filter(|&v| self.expiry.of(v, now) > now)
    }

    /// Number of stored entries (live or not yet swept).
    pub(crate) fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|p| p.into_inner()).len())
            .sum()
    }
}

fn make_room(shard: &mut Shard, now: u64, capacity: usize, expiry: Expiry) {
    shard.retain(|_, v| expiry.of(*v, now) > now);
    if shard.len() < capacity - capacity / 8 {
        return;
    }
    // Still full of live entries: drop the quarter closest to expiry.
    let mut times: Vec<u64> = shard.values().map(|v| expiry.of(*v, now)).collect();
    let cut = times.len() / 4;
    let (_, threshold, _) = times.select_nth_unstable(cut);
    let threshold = *threshold;
    shard.retain(|_, v| expiry.of(*v, now) > threshold);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expired_entries_read_as_absent_and_are_removed() {
        let m = TimeMap::new(1024);
        m.update(7, 100, |v| *v = Some(200));
        assert_eq!(m.get(7, 150), Some(200));
        assert_eq!(m.get(7, 200), None);
        let seen = m.update(7, 250, |v| *v);
        assert_eq!(seen, None);
        assert_eq!(
            m.len(),
            0,
            "reading an expired entry through update removes it"
        );
    }

    #[test]
    fn memory_stays_bounded_under_a_flood_of_live_keys() {
        let m = TimeMap::new(64 * 16);
        let cap = m.shard_capacity * SHARDS;
        for k in 0..100_000u64 {
            let key = k.wrapping_mul(0x9E37_79B9_7F4A_7C15);
            m.update(key, 1, |v| *v = Some(1_000_000 + k));
        }
        assert!(m.len() <= cap, "len {}", m.len());
        // The newest (longest-lived) keys survive eviction.
        let newest = 99_999u64.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        assert!(m.get(newest, 1).is_some());
    }

    #[test]
    fn expired_entries_are_evicted_before_live_ones() {
        let m = TimeMap::new(64 * 16);
        let live = 12345u64.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        m.update(live, 0, |v| *v = Some(u64::MAX));
        for k in 0..50_000u64 {
            let key = k.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 1;
            m.update(key, k, |v| *v = Some(k + 1));
        }
        assert_eq!(m.get(live, 60_000), Some(u64::MAX));
    }
}
