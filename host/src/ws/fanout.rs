//! One source, many channels: the subscribers of a shared stream (host stats,
//! container stats, Docker events) registered as channel sinks, so the source pushes
//! each item straight into every subscriber's outbox. No task per subscriber wakes per
//! item — with 1,000 dashboards open, one sample costs one pass over this list and one
//! wake-up of each connection's writer.

use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

use super::outbox::{ChannelSink, SendError};

/// Subscribers, each with what it asked for (`F`: a filter, or nothing).
#[derive(Debug)]
pub struct Fanout<F = ()> {
    subs: Mutex<Vec<(ChannelSink, F)>>,
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
    fn subs(&self) -> MutexGuard<'_, Vec<(ChannelSink, F)>> {
        self.subs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Adds a subscriber with its filter; it leaves by closing its channel.
    pub fn join_with(&self, sink: ChannelSink, filter: F) {
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

    /// Calls `deliver` for every subscriber and forgets those whose channel turned out
    /// closed. Returns how many subscribers remain.
    pub fn deliver(
        &self,
        mut deliver: impl FnMut(&ChannelSink, &F) -> Result<(), SendError>,
    ) -> usize {
        let mut subs = self.subs();
        subs.retain(|(s, f)| deliver(s, f) != Err(SendError::Closed));
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
    /// Adds a subscriber; it leaves by closing its channel.
    pub fn join(&self, sink: ChannelSink) {
        self.join_with(sink, ());
    }

    /// Latest value wins: gives every subscriber `p`, replacing anything it has not
    /// sent yet, and forgets closed channels. Returns how many subscribers remain.
    pub fn replace_all(&self, p: &Arc<str>) -> usize {
        self.deliver(|s, ()| s.replace_raw(Arc::clone(p)))
    }
}
