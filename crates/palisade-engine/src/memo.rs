//! Per-request memory of work already done on a value.
//!
//! Requests repeat short values: a FHIR bundle names the same coding systems, units, profiles
//! and keys in every entry, a form repeats its options. Where a result is a pure function of a
//! tag (which detector, which set of views) and the value's bytes, the engine computes it once
//! per request and looks it up after that.
//!
//! The key is a fast hash of tag, length and value, and the stored bytes are compared on every hit:
//! a collision, even a crafted one, only costs a fresh computation (the colliding value is not
//! remembered) and can never return another value's result. Memory is bounded per request.

use std::hash::Hasher;
use std::ops::Range;

/// Longest value remembered.
pub(crate) const MAX_VALUE: usize = 256;
/// Most values remembered per request (per memo).
pub(crate) const MAX_ENTRIES: usize = 512;
/// Slots of the index: twice the entries (a power of two), so linear probes stay short.
const SLOTS: usize = 2 * MAX_ENTRIES;

/// Results of type `T` by (tag, value).
#[derive(Debug)]
pub(crate) struct ValueMemo<T> {
    /// Open-addressing index: (key, entry number). Key 0 never occurs ([`key`]), so a slot
    /// with key 0 is empty. A general-purpose hash map cost more than the rest of looking a
    /// short value up (every leaf of a request is looked up: ~5,000 in a 100 KB FHIR bundle).
    slots: Vec<(u64, u32)>,
    /// The slots in use, so that clearing a memo that remembered a few values (a GET's
    /// handful) zeroes those slots, not all of them.
    used: Vec<u32>,
    /// Range of each remembered value in `values`, and its result.
    entries: Vec<(Range<usize>, T)>,
    values: Vec<u8>,
}

impl<T> Default for ValueMemo<T> {
    fn default() -> Self {
        ValueMemo {
            slots: Vec::new(),
            used: Vec::new(),
            entries: Vec::new(),
            values: Vec::new(),
        }
    }
}

/// Where a value stands in a memo.
pub(crate) enum Lookup<'m, T> {
    /// Remembered: the stored result.
    Hit(&'m T),
    /// Not remembered; pass the key to [`ValueMemo::insert`] with the result.
    Miss(u64),
    /// Too long, or its key is taken by another value: compute without remembering.
    Skip,
}

impl<T> ValueMemo<T> {
    /// Looks `value` up under `tag`.
    pub(crate) fn get(&self, tag: u16, value: &[u8]) -> Lookup<'_, T> {
        if value.len() > MAX_VALUE {
            return Lookup::Skip;
        }
        let key = key(tag, value);
        let mut i = slot_of(key);
        for _ in 0..SLOTS {
            match self.slots.get(i) {
                // Nothing stored yet, or an empty slot ends the probe.
                None | Some((0, _)) => return Lookup::Miss(key),
                Some(&(k, entry)) if k == key => {
                    return match self.entries.get(entry as usize) {
                        Some((range, result)) if self.values.get(range.clone()) == Some(value) => {
                            Lookup::Hit(result)
                        }
                        _ => Lookup::Skip,
                    };
                }
                Some(_) => i = (i + 1) & (SLOTS - 1),
            }
        }
        Lookup::Skip
    }

    /// Remembers `result` for the value that missed with `key` (unless the memo is full).
    pub(crate) fn insert(&mut self, key: u64, value: &[u8], result: T) {
        if self.entries.len() >= MAX_ENTRIES || value.len() > MAX_VALUE || key == 0 {
            return;
        }
        if self.slots.is_empty() {
            self.slots = vec![(0, 0); SLOTS];
            self.entries.reserve(64);
        }
        let mut i = slot_of(key);
        // Fewer entries than slots: an empty slot is always found.
        while self.slots.get(i).is_some_and(|&(k, _)| k != 0 && k != key) {
            i = (i + 1) & (SLOTS - 1);
        }
        let Some(slot) = self.slots.get_mut(i) else {
            return;
        };
        let start = self.values.len();
        self.values.extend_from_slice(value);
        *slot = (key, self.entries.len() as u32);
        self.used.push(i as u32);
        self.entries.push((start..self.values.len(), result));
    }

    /// Forgets every value, keeping the allocations; the stored value bytes are zeroed first,
    /// so nothing of a request's values stays behind in a reused buffer.
    pub(crate) fn clear(&mut self) {
        if self.used.len() * 8 < SLOTS {
            for &i in &self.used {
                if let Some(slot) = self.slots.get_mut(i as usize) {
                    *slot = (0, 0);
                }
            }
        } else {
            self.slots.fill((0, 0));
        }
        self.used.clear();
        self.values.fill(0);
        self.values.clear();
        self.entries.clear();
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Points `value`'s key at the first entry, as a crafted hash collision would.
    #[cfg(test)]
    pub(crate) fn plant_collision(&mut self, tag: u16, value: &[u8]) {
        let key = key(tag, value);
        let mut i = slot_of(key);
        while self.slots[i].0 != 0 {
            i = (i + 1) & (SLOTS - 1);
        }
        self.slots[i] = (key, 0);
        self.used.push(i as u32);
    }
}

/// The index slot a key's probe starts at.
fn slot_of(key: u64) -> usize {
    // The multiply in `key` mixes upwards: take the top bits.
    (key >> (64 - SLOTS.trailing_zeros())) as usize
}

/// Hash of tag and value: eight bytes per multiply (FxHash's mixing step). Quality matters
/// little (every hit is verified); speed does, since every leaf value is hashed.
pub(crate) fn key(tag: u16, value: &[u8]) -> u64 {
    // Never 0: that marks an empty slot.
    mix_bytes(u64::from(tag), value) | 1
}

/// `seed`, length and bytes mixed eight bytes at a time; the high bits are the well-mixed ones.
fn mix_bytes(seed: u64, value: &[u8]) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let mix = |h: u64, word: u64| (h.rotate_left(5) ^ word).wrapping_mul(K);
    let mut h = mix(seed, value.len() as u64);
    let mut chunks = value.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        h = mix(h, u64::from_le_bytes(word));
    }
    mix(h, tail_word(chunks.remainder()))
}

/// The last 0-7 bytes as one word, read with fixed-size loads. (Copying them into a zeroed
/// `[u8; 8]` and loading that stalls on store forwarding: it cost more than hashing the rest
/// of a short value. The length is mixed in first, so overlapping reads lose nothing.)
fn tail_word(rest: &[u8]) -> u64 {
    let n = rest.len();
    let u32_at = |at: usize| {
        rest.get(at..at + 4)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map_or(0, |b| u64::from(u32::from_le_bytes(b)))
    };
    let u16_at = |at: usize| {
        rest.get(at..at + 2)
            .and_then(|b| <[u8; 2]>::try_from(b).ok())
            .map_or(0, |b| u64::from(u16::from_le_bytes(b)))
    };
    match n {
        4.. => u32_at(0) | u32_at(n - 4) << 32,
        2..=3 => u16_at(0) | u16_at(n - 2) << 16,
        _ => rest.first().map_or(0, |&b| u64::from(b)),
    }
}

/// The memo's keys are hashes already: the map uses them as they are.
#[derive(Debug, Default)]
pub(crate) struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Eight bytes per step (field names are hashed for every JSON key and form name); the
        // high half is folded down, as hash maps index by the low bits.
        let h = mix_bytes(self.0, bytes);
        self.0 = h ^ (h >> 32);
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit<T: Copy>(m: &ValueMemo<T>, tag: u16, v: &[u8]) -> Option<T> {
        match m.get(tag, v) {
            Lookup::Hit(t) => Some(*t),
            _ => None,
        }
    }

    #[test]
    fn remembers_by_tag_and_value() {
        let mut m = ValueMemo::default();
        for (tag, v, r) in [
            (1, b"mg/dL".as_slice(), 10),
            (2, b"mg/dL", 20),
            (1, b"g/dL", 30),
        ] {
            let Lookup::Miss(k) = m.get(tag, v) else {
                panic!("fresh value must miss")
            };
            m.insert(k, v, r);
        }
        assert_eq!(hit(&m, 1, b"mg/dL"), Some(10));
        assert_eq!(hit(&m, 2, b"mg/dL"), Some(20));
        assert_eq!(hit(&m, 1, b"g/dL"), Some(30));
        assert_eq!(hit(&m, 2, b"g/dL"), None);
    }

    #[test]
    fn a_collision_is_never_a_hit() {
        let mut m = ValueMemo::default();
        let Lookup::Miss(k) = m.get(7, b"harmless") else {
            panic!("fresh value must miss")
        };
        m.insert(k, b"harmless", "clean");
        m.plant_collision(7, b"1' or 1=1--");
        assert!(matches!(m.get(7, b"1' or 1=1--"), Lookup::Skip));
    }

    #[test]
    fn every_byte_and_the_length_reach_the_key() {
        // The tail's overlapping loads must still cover each of its bytes.
        for len in 0..=24 {
            let value: Vec<u8> = (0..len).map(|i| b'a' + i as u8).collect();
            for at in 0..len {
                let mut changed = value.clone();
                changed[at] ^= 0x20;
                assert_ne!(key(3, &value), key(3, &changed), "len {len}, byte {at}");
            }
            assert_ne!(
                key(3, &vec![0; len]),
                key(3, &vec![0; len + 1]),
                "len {len}"
            );
        }
    }

    #[test]
    fn clearing_empties_every_slot_whether_few_or_many_were_used() {
        for n in [1, 5, SLOTS / 8 - 1, SLOTS / 8, MAX_ENTRIES] {
            let mut m = ValueMemo::default();
            let values: Vec<String> = (0..n).map(|i| format!("value-{i}")).collect();
            for v in &values {
                if let Lookup::Miss(k) = m.get(1, v.as_bytes()) {
                    m.insert(k, v.as_bytes(), 1u8);
                }
            }
            m.clear();
            assert!(m.slots.iter().all(|&(k, _)| k == 0), "{n} values");
            assert!(m.values.is_empty() && m.used.is_empty());
            for v in &values {
                assert!(
                    matches!(m.get(1, v.as_bytes()), Lookup::Miss(_)),
                    "{n}: {v}"
                );
            }
        }
    }

    #[test]
    fn bounded_in_entries_and_value_length() {
        let mut m = ValueMemo::default();
        for i in 0..MAX_ENTRIES + 10 {
            let v = format!("v{i}");
            if let Lookup::Miss(k) = m.get(0, v.as_bytes()) {
                m.insert(k, v.as_bytes(), ());
            }
        }
        assert_eq!(m.len(), MAX_ENTRIES);
        assert!(matches!(m.get(0, &[b'x'; MAX_VALUE + 1]), Lookup::Skip));
    }
}
