//! A sliding-window event counter packed into one `u64`, for "N blocks in M minutes".
//!
//! The window is split into three buckets of `M/3`; four are kept (the current one, the two
//! before it, and the one before those, which is partly inside the window) and all four count.
//! So every `N` events within `M` always trip (fail closed), and events spread over up to
//! `M + M/3` may also trip; nothing older than that counts.
//! Packed layout: bucket index modulo 2^24 (24 bits) | four counts of 10 bits (saturating at
//! 1023), the current bucket in the lowest bits.

/// Buckets per window.
const BUCKETS_PER_WINDOW: u64 = 3;
/// Largest count a bucket holds, and so the largest usable threshold.
pub(crate) const MAX_COUNT: u64 = 1023;
const INDEX_MASK: u64 = (1 << 24) - 1;

/// Counts events per key in a sliding window of `window_ns`; trips at `threshold`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SlidingWindow {
    pub(crate) window_ns: u64,
    pub(crate) threshold: u32,
}

fn bucket_ns(window_ns: u64) -> u64 {
    (window_ns / BUCKETS_PER_WINDOW).max(1)
}

fn unpack(v: u64) -> (u64, [u64; 4]) {
    let mut counts = [0u64; 4];
    for (k, c) in counts.iter_mut().enumerate() {
        *c = (v >> (10 * k)) & MAX_COUNT;
    }
    (v >> 40, counts)
}

fn pack(index: u64, counts: [u64; 4]) -> u64 {
    let mut v = (index & INDEX_MASK) << 40;
    for (k, c) in counts.iter().enumerate() {
        v |= c.min(&MAX_COUNT) << (10 * k);
    }
    v
}

/// How many buckets `stored` (an index modulo 2^24) lies behind `now_index`.
fn age(now_index: u64, stored: u64) -> u64 {
    (now_index.wrapping_sub(stored)) & INDEX_MASK
}

impl SlidingWindow {
    /// Records one event at `now` (ns); returns `true` when the count over the last window (and
    /// at most a third of a window more) reaches the threshold. The caller then usually clears the state.
    pub(crate) fn record(&self, state: &mut Option<u64>, now: u64) -> bool {
        let bucket = bucket_ns(self.window_ns);
        let index = now / bucket;
        let mut counts = [0u64; 4];
        if let Some((stored, old)) = state.map(unpack) {
            let shift = age(index, stored) as usize;
            for (k, c) in old.iter().enumerate() {
                if let Some(slot) = counts.get_mut(k + shift) {
                    *slot = *c;
                }
            }
        }
        counts[0] = (counts[0] + 1).min(MAX_COUNT);
        *state = Some(pack(index, counts));
        counts.iter().sum::<u64>() >= u64::from(self.threshold)
    }

    /// When a packed state stops mattering: four buckets after its own.
    pub(crate) fn expiry(window_ns: u64, packed: u64, now: u64) -> u64 {
        let bucket = bucket_ns(window_ns);
        let now_index = now / bucket;
        let stored_index = now_index.saturating_sub(age(now_index, packed >> 40));
        (stored_index + 4).saturating_mul(bucket)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    fn w(threshold: u32) -> SlidingWindow {
        SlidingWindow {
            window_ns: 60 * S,
            threshold,
        }
    }

    #[test]
    fn n_events_in_quick_succession_trip() {
        let win = w(5);
        let mut st = None;
        let t0 = 10 * 60 * S + S;
        for i in 0..4 {
            assert!(!win.record(&mut st, t0 + i * S), "event {i}");
        }
        assert!(win.record(&mut st, t0 + 4 * S));
    }

    #[test]
    fn n_events_spread_over_the_window_trip() {
        // 5 events 11 s apart = 44 s < 60 s, crossing bucket boundaries.
        for start in [0, 7, 13, 19, 21, 40, 55, 59] {
            let win = w(5);
            let mut st = None;
            let t0 = 10 * 60 * S + start * S;
            let mut tripped = false;
            for i in 0..5 {
                tripped = win.record(&mut st, t0 + i * 11 * S);
            }
            assert!(tripped, "start {start}");
        }
    }

    #[test]
    fn events_slower_than_the_window_never_trip() {
        let win = w(5);
        let mut st = None;
        let t0 = 10 * 60 * S;
        for i in 0..50 {
            // One event every 30 s: at most 3 in any 80 s, below 5.
            assert!(!win.record(&mut st, t0 + i * 30 * S), "event {i}");
        }
    }

    #[test]
    fn old_events_are_forgotten_and_expiry_follows() {
        let win = w(3);
        let mut st = None;
        let t0 = 10 * 60 * S;
        assert!(!win.record(&mut st, t0));
        assert!(!win.record(&mut st, t0 + S));
        let packed = st.unwrap_or(0);
        assert!(SlidingWindow::expiry(60 * S, packed, t0 + S) > t0 + 61 * S);
        assert!(SlidingWindow::expiry(60 * S, packed, t0 + 200 * S) <= t0 + 200 * S);
        // Three minutes later the old events are outside the window.
        assert!(!win.record(&mut st, t0 + 180 * S));
        assert!(!win.record(&mut st, t0 + 181 * S));
        assert!(win.record(&mut st, t0 + 182 * S));
    }

    #[test]
    fn exhaustive_n_within_window_always_trips() {
        // Every placement of 4 events within 60 s (1 s resolution) trips a threshold of 4.
        let win = w(4);
        for start in 0..60u64 {
            for gap in 0..=20u64 {
                let mut st = None;
                let t0 = 600 * S + start * S;
                let mut tripped = false;
                for i in 0..4 {
                    tripped = win.record(&mut st, t0 + i * gap * S * 59 / 60);
                }
                assert!(tripped, "start {start} gap {gap}");
            }
        }
    }

    #[test]
    fn counts_saturate_instead_of_overflowing() {
        let win = w(1023);
        let mut st = None;
        let mut tripped = false;
        for i in 0..5000 {
            tripped = win.record(&mut st, 60 * S + i);
        }
        assert!(tripped);
        let (_, counts) = unpack(st.unwrap_or(0));
        assert_eq!(counts[0], MAX_COUNT);
    }
}
