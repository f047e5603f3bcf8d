//! One source, many subscribers: the subscribers of a shared stream (host stats,
//! container stats, Docker events, job progress), each pushed to directly by the source.
//! No task per subscriber wakes per item — with 1,000 dashboards open, one sample costs
//! one pass over this list and one wake-up of each connection's writer.
//!
//! A subscriber is anything that takes items without waiting ([`Subscriber`]); the
//! server's WebSocket channels are, and so is a test's recorder. The sources live in
//! the crates below the server and never see the wire.

use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

/// Why an item was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendError {
    /// The subscriber is gone; the source should forget it.
    Closed,
    /// Its bounded buffer is full (only from [`Subscriber::try_send`]).
    Full,
}

/// Where a source pushes items, never waiting.
pub trait Subscriber: Send + Sync + std::fmt::Debug {
    /// Whether the subscriber is gone.
    fn is_closed(&self) -> bool;
    /// Queues `p` unless the buffer is full.
    fn try_send(&self, p: serde_json::Value) -> Result<(), SendError>;
    /// Latest value wins: replaces anything not yet delivered with `p` (already JSON).
    fn replace_raw(&self, p: Arc<str>) -> Result<(), SendError>;
    /// Latest value per key: replaces the undelivered item with the same `key`.
    fn replace_keyed(&self, key: &Arc<str>, p: Arc<str>) -> Result<(), SendError>;
}

/// A boxed subscriber, as sources keep them.
pub type Sink = Box<dyn Subscriber>;

/// Subscribers, each with what it asked for (`F`: a filter, or nothing).
#[derive(Debug)]
pub struct Fanout<F = ()> {
    subs: Mutex<Vec<(Sink, F)>>,
    joined: Notify,
}

impl<F> Default for Fanout<F> {
    fn default() -> Self {
        Self {
            subs: Mutex::new(Vec::new()),
            joined: Notify::new(),
        }
    }
}

impl<F> Fanout<F> {
    fn subs(&self) -> MutexGuard<'_, Vec<(Sink, F)>> {
        self.subs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Adds a subscriber with its filter; it leaves by closing.
    pub fn join_with(&self, sink: Sink, filter: F) {
        self.subs().push((sink, filter));
        self.joined.notify_one();
    }

    pub fn is_empty(&self) -> bool {
        self.subs().is_empty()
    }

    /// Resolves once somebody subscribes (at once if somebody has).
    pub async fn subscribed(&self) {
        while self.is_empty() {
            self.joined.notified().await;
        }
    }

    /// Calls `deliver` for every subscriber and forgets those that turned out closed.
    /// Returns how many subscribers remain.
    pub fn deliver(
        &self,
        mut deliver: impl FnMut(&dyn Subscriber, &F) -> Result<(), SendError>,
    ) -> usize {
        let mut subs = self.subs();
        subs.retain(|(s, f)| deliver(s.as_ref(), f) != Err(SendError::Closed));
        subs.len()
    }

    /// Every subscriber's filter, e.g. to decide what the source must produce.
    pub fn filters(&self) -> Vec<F>
    where
        F: Clone,
    {
        self.subs().iter().map(|(_, f)| f.clone()).collect()
    }
}

impl Fanout {
    /// Adds a subscriber; it leaves by closing.
    pub fn join(&self, sink: Sink) {
        self.join_with(sink, ());
    }

    /// Latest value wins: gives every subscriber `p`, replacing anything it has not
    /// received yet, and forgets closed ones. Returns how many subscribers remain.
    pub fn replace_all(&self, p: &Arc<str>) -> usize {
        self.deliver(|s, ()| s.replace_raw(Arc::clone(p)))
    }
}
