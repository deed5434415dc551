//! Counts requests in flight so a SIGTERM drain knows when the last one finished.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// A shared in-flight counter.
#[derive(Debug, Default, Clone)]
pub struct Inflight(Arc<AtomicUsize>);

impl Inflight {
    /// Counts one request until the returned guard is dropped (the request's context is dropped
    /// when Pingora finishes with it, whatever the outcome).
    pub fn enter(&self) -> InflightGuard {
        self.0.fetch_add(1, Ordering::AcqRel);
        InflightGuard(self.0.clone())
    }

    /// Requests currently in flight.
    pub fn current(&self) -> usize {
        self.0.load(Ordering::Acquire)
    }
}

/// Decrements the counter on drop.
#[derive(Debug)]
pub struct InflightGuard(Arc<AtomicUsize>);

impl Drop for InflightGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guard_counts() {
        let i = Inflight::default();
        let a = i.enter();
        let b = i.enter();
        assert_eq!(i.current(), 2);
        drop(a);
        assert_eq!(i.current(), 1);
        drop(b);
        assert_eq!(i.current(), 0);
    }
}
