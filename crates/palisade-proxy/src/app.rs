//! The app behind Palisade: where it listens and whether it is ready to take requests.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// Where the app listens, and a readiness latch the supervisor opens once the app accepts
/// connections. Requests that arrive earlier wait on it (up to the boot deadline).
#[derive(Debug)]
pub struct AppTarget {
    addr: Mutex<SocketAddr>,
    ready: AtomicBool,
    ready_notify: Notify,
    boot_deadline: Instant,
}

impl AppTarget {
    /// A target that is not ready yet; requests wait for it until `boot_timeout` from now.
    pub fn booting(addr: SocketAddr, boot_timeout: Duration) -> AppTarget {
        AppTarget {
            addr: Mutex::new(addr),
            ready: AtomicBool::new(false),
            ready_notify: Notify::new(),
            boot_deadline: Instant::now() + boot_timeout,
        }
    }

    /// A target that is ready at once (proxy-only mode: the app is not ours to wait for).
    pub fn ready(addr: SocketAddr) -> AppTarget {
        let t = AppTarget::booting(addr, Duration::ZERO);
        t.ready.store(true, Ordering::Release);
        t
    }

    /// The app's address.
    pub fn addr(&self) -> SocketAddr {
        *self.addr.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Marks the app ready at `addr` (the address that answered the readiness probe) and wakes
    /// every waiting request.
    pub fn mark_ready(&self, addr: SocketAddr) {
        *self.addr.lock().unwrap_or_else(PoisonError::into_inner) = addr;
        self.ready.store(true, Ordering::Release);
        self.ready_notify.notify_waiters();
    }

    /// Whether the app has been seen accepting connections.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// Waits until the app is ready or the boot deadline passes. Returns readiness.
    pub async fn wait_ready(&self) -> bool {
        loop {
            // Register interest before checking, so a wake-up between the check and the
            // await is not lost.
            let notified = self.ready_notify.notified();
            if self.is_ready() {
                return true;
            }
            let now = Instant::now();
            if now >= self.boot_deadline {
                return false;
            }
            let _ = tokio::time::timeout(self.boot_deadline - now, notified).await;
        }
    }

    /// Seconds until the boot deadline (for `Retry-After` while booting), at least 1.
    pub fn retry_after_secs(&self) -> u64 {
        self.boot_deadline
            .saturating_duration_since(Instant::now())
            .as_secs()
            .max(1)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::sync::Arc;

    #[tokio::test]
    async fn waiters_wake_when_ready() {
        let addr: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let t = Arc::new(AppTarget::booting(addr, Duration::from_secs(5)));
        let t2 = t.clone();
        let waiter = tokio::spawn(async move { t2.wait_ready().await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        let ready_addr: SocketAddr = "127.0.0.1:2".parse().unwrap();
        t.mark_ready(ready_addr);
        assert!(waiter.await.unwrap());
        assert_eq!(t.addr(), ready_addr);
    }

    #[tokio::test]
    async fn deadline_expires() {
        let t = AppTarget::booting("127.0.0.1:1".parse().unwrap(), Duration::from_millis(30));
        assert!(!t.wait_ready().await);
    }
}
