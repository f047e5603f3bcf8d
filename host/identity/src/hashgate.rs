//! A bound on password hashing in flight. Argon2id takes 19 MiB and tens of
//! milliseconds per hash by design; without a bound, 1,000 parallel login attempts
//! (which need no account) took the process from 51 MiB to 1.2 GiB. A few hashes run
//! at once, a few more wait their turn, and the rest are told at once to come back
//! (`503` with `Retry-After`) instead of queueing memory and time.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Hashes in flight and the waiting line's length.
#[derive(Debug)]
pub struct HashGate {
    running: Arc<Semaphore>,
    waiting: AtomicUsize,
    max_waiting: usize,
}

/// The gate is full: try again shortly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

impl HashGate {
    /// `parallel` hashes at once, `max_waiting` callers waiting for one.
    pub fn new(parallel: usize, max_waiting: usize) -> Self {
        Self {
            running: Arc::new(Semaphore::new(parallel.max(1))),
            waiting: AtomicUsize::new(0),
            max_waiting,
        }
    }

    /// Sized for this machine: one hash per core (at least two), four waiting per core.
    pub fn for_this_machine() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
        Self::new(cores.max(2), cores.max(2) * 4)
    }

    /// A turn to hash, or [`Busy`] at once when the waiting line is full.
    pub async fn enter(&self) -> Result<OwnedSemaphorePermit, Busy> {
        if let Ok(p) = Arc::clone(&self.running).try_acquire_owned() {
            return Ok(p);
        }
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.max_waiting {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(Busy);
        }
        let permit = Arc::clone(&self.running).acquire_owned().await;
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        permit.map_err(|_| Busy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_gate_answers_busy_at_once() {
        let gate = Arc::new(HashGate::new(2, 1));
        let a = gate.enter().await.unwrap();
        let _b = gate.enter().await.unwrap();
        let g = Arc::clone(&gate);
        let waiter = tokio::spawn(async move { g.enter().await.map(drop) });
        // The one waiting place is taken once the waiter is parked on the semaphore.
        while gate.waiting.load(Ordering::Acquire) == 0 {
            tokio::task::yield_now().await;
        }
        assert_eq!(gate.enter().await.err(), Some(Busy));
        drop(a);
        assert_eq!(waiter.await.unwrap(), Ok(()));
    }
}
