//! Live counters: lock-free atomics the request threads bump, and a fixed-bucket latency histogram
//! that records without allocating.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Histogram buckets: 0–3 µs exactly, then four sub-buckets per power of two up to 2^30 µs (≈18 min),
/// so every bucket's width is at most 25 % of its lower bound.
pub const HISTOGRAM_BUCKETS: usize = 120;
const MAX_RECORDED_US: u64 = (1 << 31) - 1;

fn bucket_of(us: u64) -> usize {
    let v = us.min(MAX_RECORDED_US);
    if v < 4 {
        return v as usize;
    }
    let msb = 63 - v.leading_zeros() as usize;
    let sub = ((v >> (msb - 2)) & 3) as usize;
    (4 + (msb - 2) * 4 + sub).min(HISTOGRAM_BUCKETS - 1)
}

/// Largest value (µs) that falls in bucket `idx`.
fn bucket_upper(idx: usize) -> u64 {
    if idx < 4 {
        return idx as u64;
    }
    let shift = (idx - 4) / 4;
    let sub = ((idx - 4) % 4) as u64;
    ((4 + sub + 1) << shift) - 1
}

/// Added-latency histogram (microseconds).
pub struct LatencyHistogram {
    buckets: [AtomicU64; HISTOGRAM_BUCKETS],
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        LatencyHistogram {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

impl LatencyHistogram {
    /// Records one value: one relaxed atomic add, no allocation.
    pub fn record(&self, us: u64) {
        self.buckets[bucket_of(us)].fetch_add(1, Relaxed);
    }

    /// Takes the counts recorded since the last take (resetting them).
    pub fn take(&self) -> HistogramSnapshot {
        HistogramSnapshot {
            counts: std::array::from_fn(|i| self.buckets[i].swap(0, Relaxed)),
        }
    }
}

/// Counts taken from a [`LatencyHistogram`].
pub struct HistogramSnapshot {
    counts: [u64; HISTOGRAM_BUCKETS],
}

impl HistogramSnapshot {
    /// Number of values.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The `q` quantile (0.0–1.0) as the upper bound of its bucket; `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<u64> {
        let total = self.total();
        if total == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Some(bucket_upper(i));
            }
        }
        Some(bucket_upper(HISTOGRAM_BUCKETS - 1))
    }
}

/// Counters shared by the sink, the writer thread and the alert task.
#[derive(Default)]
pub(crate) struct Counters {
    pub requests: AtomicU64,
    pub blocked: AtomicU64,
    pub monitored: AtomicU64,
    pub rate_limited: AtomicU64,
    pub security_events: AtomicU64,
    pub lines_written: AtomicU64,
    pub lines_dropped_queue_full: AtomicU64,
    pub lines_lost_write_error: AtomicU64,
    pub alerts_sent: AtomicU64,
    pub alerts_dropped: AtomicU64,
    pub latency: LatencyHistogram,
}

/// Cumulative counters since the sink started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CountersSnapshot {
    /// Access events received.
    pub requests: u64,
    /// Security events that refused a request (block, deny, limit, ban).
    pub blocked: u64,
    /// Security events in monitor mode.
    pub monitored: u64,
    /// Rate-limit refusals.
    pub rate_limited: u64,
    /// Security events received.
    pub security_events: u64,
    /// Lines written to the output.
    pub lines_written: u64,
    /// Events dropped because the writer queue was full.
    pub lines_dropped_queue_full: u64,
    /// Lines lost because the output failed (EPIPE, disk full).
    pub lines_lost_write_error: u64,
    /// Webhook calls that succeeded.
    pub alerts_sent: u64,
    /// Security events or webhook calls dropped (queue full, call cap, delivery failed).
    pub alerts_dropped: u64,
}

impl CountersSnapshot {
    /// All lost log lines (queue full + write errors).
    pub fn lost_lines(&self) -> u64 {
        self.lines_dropped_queue_full + self.lines_lost_write_error
    }
}

impl Counters {
    pub(crate) fn snapshot(&self) -> CountersSnapshot {
        CountersSnapshot {
            requests: self.requests.load(Relaxed),
            blocked: self.blocked.load(Relaxed),
            monitored: self.monitored.load(Relaxed),
            rate_limited: self.rate_limited.load(Relaxed),
            security_events: self.security_events.load(Relaxed),
            lines_written: self.lines_written.load(Relaxed),
            lines_dropped_queue_full: self.lines_dropped_queue_full.load(Relaxed),
            lines_lost_write_error: self.lines_lost_write_error.load(Relaxed),
            alerts_sent: self.alerts_sent.load(Relaxed),
            alerts_dropped: self.alerts_dropped.load(Relaxed),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_monotonic_and_tight() {
        let mut last = 0;
        for us in 0..200_000u64 {
            let b = bucket_of(us);
            assert!(b >= last, "bucket went down at {us}");
            last = b;
            assert!(bucket_upper(b) >= us, "{us} above its bucket's upper bound");
            assert!(
                bucket_upper(b) as f64 <= (us as f64) * 1.25 + 1.0,
                "bucket of {us} too wide"
            );
        }
        assert_eq!(bucket_of(u64::MAX), bucket_of(MAX_RECORDED_US));
        assert!(bucket_of(MAX_RECORDED_US) < HISTOGRAM_BUCKETS);
    }

    #[test]
    fn quantiles_follow_the_data() {
        let h = LatencyHistogram::default();
        assert_eq!(h.take().quantile(0.5), None);
        for _ in 0..98 {
            h.record(100);
        }
        h.record(5_000);
        h.record(10_000);
        let s = h.take();
        assert_eq!(s.total(), 100);
        let p50 = s.quantile(0.5).unwrap();
        assert!((100..=125).contains(&p50), "{p50}");
        let p99 = s.quantile(0.99).unwrap();
        assert!((5_000..=6_250).contains(&p99), "{p99}");
        assert_eq!(h.take().total(), 0, "take resets");
    }
}
