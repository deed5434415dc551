//! Header values found clean, remembered across requests (one small table per thread).
//!
//! Header values repeat from request to request far more than anything else: a client sends the
//! same `User-Agent`, `Accept` and `Accept-Language` on every request, and a browser's
//! User-Agent holds `(`, `;` and `/`, the trigger bytes of all three syntax detectors — so every
//! request ran them on it again (measured: about a third of a small API GET's inspection).
//!
//! What a header leaf confirms is a pure function of the engine, the leaf's view group (location
//! and field kind), the header name and the value's bytes: exclusions, which depend on the path,
//! apply only after confirmation. So a (engine, group, name, value) that confirmed nothing will
//! confirm nothing again, and is skipped. Only clean results are remembered; every hit compares
//! the stored name and value byte for byte, so a hash collision, even a crafted one, costs a fresh
//! evaluation and never returns another value's result. An engine swapped in by a rule update has
//! a new id, so nothing remembered under the old rules is used with the new ones.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::memo::{key, MAX_VALUE};

/// Slots per thread (direct-mapped: a new value evicts whatever shared its slot). With values of
/// at most [`MAX_VALUE`] bytes this bounds the table near 150 KB per worker thread.
const SLOTS: usize = 512;

/// Longest header name remembered.
const MAX_NAME: usize = 64;

/// A fresh engine id (each compiled engine gets its own).
pub(crate) fn next_engine_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// One remembered clean header: its key and, for the exact comparison, name then value.
struct Entry {
    engine: u64,
    group: u16,
    key: u64,
    name_len: usize,
    bytes: Vec<u8>,
}

thread_local! {
    static CLEAN: RefCell<Vec<Option<Entry>>> = const { RefCell::new(Vec::new()) };
}

/// Where a header value stands.
pub(crate) enum Check {
    /// Remembered clean: nothing to evaluate.
    Clean,
    /// Not remembered; pass the key to [`remember`] if it turns out clean.
    Unknown(u64),
    /// Too long to remember.
    Skip,
}

fn slot_key(engine: u64, group: u16, name: &str, value: &[u8]) -> u64 {
    // The name's hash seeds the value's (names are short; values carry the entropy).
    key(group, value) ^ key(0, name.as_bytes()).rotate_left(17) ^ engine
}

/// Looks a header value up.
pub(crate) fn check(engine: u64, group: u16, name: &str, value: &[u8]) -> Check {
    if value.len() > MAX_VALUE || name.len() > MAX_NAME {
        return Check::Skip;
    }
    let k = slot_key(engine, group, name, value);
    CLEAN.with(|table| {
        let table = table.borrow();
        match table.get(k as usize % SLOTS).and_then(Option::as_ref) {
            Some(e)
                if e.key == k
                    && e.engine == engine
                    && e.group == group
                    && e.bytes.get(..e.name_len) == Some(name.as_bytes())
                    && e.bytes.get(e.name_len..) == Some(value) =>
            {
                Check::Clean
            }
            _ => Check::Unknown(k),
        }
    })
}

/// Remembers a header value that confirmed nothing (`k` from [`check`]).
pub(crate) fn remember(k: u64, engine: u64, group: u16, name: &str, value: &[u8]) {
    CLEAN.with(|table| {
        let mut table = table.borrow_mut();
        if table.is_empty() {
            table.resize_with(SLOTS, || None);
        }
        let Some(slot) = table.get_mut(k as usize % SLOTS) else {
            return;
        };
        // Reuse the evicted entry's buffer: a steady stream of new values does not allocate.
        let mut bytes = slot.take().map(|e| e.bytes).unwrap_or_default();
        bytes.clear();
        bytes.extend_from_slice(name.as_bytes());
        bytes.extend_from_slice(value);
        *slot = Some(Entry {
            engine,
            group,
            key: k,
            name_len: name.len(),
            bytes,
        });
    });
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn is_clean(engine: u64, group: u16, name: &str, value: &[u8]) -> bool {
        matches!(check(engine, group, name, value), Check::Clean)
    }

    fn learn(engine: u64, group: u16, name: &str, value: &[u8]) {
        match check(engine, group, name, value) {
            Check::Unknown(k) => remember(k, engine, group, name, value),
            _ => panic!("expected an unknown value"),
        }
    }

    #[test]
    fn a_remembered_value_is_clean_only_under_the_same_engine_group_and_name() {
        let e = next_engine_id();
        let ua = b"Mozilla/5.0 (Windows NT 10.0; Win64; x64)";
        assert!(!is_clean(e, 3, "user-agent", ua));
        learn(e, 3, "user-agent", ua);
        assert!(is_clean(e, 3, "user-agent", ua));
        assert!(
            !is_clean(next_engine_id(), 3, "user-agent", ua),
            "new rules"
        );
        assert!(!is_clean(e, 4, "user-agent", ua), "another view group");
        assert!(!is_clean(e, 3, "referer", ua), "another header");
        assert!(!is_clean(
            e,
            3,
            "user-agent",
            b"Mozilla/5.0 (Windows NT 10.0; Win64; x64'"
        ));
        assert!(
            !is_clean(
                e,
                3,
                "user-agen",
                b"tMozilla/5.0 (Windows NT 10.0; Win64; x64)"
            ),
            "the name/value boundary is part of the comparison"
        );
    }

    #[test]
    fn long_values_are_not_remembered() {
        let e = next_engine_id();
        assert!(matches!(
            check(e, 1, "cookie", &[b'a'; MAX_VALUE + 1]),
            Check::Skip
        ));
        assert!(matches!(
            check(e, 1, &"x".repeat(MAX_NAME + 1), b"v"),
            Check::Skip
        ));
    }

    #[test]
    fn a_slot_holds_one_value_and_a_colliding_value_is_never_taken_for_it() {
        let e = next_engine_id();
        learn(e, 2, "accept", b"application/json");
        // Find another value that lands in the same slot, and remember it in the first's place.
        let first = slot_key(e, 2, "accept", b"application/json") as usize % SLOTS;
        let other = (0u32..)
            .map(|i| format!("text/v{i}"))
            .find(|v| slot_key(e, 2, "accept", v.as_bytes()) as usize % SLOTS == first)
            .unwrap();
        assert!(!is_clean(e, 2, "accept", other.as_bytes()));
        learn(e, 2, "accept", other.as_bytes());
        assert!(is_clean(e, 2, "accept", other.as_bytes()));
        assert!(
            !is_clean(e, 2, "accept", b"application/json"),
            "evicted, so evaluated again"
        );
    }
}
