//! Concurrency caps (issue #8): how many requests one client IP may have in flight, and load
//! shedding when the whole process has too many (503 + `Retry-After` before the app drowns).

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// Shards of the per-IP table: one lock per shard keeps contention low on many worker threads.
const SHARDS: usize = 16;

/// Requests in flight per client IP, capped.
#[derive(Debug)]
pub struct PerIpConcurrency {
    max: usize,
    hasher: RandomState,
    shards: Vec<Mutex<HashMap<IpAddr, usize>>>,
}

/// Holds one slot of a client's concurrency until dropped (the request context is dropped when
/// Pingora is done with the request, whatever the outcome).
#[derive(Debug)]
pub struct IpSlot {
    table: Arc<PerIpConcurrency>,
    ip: IpAddr,
}

impl PerIpConcurrency {
    /// A table allowing `max` concurrent requests per IP.
    pub fn new(max: usize) -> Arc<Self> {
        Arc::new(PerIpConcurrency {
            max,
            hasher: RandomState::new(),
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
        })
    }

    fn shard(&self, ip: &IpAddr) -> &Mutex<HashMap<IpAddr, usize>> {
        let i = (self.hasher.hash_one(ip) as usize) % SHARDS;
        &self.shards[i]
    }

    /// Takes a slot for `ip`, or `None` when the client already has `max` requests in flight.
    pub fn try_enter(self: &Arc<Self>, ip: IpAddr) -> Option<IpSlot> {
        // A poisoned lock only means another thread panicked mid-update of a counter: the map
        // is still usable, and refusing every request because of it would be worse.
        let mut map = self.shard(&ip).lock().unwrap_or_else(|p| p.into_inner());
        let n = map.entry(ip).or_insert(0);
        if *n >= self.max {
            return None;
        }
        *n += 1;
        Some(IpSlot {
            table: self.clone(),
            ip,
        })
    }

    /// Requests in flight for `ip`.
    pub fn current(&self, ip: IpAddr) -> usize {
        let map = self.shard(&ip).lock().unwrap_or_else(|p| p.into_inner());
        map.get(&ip).copied().unwrap_or(0)
    }
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        let mut map = self
            .table
            .shard(&self.ip)
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(n) = map.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                // Forget idle clients so the table only holds IPs with requests in flight.
                map.remove(&self.ip);
            }
        }
    }
}

/// Whether a new request must be shed: `in_flight` counts every request Palisade holds,
/// this one included.
pub fn overloaded(in_flight: usize, max: Option<usize>) -> bool {
    max.is_some_and(|m| in_flight > m)
}

/// `Retry-After` seconds for a shed request: short, the overload is usually a burst.
pub const SHED_RETRY_AFTER_SECS: u64 = 2;
/// `Retry-After` seconds for a client over its concurrency cap.
pub const PER_IP_RETRY_AFTER_SECS: u64 = 1;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn slots_are_capped_and_released() {
        let t = PerIpConcurrency::new(2);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        let a = t.try_enter(ip).unwrap();
        let _b = t.try_enter(ip).unwrap();
        assert!(t.try_enter(ip).is_none());
        assert!(t.try_enter(other).is_some());
        drop(a);
        assert_eq!(t.current(ip), 1);
        let _c = t.try_enter(ip).unwrap();
        assert_eq!(t.current(ip), 2);
    }

    #[test]
    fn idle_clients_are_forgotten() {
        let t = PerIpConcurrency::new(1);
        let ip: IpAddr = "2001:db8::1".parse().unwrap();
        drop(t.try_enter(ip).unwrap());
        assert_eq!(t.current(ip), 0);
        assert!(t.shards.iter().all(|s| s.lock().unwrap().is_empty()));
    }

    #[test]
    fn shedding_threshold() {
        assert!(!overloaded(10, None));
        assert!(!overloaded(10, Some(10)));
        assert!(overloaded(11, Some(10)));
    }
}
