//! Drives wasmtime's epoch counter, which bounds how long a plugin may run.
//!
//! The counter only needs to advance while some plugin call is in flight, so the ticker
//! sleeps on a [`Notify`] when no call is active: an idle Berth wakes up for nothing.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::Notify;
use wasmtime::Engine;

const TICK: Duration = Duration::from_millis(10);

/// Epoch ticks that make up `d`.
pub fn ticks_for(d: Duration) -> u64 {
    (d.as_millis() / TICK.as_millis()).max(1) as u64
}

#[derive(Debug, Default)]
struct Shared {
    active: AtomicUsize,
    wake: Notify,
}

#[derive(Debug)]
pub struct Ticker {
    shared: Arc<Shared>,
}

/// Keeps the ticker running while it lives.
#[derive(Debug)]
pub struct Active {
    shared: Arc<Shared>,
}

impl Drop for Active {
    fn drop(&mut self) {
        self.shared.active.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Ticker {
    pub fn spawn(engine: Engine) -> Self {
        let shared = Arc::new(Shared::default());
        let s = Arc::clone(&shared);
        tokio::spawn(async move {
            loop {
                while s.active.load(Ordering::Acquire) == 0 {
                    s.wake.notified().await;
                }
                tokio::time::sleep(TICK).await;
                engine.increment_epoch();
            }
        });
        Self { shared }
    }

    /// Marks a plugin call as in flight until the guard drops.
    pub fn activate(&self) -> Active {
        self.shared.active.fetch_add(1, Ordering::AcqRel);
        // `notify_one` stores a permit if the ticker is not waiting yet: no lost wake-up.
        self.shared.wake.notify_one();
        Active {
            shared: Arc::clone(&self.shared),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_round_down_but_never_to_zero() {
        assert_eq!(ticks_for(Duration::from_secs(1)), 100);
        assert_eq!(ticks_for(Duration::from_millis(1)), 1);
    }
}
