//! One Docker events subscription per host, fanned out to every `events` channel, with
//! a bounded log of recent events so a reconnecting client continues from its cursor
//! instead of refetching everything.
//!
//! Publishing and subscribing both hold the hub's lock, so a subscriber sees every
//! event after its cursor exactly once and in order: replayed from the log, then live.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use berth_protocol::api::events::{Event, EventFilters};
use serde_json::Value;
use tokio::sync::oneshot;

use berth_core::fanout::{SendError, Sink};

/// Events kept for replay. At the rate of a busy host (a few per second) this is
/// several minutes — longer than a browser's reconnect backoff.
pub const LOG_CAP: usize = 4096;

struct Sub {
    sink: Sink,
    filters: EventFilters,
    /// Told the cursor to resume from when the subscriber's buffer overflowed.
    overflow: Option<oneshot::Sender<String>>,
    /// The last event queued for it.
    last: u64,
}

struct Inner {
    log: VecDeque<(u64, Arc<Event>, Value)>,
    /// The sequence number of the next event; cursors are `<epoch>.<seq>`.
    next: u64,
    subs: Vec<Sub>,
}

pub struct EventHub {
    /// Distinguishes this process's cursors from an earlier run's (whose log is gone).
    epoch: String,
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for EventHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventHub")
            .field("epoch", &self.epoch)
            .finish_non_exhaustive()
    }
}

fn matches(f: &EventFilters, e: &Event) -> bool {
    !(f.exclude_helpers && e.helper)
        && (f.types.is_empty() || f.types.contains(&e.typ))
        && (f.containers.is_empty()
            || (e.typ == "container"
                && f.containers
                    .iter()
                    .any(|c| *c == e.id || Some(c) == e.name.as_ref())))
}

impl Default for EventHub {
    fn default() -> Self {
        Self::new()
    }
}

impl EventHub {
    pub fn new() -> Self {
        let mut b = [0u8; 4];
        let _ = getrandom::fill(&mut b);
        Self {
            epoch: data_encoding::HEXLOWER.encode(&b),
            inner: Mutex::new(Inner {
                log: VecDeque::new(),
                next: 1,
                subs: Vec::new(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn cursor(&self, seq: u64) -> String {
        format!("{}.{seq}", self.epoch)
    }

    fn parse(&self, cursor: &str) -> Option<u64> {
        let (epoch, seq) = cursor.split_once('.')?;
        (epoch == self.epoch).then(|| seq.parse().ok()).flatten()
    }

    /// Numbers `e`, logs it and queues it for every matching subscriber.
    pub fn publish(&self, mut e: Event) {
        let mut g = self.lock();
        let seq = g.next;
        g.next += 1;
        e.cursor = self.cursor(seq);
        let v = serde_json::to_value(&e).expect("events serialise");
        let e = Arc::new(e);
        if g.log.len() == LOG_CAP {
            g.log.pop_front();
        }
        g.log.push_back((seq, Arc::clone(&e), v.clone()));
        let epoch = &self.epoch;
        g.subs.retain_mut(|s| {
            if !matches(&s.filters, &e) {
                return !s.sink.is_closed();
            }
            match s.sink.try_send(v.clone()) {
                Ok(()) => {
                    s.last = seq;
                    true
                }
                Err(SendError::Closed) => false,
                Err(SendError::Full) => {
                    if let Some(tx) = s.overflow.take() {
                        let _ = tx.send(format!("{epoch}.{}", s.last));
                    }
                    false
                }
            }
        });
    }

    /// Adds a subscriber after replaying the logged events after `since` — or, without
    /// `since`, the last `replay` logged events that match. The receiver resolves with
    /// a cursor if the subscriber falls behind. Errs with the cursor to resume from
    /// when `since` is older than the log (or from another run), or when the replay
    /// alone overflows the channel.
    pub fn subscribe(
        &self,
        sink: Sink,
        filters: EventFilters,
        since: Option<&str>,
        replay: usize,
    ) -> Result<oneshot::Receiver<String>, String> {
        let mut g = self.lock();
        let head = g.next - 1;
        let mut last = head;
        if since.is_none() && replay > 0 {
            let mut recent: Vec<&(u64, Arc<Event>, Value)> = g
                .log
                .iter()
                .rev()
                .filter(|(_, e, _)| matches(&filters, e))
                .take(replay)
                .collect();
            recent.reverse();
            for (_, _, v) in recent {
                if sink.try_send(v.clone()).is_err() {
                    return Err(self.cursor(head));
                }
            }
        }
        if let Some(c) = since {
            let oldest = g.log.front().map_or(g.next, |(s, ..)| *s);
            let Some(from) = self.parse(c).filter(|&s| s <= head && s + 1 >= oldest) else {
                return Err(self.cursor(head));
            };
            last = from;
            for (seq, e, v) in g.log.iter().filter(|(s, ..)| *s > from) {
                if !matches(&filters, e) {
                    continue;
                }
                match sink.try_send(v.clone()) {
                    Ok(()) => last = *seq,
                    Err(_) => return Err(self.cursor(last)),
                }
            }
            last = last.max(from);
        }
        let (tx, rx) = oneshot::channel();
        g.subs.push(Sub {
            sink,
            filters,
            overflow: Some(tx),
            last,
        });
        Ok(rx)
    }
}
