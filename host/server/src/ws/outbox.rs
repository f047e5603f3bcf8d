//! The outgoing side of one connection: a priority lane and one bounded queue per
//! channel, drained by the single writer task ([`Outbox::next`]) fairly and within each
//! channel's flow-control credit.
//!
//! Order of service: the priority lane (`res`, `err`, `pong`, `opened`, `close`,
//! `welcome`, `bye`, pings) first, always; then channels round-robin, one message (or
//! one ≤ 32 KiB binary chunk) per turn, so a busy log stream cannot starve a keystroke
//! or a response. A channel takes part only while it has credit. Producers block in
//! [`ChannelSink::send`] when their queue is full (backpressure), fail fast with
//! [`ChannelSink::try_send`] (bounded buffer, overflow), or overwrite with
//! [`ChannelSink::replace`] (latest value wins).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::ws::{CloseFrame, Message};
use berth_protocol::error::ErrorBody;
use berth_protocol::frame::{DataFrame, HEADER_LEN, MAX_PAYLOAD, Stream};
use berth_protocol::wire::ServerMsg;
use bytes::Bytes;
use serde_json::Value;
use tokio::sync::Notify;

/// Priority messages allowed to wait before the connection counts as a slow consumer:
/// requests are bounded in flight, so only a client that never reads gets here.
pub const MAX_PRIORITY_QUEUE: usize = 1024;

/// Distinct keys a keyed latest-value channel holds at least, whatever its queue cap
/// (a host with this many running containers still gets a value for each).
const KEYED_MIN: usize = 4096;

/// How a channel counts its window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Msgs,
    Bytes,
}

#[derive(Debug)]
enum Item {
    Json(Value),
    /// A payload serialised once and shared by many subscribers (fan-out): only the
    /// envelope is written per connection.
    Raw(Arc<str>),
    /// A shared payload that replaces any queued one with the same key (latest value
    /// per key: one entry per container in `container.stats`).
    Keyed {
        key: Arc<str>,
        p: Arc<str>,
    },
    Binary {
        stream: Stream,
        data: Bytes,
    },
    /// A data frame the producer encoded itself (header + payload), so the writer sends
    /// it without copying; split like `Binary` when the credit is smaller.
    Frame(Bytes),
    /// The producer ended: `close` follows the data queued before it.
    End {
        p: Option<Value>,
        error: Option<ErrorBody>,
    },
}

#[derive(Debug)]
struct ChanQ {
    unit: Unit,
    credit: u64,
    /// Credit never grows beyond the window granted at open.
    window: u64,
    cap: usize,
    items: VecDeque<Item>,
    seq: u64,
    in_ready: bool,
    /// A producer found the queue full and waits on `space`: only then is a wake-up
    /// worth its cross-thread hop.
    blocked: bool,
    space: Arc<Notify>,
    /// Until its `opened` is queued, nothing of the channel is written: a fan-out
    /// source may push to the sink the moment it subscribes, and the client must see
    /// `opened` before any data.
    held: bool,
}

impl ChanQ {
    /// Whether the writer can take the front item now.
    fn sendable(&self) -> bool {
        if self.held {
            return false;
        }
        match self.items.front() {
            None => false,
            Some(Item::End { .. }) => true,
            Some(_) => self.credit > 0,
        }
    }
}

#[derive(Debug, Default)]
struct Inner {
    prio: VecDeque<Message>,
    chans: HashMap<u32, ChanQ>,
    ready: VecDeque<u32>,
    /// The final close frame: sent once the priority lane is empty; nothing after it.
    closing: Option<CloseFrame>,
    done: bool,
}

impl Inner {
    fn mark_ready(&mut self, ch: u32) {
        if let Some(q) = self.chans.get_mut(&ch)
            && !q.in_ready
            && q.sendable()
        {
            q.in_ready = true;
            self.ready.push_back(ch);
        }
    }
}

/// What the writer should do next.
#[derive(Debug, PartialEq)]
enum Next {
    Write(Message),
    /// The close frame went out: nothing more, ever.
    Done,
    /// Nothing to send yet.
    Idle,
}

/// Why a producer's item was not queued (the fan-out's, which sources see).
pub use berth_core::fanout::SendError;

#[derive(Debug, Default)]
pub struct Outbox {
    inner: Mutex<Inner>,
    /// Wakes the one writer; `notify_one` keeps a permit, so no wake-up is lost.
    wake: Notify,
}

fn text(msg: &ServerMsg) -> Message {
    Message::Text(
        serde_json::to_string(msg)
            .expect("server messages serialise")
            .into(),
    )
}

impl Outbox {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding this lock would be a bug in this module; the data is
        // still consistent enough to close the connection, so do not propagate poison.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues a priority message. False when the lane is over its bound (the caller
    /// closes the connection as a slow consumer) or the connection is closing.
    pub fn priority(&self, msg: &ServerMsg) -> bool {
        self.priority_raw(text(msg))
    }

    pub fn priority_raw(&self, msg: Message) -> bool {
        let mut g = self.lock();
        if g.closing.is_some() || g.done || g.prio.len() >= MAX_PRIORITY_QUEUE {
            return false;
        }
        g.prio.push_back(msg);
        drop(g);
        self.wake.notify_one();
        true
    }

    /// Ends the connection: queued priority messages go first, then this close frame,
    /// then nothing. Channel data still queued is dropped.
    pub fn close(&self, code: u16, reason: &str) {
        let mut g = self.lock();
        let mut spaces = Vec::new();
        if g.closing.is_none() && !g.done {
            g.closing = Some(CloseFrame {
                code,
                reason: reason.into(),
            });
            spaces = g.chans.drain().map(|(_, q)| q.space).collect();
            g.ready.clear();
        }
        drop(g);
        for s in spaces {
            s.notify_one();
        }
        self.wake.notify_one();
    }

    /// Whether `close` has been called (or the writer has finished).
    pub fn is_closing(&self) -> bool {
        let g = self.lock();
        g.closing.is_some() || g.done
    }

    /// Registers channel `ch` with its window; returns the producer's handle. What the
    /// producer queues is held back until [`Outbox::opened`].
    pub fn open_channel(
        self: &Arc<Self>,
        ch: u32,
        unit: Unit,
        window: u64,
        cap: usize,
        input: Option<tokio::sync::mpsc::Receiver<Input>>,
    ) -> ChannelSink {
        let space = Arc::new(Notify::new());
        let mut g = self.lock();
        g.chans.insert(
            ch,
            ChanQ {
                unit,
                credit: window,
                window,
                cap: cap.max(1),
                items: VecDeque::new(),
                seq: 0,
                in_ready: false,
                blocked: false,
                space: Arc::clone(&space),
                held: true,
            },
        );
        ChannelSink {
            out: Arc::clone(self),
            ch,
            space,
            input: Arc::new(Mutex::new(input)),
            required: Arc::new(std::sync::atomic::AtomicU8::new(0)),
        }
    }

    /// Queues the channel's `opened` on the priority lane and, in the same step,
    /// releases what its producer queued, so the data cannot overtake it.
    pub fn opened(&self, ch: u32, msg: &ServerMsg) -> bool {
        let mut g = self.lock();
        if g.closing.is_some() || g.done || g.prio.len() >= MAX_PRIORITY_QUEUE {
            return false;
        }
        g.prio.push_back(text(msg));
        if let Some(q) = g.chans.get_mut(&ch) {
            q.held = false;
        }
        g.mark_ready(ch);
        drop(g);
        self.wake.notify_one();
        true
    }

    /// Drops a channel's queue (its producer sees `Closed`) and, with `reply`, queues
    /// a `close` on the priority lane. Returns whether the channel existed.
    pub fn close_channel(&self, ch: u32, reply: Option<ServerMsg>) -> bool {
        let removed = self.lock().chans.remove(&ch);
        if let Some(q) = &removed {
            q.space.notify_one();
        }
        if let Some(msg) = reply {
            self.priority(&msg);
        }
        removed.is_some()
    }

    /// Adds credit to a channel (clamped to its window).
    pub fn credit(&self, ch: u32, amount: u64) {
        let mut g = self.lock();
        if let Some(q) = g.chans.get_mut(&ch) {
            q.credit = q.credit.saturating_add(amount).min(q.window);
            g.mark_ready(ch);
            drop(g);
            self.wake.notify_one();
        }
    }

    /// Number of items queued on a channel (for tests and metrics).
    pub fn queued(&self, ch: u32) -> Option<usize> {
        self.lock().chans.get(&ch).map(|q| q.items.len())
    }

    /// The next frame to write; `None` after the close frame has been handed out.
    pub async fn next(&self) -> Option<Message> {
        loop {
            match self.try_next() {
                Next::Write(m) => return Some(m),
                Next::Done => return None,
                Next::Idle => self.wake.notified().await,
            }
        }
    }

    /// The next frame if one can be written right now (for batching).
    pub fn ready(&self) -> Option<Message> {
        match self.try_next() {
            Next::Write(m) => Some(m),
            Next::Done | Next::Idle => None,
        }
    }

    fn try_next(&self) -> Next {
        let mut g = self.lock();
        if g.done {
            return Next::Done;
        }
        if let Some(m) = g.prio.pop_front() {
            return Next::Write(m);
        }
        if let Some(frame) = g.closing.take() {
            g.done = true;
            return Next::Write(Message::Close(Some(frame)));
        }
        while let Some(ch) = g.ready.pop_front() {
            let Some(q) = g.chans.get_mut(&ch) else {
                continue;
            };
            q.in_ready = false;
            if !q.sendable() {
                continue;
            }
            let item = q.items.pop_front().expect("sendable has a front");
            let msg = match item {
                Item::Json(p) => {
                    q.credit -= 1;
                    q.seq += 1;
                    text(&ServerMsg::Data { ch, seq: q.seq, p })
                }
                Item::Raw(p) | Item::Keyed { p, .. } => {
                    q.credit -= 1;
                    q.seq += 1;
                    // Same shape as `ServerMsg::Data` (a test checks it).
                    Message::Text(
                        format!(r#"{{"t":"data","ch":{ch},"seq":{},"p":{p}}}"#, q.seq).into(),
                    )
                }
                Item::Frame(frame)
                    if q.credit as usize >= frame.len() - HEADER_LEN || q.unit == Unit::Msgs =>
                {
                    q.credit -= match q.unit {
                        Unit::Bytes => (frame.len() - HEADER_LEN) as u64,
                        Unit::Msgs => 1,
                    };
                    Message::Binary(frame)
                }
                Item::Frame(frame) => {
                    // Less credit than the frame holds: fall back to splitting a copy.
                    let stream = match frame[5] {
                        0 => Stream::Stdin,
                        2 => Stream::Stderr,
                        _ => Stream::Stdout,
                    };
                    q.items.push_front(Item::Binary {
                        stream,
                        data: frame.slice(HEADER_LEN..),
                    });
                    q.in_ready = true;
                    g.ready.push_front(ch);
                    drop(g);
                    return self.try_next();
                }
                Item::Binary { stream, mut data } => {
                    let take = data.len().min(MAX_PAYLOAD).min(q.credit as usize);
                    let rest = data.split_off(take);
                    q.credit -= match q.unit {
                        Unit::Bytes => take as u64,
                        Unit::Msgs => 1,
                    };
                    if !rest.is_empty() {
                        q.items.push_front(Item::Binary { stream, data: rest });
                    }
                    Message::Binary(Bytes::from(
                        DataFrame {
                            ch,
                            stream,
                            payload: &data,
                        }
                        .encode(),
                    ))
                }
                Item::End { p, error } => {
                    let space = Arc::clone(&q.space);
                    g.chans.remove(&ch);
                    space.notify_one();
                    return Next::Write(text(&ServerMsg::Close { ch, p, error }));
                }
            };
            // Wake a waiting producer only once its queue is half empty: one wake-up per
            // several items instead of one per item (each is a cross-thread hop). A
            // producer that is not waiting (latest value, fan-out) is not woken at all.
            let space = (q.blocked && q.items.len() <= q.cap / 2).then(|| {
                q.blocked = false;
                Arc::clone(&q.space)
            });
            g.mark_ready(ch);
            drop(g);
            if let Some(space) = space {
                space.notify_one();
            }
            return Next::Write(msg);
        }
        Next::Idle
    }

    /// The writer stopped (socket gone): producers see `Closed` from now on.
    pub fn finish(&self) {
        let mut g = self.lock();
        g.done = true;
        let spaces: Vec<_> = g.chans.drain().map(|(_, q)| q.space).collect();
        drop(g);
        for s in spaces {
            s.notify_one();
        }
    }
}

/// What a client sends into a channel that takes input (`exec`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Stream-0 bytes (stdin).
    Data(Bytes),
    Resize {
        cols: u16,
        rows: u16,
    },
    /// stdin ends.
    Eof,
}

/// A role from its `as u8` (the order of [`berth_protocol::role::Role`]).
fn role_of(n: u8) -> berth_protocol::role::Role {
    use berth_protocol::role::Role;
    [Role::Viewer, Role::Operator, Role::Admin]
        .into_iter()
        .find(|r| *r as u8 >= n)
        .unwrap_or(Role::Admin)
}

/// A channel is a subscriber of the shared sources (stats, events, job progress),
/// which push to it without knowing the wire.
impl berth_core::fanout::Subscriber for ChannelSink {
    fn is_closed(&self) -> bool {
        ChannelSink::is_closed(self)
    }

    fn try_send(&self, p: Value) -> Result<(), SendError> {
        ChannelSink::try_send(self, p)
    }

    fn replace_raw(&self, p: Arc<str>) -> Result<(), SendError> {
        ChannelSink::replace_raw(self, p)
    }

    fn replace_keyed(&self, key: &Arc<str>, p: Arc<str>) -> Result<(), SendError> {
        ChannelSink::replace_keyed(self, key, p)
    }
}

/// A producer's handle on its channel.
#[derive(Debug, Clone)]
pub struct ChannelSink {
    out: Arc<Outbox>,
    ch: u32,
    space: Arc<Notify>,
    /// The client's input, for kinds that take it; the producer takes it once.
    input: Arc<Mutex<Option<tokio::sync::mpsc::Receiver<Input>>>>,
    /// The least role that may keep this channel open: the catalogue's, raised by the
    /// handler for a protected object (Berth's own container). The connection reads it
    /// whenever the caller's identity changes.
    required: Arc<std::sync::atomic::AtomicU8>,
}

impl ChannelSink {
    pub fn id(&self) -> u32 {
        self.ch
    }

    /// Raises the role this channel needs (never lowers it).
    pub fn require(&self, role: berth_protocol::role::Role) {
        self.required
            .fetch_max(role as u8, std::sync::atomic::Ordering::AcqRel);
    }

    /// The role this channel needs now.
    pub fn required(&self) -> berth_protocol::role::Role {
        role_of(self.required.load(std::sync::atomic::Ordering::Acquire))
    }

    /// The client's input (once; `None` for kinds without input).
    pub fn take_input(&self) -> Option<tokio::sync::mpsc::Receiver<Input>> {
        self.input
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
    }

    /// Whether the channel is gone (closed by either side or with the connection).
    pub fn is_closed(&self) -> bool {
        let g = self.out.lock();
        g.done || g.closing.is_some() || !g.chans.contains_key(&self.ch)
    }

    fn push(&self, item: Item, mode: Mode) -> Result<(), Result<SendError, Item>> {
        let mut g = self.out.lock();
        if g.done || g.closing.is_some() {
            return Err(Ok(SendError::Closed));
        }
        let Some(q) = g.chans.get_mut(&self.ch) else {
            return Err(Ok(SendError::Closed));
        };
        match mode {
            Mode::Replace => {
                // Latest value wins: drop whatever data is still waiting.
                q.items.retain(|i| matches!(i, Item::End { .. }));
                q.items.push_front(item);
            }
            Mode::ReplaceKey => {
                let Item::Keyed { key, .. } = &item else {
                    unreachable!("ReplaceKey takes keyed items")
                };
                q.items
                    .retain(|i| !matches!(i, Item::Keyed { key: k, .. } if k == key));
                // One entry per key; the oldest goes should the keys outnumber the cap.
                if q.items.len() >= q.cap.max(KEYED_MIN) {
                    q.items.pop_front();
                }
                // Before an `End`, which must stay last.
                let at = q
                    .items
                    .iter()
                    .position(|i| matches!(i, Item::End { .. }))
                    .unwrap_or(q.items.len());
                q.items.insert(at, item);
            }
            Mode::Queue | Mode::Try if q.items.len() < q.cap => q.items.push_back(item),
            Mode::Try => return Err(Ok(SendError::Full)),
            Mode::Queue => {
                q.blocked = true;
                return Err(Err(item));
            }
        }
        g.mark_ready(self.ch);
        drop(g);
        self.out.wake.notify_one();
        Ok(())
    }

    async fn send_item(&self, mut item: Item) -> Result<(), SendError> {
        loop {
            match self.push(item, Mode::Queue) {
                Ok(()) => return Ok(()),
                Err(Ok(e)) => return Err(e),
                Err(Err(back)) => item = back,
            }
            self.space.notified().await;
        }
    }

    /// Queues a JSON data item, waiting while the queue is full (backpressure).
    pub async fn send(&self, p: Value) -> Result<(), SendError> {
        self.send_item(Item::Json(p)).await
    }

    /// Queues binary bytes, waiting while the queue is full; the writer cuts them into
    /// frames of at most 32 KiB and at most the credit.
    pub async fn send_bytes(&self, stream: Stream, data: Bytes) -> Result<(), SendError> {
        if data.is_empty() {
            return Ok(());
        }
        self.send_item(Item::Binary { stream, data }).await
    }

    /// Queues one binary frame of at most 32 KiB (waiting while the queue is full),
    /// encoded here, in the producer's task, so the writer only hands it to the socket.
    /// A producer that sends the same bytes repeatedly can pass `frame` from
    /// [`Self::encode_frame`] again: it is shared, not copied.
    pub async fn send_frame(&self, frame: Bytes) -> Result<(), SendError> {
        debug_assert!(frame.len() > HEADER_LEN && frame.len() <= HEADER_LEN + MAX_PAYLOAD);
        self.send_item(Item::Frame(frame)).await
    }

    /// This channel's data frame for `payload` (≤ 32 KiB).
    pub fn encode_frame(&self, stream: Stream, payload: &[u8]) -> Bytes {
        Bytes::from(
            DataFrame {
                ch: self.ch,
                stream,
                payload: &payload[..payload.len().min(MAX_PAYLOAD)],
            }
            .encode(),
        )
    }

    /// Queues without waiting; `Full` when the bounded buffer is.
    pub fn try_send(&self, p: Value) -> Result<(), SendError> {
        self.push(Item::Json(p), Mode::Try).map_err(|e| match e {
            Ok(e) => e,
            Err(_) => SendError::Full,
        })
    }

    /// Replaces anything not yet sent with `p` (latest value wins).
    pub fn replace(&self, p: Value) -> Result<(), SendError> {
        self.push(Item::Json(p), Mode::Replace)
            .map_err(|e| e.unwrap_or(SendError::Closed))
    }

    /// [`Self::replace`] with a payload already serialised as JSON.
    pub fn replace_raw(&self, p: Arc<str>) -> Result<(), SendError> {
        self.push(Item::Raw(p), Mode::Replace)
            .map_err(|e| e.unwrap_or(SendError::Closed))
    }

    /// Latest value per key: replaces the queued payload with the same `key`, if any,
    /// and keeps the others (a slow client gets each container's newest sample).
    pub fn replace_keyed(&self, key: &Arc<str>, p: Arc<str>) -> Result<(), SendError> {
        self.push(
            Item::Keyed {
                key: Arc::clone(key),
                p,
            },
            Mode::ReplaceKey,
        )
        .map_err(|e| e.unwrap_or(SendError::Closed))
    }

    /// Ends the channel after the data already queued. Only the first call counts, so
    /// a producer may end its channel with a payload of its own (an `overflow` cursor)
    /// before the registry ends it again.
    pub fn finish(&self, p: Option<Value>, error: Option<ErrorBody>) {
        let mut g = self.out.lock();
        if let Some(q) = g.chans.get_mut(&self.ch)
            && !q.items.iter().any(|i| matches!(i, Item::End { .. }))
        {
            q.items.push_back(Item::End { p, error });
            g.mark_ready(self.ch);
            drop(g);
            self.out.wake.notify_one();
        }
    }

    /// Resolves when the channel is closed (by the client, the server, or the socket).
    pub async fn closed(&self) {
        loop {
            {
                let g = self.out.lock();
                if g.done || g.closing.is_some() || !g.chans.contains_key(&self.ch) {
                    return;
                }
            }
            self.space.notified().await;
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Mode {
    Queue,
    Try,
    Replace,
    ReplaceKey,
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_protocol::wire::Window;
    use serde_json::json;

    /// A channel as the connection opens it: registered, then `opened`.
    fn open(out: &Arc<Outbox>, ch: u32, unit: Unit, window: u64, cap: usize) -> ChannelSink {
        let sink = out.open_channel(ch, unit, window, cap, None);
        let opened = ServerMsg::Opened {
            ch,
            p: json!({}),
            window: Window::default(),
        };
        assert!(out.opened(ch, &opened));
        assert_eq!(t(now(out))["t"], "opened");
        sink
    }

    fn now(out: &Outbox) -> Option<Message> {
        match out.try_next() {
            Next::Write(m) => Some(m),
            _ => None,
        }
    }

    fn t(m: Option<Message>) -> Value {
        match m {
            Some(Message::Text(t)) => serde_json::from_str(t.as_str()).unwrap(),
            other => panic!("expected text, got {other:?}"),
        }
    }

    #[test]
    fn data_queued_before_opened_waits_for_it() {
        let out = Outbox::new();
        // A fan-out source (job progress) pushes the moment it subscribes, while the
        // connection is still opening the channel.
        let s = out.open_channel(1, Unit::Msgs, 4, 4, None);
        s.try_send(json!({"early": true})).unwrap();
        assert!(now(&out).is_none(), "data must not go before opened");
        let opened = ServerMsg::Opened {
            ch: 1,
            p: json!({}),
            window: Window::default(),
        };
        assert!(out.opened(1, &opened));
        assert_eq!(t(now(&out))["t"], "opened");
        assert_eq!(t(now(&out))["p"], json!({"early": true}));
    }

    #[test]
    fn priority_first_then_channels_round_robin_within_credit() {
        let out = Outbox::new();
        let a = open(&out, 1, Unit::Msgs, 2, 8);
        let b = open(&out, 2, Unit::Msgs, 8, 8);
        for i in 0..4 {
            a.try_send(json!({"a": i})).unwrap();
            b.try_send(json!({"b": i})).unwrap();
        }
        out.priority(&ServerMsg::Pong { ts: 1 });
        assert_eq!(t(now(&out))["t"], "pong");
        let order: Vec<u32> = std::iter::from_fn(|| now(&out))
            .map(|m| t(Some(m))["ch"].as_u64().unwrap() as u32)
            .collect();
        // a has 2 credits, b 8: alternate while both can, then only b.
        assert_eq!(order, [1, 2, 1, 2, 2, 2]);
        out.credit(1, 1);
        let m = t(now(&out));
        assert_eq!((m["ch"].as_u64(), m["seq"].as_u64()), (Some(1), Some(3)));
        assert!(now(&out).is_none(), "no credit left");
    }

    #[test]
    fn latest_value_never_queues_stale_values() {
        let out = Outbox::new();
        let s = open(&out, 3, Unit::Msgs, 1, 1);
        s.replace(json!(1)).unwrap();
        assert_eq!(t(now(&out))["p"], 1);
        for i in 2..100 {
            s.replace(json!(i)).unwrap();
        }
        assert_eq!(out.queued(3), Some(1));
        assert!(now(&out).is_none(), "no credit");
        out.credit(3, 1);
        assert_eq!(t(now(&out))["p"], 99, "only the newest value is sent");
    }

    #[test]
    fn keyed_latest_value_keeps_the_newest_per_key() {
        let out = Outbox::new();
        let s = open(&out, 5, Unit::Msgs, 10, 1);
        let (a, b): (Arc<str>, Arc<str>) = (Arc::from("a"), Arc::from("b"));
        for i in 0..50 {
            s.replace_keyed(&a, Arc::from(format!(r#"{{"k":"a","i":{i}}}"#)))
                .unwrap();
            s.replace_keyed(&b, Arc::from(format!(r#"{{"k":"b","i":{i}}}"#)))
                .unwrap();
        }
        assert_eq!(
            out.queued(5),
            Some(2),
            "one entry per key, however many samples"
        );
        s.finish(None, None);
        s.replace_keyed(&a, Arc::from(r#"{"k":"a","i":99}"#))
            .unwrap();
        out.credit(5, 10);
        let got: Vec<Value> = std::iter::from_fn(|| now(&out))
            .map(|m| t(Some(m)))
            .collect();
        assert_eq!(got[0]["p"], json!({"k": "b", "i": 49}));
        assert_eq!(got[1]["p"], json!({"k": "a", "i": 99}));
        assert_eq!(got[2]["t"], "close", "the end stays last");
    }

    #[test]
    fn bounded_buffers_report_full_and_binary_is_chunked_by_credit() {
        let out = Outbox::new();
        let s = open(&out, 4, Unit::Msgs, 0, 2);
        s.try_send(json!(1)).unwrap();
        s.try_send(json!(2)).unwrap();
        assert_eq!(s.try_send(json!(3)), Err(SendError::Full));

        let bin = open(&out, 5, Unit::Bytes, 40_000, 4);
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(bin.send_bytes(Stream::Stdout, Bytes::from(vec![7u8; 100_000])))
            .unwrap();
        let mut sizes = vec![];
        while let Some(Message::Binary(b)) = now(&out) {
            sizes.push(DataFrame::decode(&b).unwrap().payload.len());
        }
        assert_eq!(sizes, [MAX_PAYLOAD, 40_000 - MAX_PAYLOAD]);
        let drain = || {
            let mut n = 0;
            while let Some(Message::Binary(b)) = now(&out) {
                let len = DataFrame::decode(&b).unwrap().payload.len();
                assert!(len <= MAX_PAYLOAD);
                n += len;
            }
            n
        };
        out.credit(5, 1 << 30);
        assert_eq!(drain(), 40_000, "credit beyond the window is clamped");
        out.credit(5, 1 << 30);
        assert_eq!(drain(), 20_000, "and the data waits, none lost");
    }

    #[test]
    fn raw_payloads_are_framed_exactly_like_data_messages() {
        let out = Outbox::new();
        let s = open(&out, 9, Unit::Msgs, 4, 1);
        s.replace_raw(Arc::from(r#"{"cpu":1.5,"x":[1,2]}"#))
            .unwrap();
        let got: ServerMsg = serde_json::from_value(t(now(&out))).unwrap();
        assert_eq!(
            got,
            ServerMsg::Data {
                ch: 9,
                seq: 1,
                p: json!({"cpu": 1.5, "x": [1, 2]})
            }
        );
    }

    #[tokio::test]
    async fn a_full_queue_pauses_the_producer_until_the_writer_takes_an_item() {
        let out = Outbox::new();
        let s = open(&out, 7, Unit::Msgs, 1, 2);
        s.send(json!(1)).await.unwrap();
        s.send(json!(2)).await.unwrap();
        let mut third = Box::pin(s.send(json!(3)));
        assert!(
            futures_util::poll!(third.as_mut()).is_pending(),
            "the producer waits while the queue is full"
        );
        assert_eq!(t(now(&out))["p"], 1);
        assert!(
            futures_util::poll!(third.as_mut()).is_ready(),
            "space frees it"
        );
        out.close_channel(7, None);
        assert_eq!(s.send(json!(4)).await, Err(SendError::Closed));
    }

    #[test]
    fn producer_encoded_frames_go_out_whole_or_split_by_credit() {
        let out = Outbox::new();
        let s = open(&out, 8, Unit::Bytes, 50_000, 4);
        let frame = s.encode_frame(Stream::Stdout, &[1u8; MAX_PAYLOAD]);
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            s.send_frame(frame.clone()).await.unwrap();
            s.send_frame(frame.clone()).await.unwrap();
        });
        let first = now(&out);
        assert_eq!(
            first,
            Some(Message::Binary(frame)),
            "sent as is, not copied"
        );
        let Some(Message::Binary(b)) = now(&out) else {
            panic!("second frame")
        };
        let f = DataFrame::decode(&b).unwrap();
        assert_eq!(
            (f.ch, f.payload.len()),
            (8, 50_000 - MAX_PAYLOAD),
            "split to the credit"
        );
        assert!(now(&out).is_none());
    }

    #[test]
    fn end_follows_data_and_close_frame_is_last() {
        let out = Outbox::new();
        let s = open(&out, 6, Unit::Msgs, 5, 4);
        s.try_send(json!("x")).unwrap();
        s.finish(Some(json!({"exit_code": 0})), None);
        assert_eq!(t(now(&out))["t"], "data");
        assert_eq!(t(now(&out))["t"], "close");
        assert_eq!(s.try_send(json!("late")), Err(SendError::Closed));
        out.priority(&ServerMsg::Pong { ts: 2 });
        out.close(1001, "bye");
        assert!(
            !out.priority(&ServerMsg::Pong { ts: 3 }),
            "nothing after close"
        );
        assert_eq!(t(now(&out))["t"], "pong");
        assert!(matches!(now(&out), Some(Message::Close(Some(f))) if f.code == 1001));
        assert_eq!(out.try_next(), Next::Done);
    }
}
