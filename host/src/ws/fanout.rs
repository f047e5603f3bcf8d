//! One source, many channels: the subscribers of a shared stream (host stats,
//! container stats, Docker events) registered as channel sinks, so the source pushes
//! each item straight into every subscriber's outbox. No task per subscriber wakes per
//! item — with 1,000 dashboards open, one sample costs one pass over this list and one
//! wake-up of each connection's writer.

use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

use super::outbox::{ChannelSink, SendError};

#[derive(Debug, Default)]
pub struct Fanout {
    subs: Mutex<Vec<ChannelSink>>,
    joined: Notify,
}

impl Fanout {
    fn subs(&self) -> MutexGuard<'_, Vec<ChannelSink>> {
        self.subs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Adds a subscriber; it leaves by closing its channel.
    pub fn join(&self, sink: ChannelSink) {
        self.subs().push(sink);
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

    /// Latest value wins: gives every subscriber `p`, replacing anything it has not
    /// sent yet, and forgets closed channels. Returns how many subscribers remain.
    pub fn replace_all(&self, p: &Arc<str>) -> usize {
        let mut subs = self.subs();
        subs.retain(|s| s.replace_raw(Arc::clone(p)) != Err(SendError::Closed));
        subs.len()
    }
}
