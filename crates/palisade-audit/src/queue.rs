//! The queue between request threads and the writer thread.
//!
//! Request threads push onto a shared `VecDeque` under a mutex; the writer swaps the whole deque for
//! its own empty one about once per poll interval and works through its copy without the lock. In
//! steady state nothing is allocated per message: the two deques keep their capacity and trade
//! places. (std's list channel, used before, allocated an ~11 KB block per 31 events on the request
//! thread and freed it on the writer thread; that cross-thread traffic made glibc consolidate the
//! request thread's heap and contend on its arena lock, a measurable share of the logging cost.)
//! The mutex is uncontended except at the writer's swap, which only exchanges pointers.
//!
//! The bound is a length check under the lock, so a request thread never blocks on a full queue:
//! an overfull queue drops and counts, as before.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::TryRecvError;
use std::sync::{Arc, Mutex, MutexGuard};

/// Capacity a drained buffer keeps; a burst's larger buffers are shrunk back to this, so a flood
/// does not pin its peak memory for the life of the process.
const RETAINED_CAPACITY: usize = 4096;

#[derive(Debug)]
struct Shared<T> {
    queue: Mutex<VecDeque<T>>,
    capacity: usize,
    senders: AtomicUsize,
    receiver_alive: AtomicBool,
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, VecDeque<T>> {
        // A panic while holding the lock cannot leave the deque inconsistent (push/swap only).
        self.queue
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The sending side; cheap to clone.
#[derive(Debug)]
pub(crate) struct QueueSender<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Clone for QueueSender<T> {
    fn clone(&self) -> Self {
        self.shared.senders.fetch_add(1, Ordering::AcqRel);
        QueueSender {
            shared: self.shared.clone(),
        }
    }
}

impl<T> Drop for QueueSender<T> {
    fn drop(&mut self) {
        self.shared.senders.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Why a message was not queued; the message comes back.
#[derive(Debug)]
pub(crate) enum QueueError<T> {
    /// `capacity` messages are waiting already.
    Full(T),
    /// The receiver is gone.
    Disconnected(T),
}

/// The receiving side (the writer thread).
#[derive(Debug)]
pub(crate) struct QueueReceiver<T> {
    shared: Arc<Shared<T>>,
    /// Messages taken from the shared deque, not yet handed out.
    taken: VecDeque<T>,
}

impl<T> Drop for QueueReceiver<T> {
    fn drop(&mut self) {
        self.shared.receiver_alive.store(false, Ordering::Release);
        // Queued messages (and any acknowledgement senders in them) go now, not with the last
        // sender, as std's channel does.
        self.shared.lock().clear();
    }
}

/// A queue that holds at most `capacity` messages.
pub(crate) fn bounded<T>(capacity: usize) -> (QueueSender<T>, QueueReceiver<T>) {
    let shared = Arc::new(Shared {
        queue: Mutex::new(VecDeque::new()),
        capacity,
        senders: AtomicUsize::new(1),
        receiver_alive: AtomicBool::new(true),
    });
    (
        QueueSender {
            shared: shared.clone(),
        },
        QueueReceiver {
            shared,
            taken: VecDeque::new(),
        },
    )
}

impl<T> QueueSender<T> {
    /// Queues without waiting.
    pub(crate) fn try_send(&self, msg: T) -> Result<(), QueueError<T>> {
        if !self.shared.receiver_alive.load(Ordering::Acquire) {
            return Err(QueueError::Disconnected(msg));
        }
        let mut queue = self.shared.lock();
        if queue.len() >= self.shared.capacity {
            return Err(QueueError::Full(msg));
        }
        queue.push_back(msg);
        Ok(())
    }
}

impl<T> QueueReceiver<T> {
    /// Takes the next message if there is one.
    ///
    /// Messages the writer has taken but not yet handed out still count towards the bound only
    /// until the swap: the bound limits what waits for the writer, as before.
    pub(crate) fn try_recv(&mut self) -> Result<T, TryRecvError> {
        if let Some(msg) = self.taken.pop_front() {
            return Ok(msg);
        }
        // Read before the swap: a sender that drops after it has pushed is seen with its message.
        let senders_left = self.shared.senders.load(Ordering::Acquire) > 0;
        if self.taken.capacity() > RETAINED_CAPACITY {
            self.taken.shrink_to(RETAINED_CAPACITY);
        }
        std::mem::swap(&mut *self.shared.lock(), &mut self.taken);
        match self.taken.pop_front() {
            Some(msg) => Ok(msg),
            None if senders_left => Err(TryRecvError::Empty),
            None => Err(TryRecvError::Disconnected),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn holds_at_most_capacity_and_frees_places_as_it_drains() {
        let (tx, mut rx) = bounded::<u32>(2);
        tx.try_send(1).unwrap();
        tx.clone().try_send(2).unwrap();
        assert!(matches!(tx.try_send(3), Err(QueueError::Full(3))));
        assert_eq!(rx.try_recv().unwrap(), 1);
        tx.try_send(4).unwrap();
        tx.try_send(5).unwrap();
        assert!(matches!(tx.try_send(6), Err(QueueError::Full(6))));
        assert_eq!(rx.try_recv().unwrap(), 2);
        assert_eq!(rx.try_recv().unwrap(), 4);
        assert_eq!(rx.try_recv().unwrap(), 5);
        assert!(matches!(rx.try_recv(), Err(TryRecvError::Empty)));
    }

    #[test]
    fn a_gone_receiver_is_reported_and_does_not_leak_places() {
        let (tx, rx) = bounded::<u32>(1);
        drop(rx);
        assert!(matches!(tx.try_send(7), Err(QueueError::Disconnected(7))));
        assert!(tx.shared.lock().is_empty());
    }

    #[test]
    fn the_receiver_sees_every_message_then_the_disconnect() {
        let (tx, mut rx) = bounded::<u32>(10);
        let tx2 = tx.clone();
        tx.try_send(1).unwrap();
        drop(tx);
        tx2.try_send(2).unwrap();
        assert_eq!(rx.try_recv().unwrap(), 1);
        drop(tx2);
        assert_eq!(rx.try_recv().unwrap(), 2);
        assert!(matches!(rx.try_recv(), Err(TryRecvError::Disconnected)));
    }

    #[test]
    fn a_burst_does_not_pin_its_memory() {
        let (tx, mut rx) = bounded::<u32>(100_000);
        for i in 0..50_000 {
            tx.try_send(i).unwrap();
        }
        while rx.try_recv().is_ok() {}
        tx.try_send(1).unwrap();
        assert_eq!(rx.try_recv().unwrap(), 1);
        assert!(rx.taken.capacity() <= RETAINED_CAPACITY);
    }

    #[test]
    fn many_senders_never_overshoot() {
        let (tx, mut rx) = bounded::<u32>(100);
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let tx = tx.clone();
                std::thread::spawn(move || (0..1000).filter(|&i| tx.try_send(i).is_ok()).count())
            })
            .collect();
        let sent: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
        assert_eq!(sent, 100);
        let mut got = 0;
        while rx.try_recv().is_ok() {
            got += 1;
        }
        assert_eq!(got, 100);
    }
}
