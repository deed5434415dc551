//! The queue between request threads and the writer thread.
//!
//! A bounded queue that allocates as it fills: std's `sync_channel` allocates (and touches) every
//! slot up front — 65,536 slots of a few hundred bytes each were most of palisade's idle memory.
//! This is std's list-based channel (blocks allocated on demand) with the bound kept by an atomic
//! count, so a request thread still never blocks and an overfull queue still drops and counts.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::sync::Arc;

/// The sending side; cheap to clone.
#[derive(Debug)]
pub(crate) struct QueueSender<T> {
    tx: Sender<T>,
    queued: Arc<AtomicUsize>,
    capacity: usize,
}

impl<T> Clone for QueueSender<T> {
    fn clone(&self) -> Self {
        QueueSender {
            tx: self.tx.clone(),
            queued: self.queued.clone(),
            capacity: self.capacity,
        }
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
    rx: Receiver<T>,
    queued: Arc<AtomicUsize>,
}

/// A queue that holds at most `capacity` messages.
pub(crate) fn bounded<T>(capacity: usize) -> (QueueSender<T>, QueueReceiver<T>) {
    let (tx, rx) = mpsc::channel();
    let queued = Arc::new(AtomicUsize::new(0));
    (
        QueueSender {
            tx,
            queued: queued.clone(),
            capacity,
        },
        QueueReceiver { rx, queued },
    )
}

impl<T> QueueSender<T> {
    /// Queues without waiting.
    pub(crate) fn try_send(&self, msg: T) -> Result<(), QueueError<T>> {
        // Reserve a place first so concurrent senders can never overshoot the bound.
        if self.queued.fetch_add(1, Ordering::AcqRel) >= self.capacity {
            self.queued.fetch_sub(1, Ordering::AcqRel);
            return Err(QueueError::Full(msg));
        }
        self.tx.send(msg).map_err(|e| {
            self.queued.fetch_sub(1, Ordering::AcqRel);
            QueueError::Disconnected(e.0)
        })
    }
}

impl<T> QueueReceiver<T> {
    /// Takes the next message if there is one.
    pub(crate) fn try_recv(&self) -> Result<T, TryRecvError> {
        let msg = self.rx.try_recv()?;
        self.queued.fetch_sub(1, Ordering::AcqRel);
        Ok(msg)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn holds_at_most_capacity_and_frees_places_as_it_drains() {
        let (tx, rx) = bounded::<u32>(2);
        tx.try_send(1).unwrap();
        tx.clone().try_send(2).unwrap();
        assert!(matches!(tx.try_send(3), Err(QueueError::Full(3))));
        assert_eq!(rx.try_recv().unwrap(), 1);
        tx.try_send(4).unwrap();
        assert_eq!(rx.try_recv().unwrap(), 2);
        assert_eq!(rx.try_recv().unwrap(), 4);
        assert!(matches!(rx.try_recv(), Err(TryRecvError::Empty)));
    }

    #[test]
    fn a_gone_receiver_is_reported_and_does_not_leak_places() {
        let (tx, rx) = bounded::<u32>(1);
        drop(rx);
        assert!(matches!(tx.try_send(7), Err(QueueError::Disconnected(7))));
        assert_eq!(tx.queued.load(Ordering::Acquire), 0);
    }

    #[test]
    fn many_senders_never_overshoot() {
        let (tx, rx) = bounded::<u32>(100);
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
