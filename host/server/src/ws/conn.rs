//! One WebSocket connection: the reader loop (this task) and the writer task.
//!
//! The reader decodes client messages, enforces the handshake, limits and flow-control
//! bookkeeping, and starts a task per request and per channel; the writer drains the
//! [`Outbox`] with a write deadline. Nothing here trusts the client: every id, size and
//! count is bounded, and a task's failure ends only that request or channel.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use berth_protocol::api::catalogue::{ChannelInfo, Overflow};
use berth_protocol::error::{ErrorBody, ErrorCode, close};
use berth_protocol::frame::{DataFrame, Stream};
use berth_protocol::wire::{
    ClientMsg, DecodeError, Limits, PROTOCOL_VERSION, Peer, ServerMsg, WelcomeUser, Window,
    decode_client,
};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio::task::AbortHandle;
use tokio::time::{Instant, timeout};

use super::outbox::{Input, Outbox, Unit};
use super::registry::{Call, internal};
use crate::server::AppState;
use berth_identity::prelude::*;
use berth_identity::principal::{Principal, Via};

/// What the connection announces and enforces.
pub const LIMITS: Limits = Limits {
    max_channels: 64,
    max_text_bytes: 1024 * 1024,
    max_window_bytes: 4 * 1024 * 1024,
    max_window_msgs: 4096,
};
/// Windows when `open` names none.
const DEFAULT_WINDOW_MSGS: u32 = 256;
const DEFAULT_WINDOW_BYTES: u32 = 256 * 1024;
/// Requests served at once per connection; more get `rate_limited`.
pub const MAX_IN_FLIGHT: usize = 64;
const MAX_ID_LEN: usize = 128;
const HELLO_TIMEOUT: Duration = Duration::from_secs(5);
/// Bytes the writer queues in the socket's buffer before flushing.
const WRITE_BATCH: usize = 256 * 1024;
/// How long the writer tries to deliver the 4008 close frame to a stalled socket.
const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// Tunables from the configuration.
#[derive(Debug, Clone, Copy)]
pub struct WsSettings {
    pub heartbeat: Duration,
    pub write_timeout: Duration,
}

/// What the upgrade request carried.
#[derive(Debug)]
pub enum UpgradeAuth {
    None,
    Valid {
        principal: Principal,
        secret: String,
    },
    Invalid,
}

type Inflight = Arc<Mutex<HashMap<String, AbortHandle>>>;

struct Chan {
    /// The least role that may hold it (raised by the handler for protected objects).
    required: super::outbox::ChannelSink,
    task: AbortHandle,
    /// Where the client's input goes, for kinds that take it.
    input: Option<mpsc::Sender<Input>>,
}

/// Input items a channel may have waiting; stdin beyond that waits for the producer.
const INPUT_QUEUE: usize = 256;
/// How long a reader waits for a producer to take input before giving up on the
/// channel (a process that never reads its stdin must not stall the connection).
const INPUT_WAIT: Duration = Duration::from_secs(5);

struct Conn {
    state: Arc<AppState>,
    peer: SocketAddr,
    out: Arc<Outbox>,
    auth: Option<(Principal, String)>,
    upgrade: Option<UpgradeAuth>,
    identity_gen: u64,
    chans: HashMap<u32, Chan>,
    max_ch: u32,
    inflight: Inflight,
    /// Request tasks not yet done (answered or cancelled), and a wake-up when one is
    /// (see [`Conn::settle`]).
    running: Arc<(std::sync::atomic::AtomicUsize, tokio::sync::Notify)>,
}

/// How long a connection whose credential was revoked waits for the requests already
/// in flight (authorised before the revocation — among them, often, the very call that
/// revoked it) to be answered before it closes.
const SETTLE: Duration = Duration::from_secs(2);

enum Flow {
    Continue,
    Stop,
}

/// How the read loop ended: with the socket still readable, or not.
#[derive(Debug, PartialEq, Eq)]
enum Ended {
    Open,
    Gone,
}

pub async fn run(socket: WebSocket, state: Arc<AppState>, peer: SocketAddr, upgrade: UpgradeAuth) {
    let settings = state.ws;
    let _live = Live::enter(&state.websockets);
    let (sink, mut stream) = socket.split();
    let out = Outbox::new();
    let dead = Arc::new(tokio::sync::Notify::new());
    let writer = tokio::spawn(write_loop(
        sink,
        Arc::clone(&out),
        settings.write_timeout,
        Arc::clone(&dead),
    ));
    let mut conn = Conn {
        identity_gen: state.engine.store.identity_generation(),
        state,
        peer,
        out: Arc::clone(&out),
        auth: None,
        upgrade: Some(upgrade),
        chans: HashMap::new(),
        max_ch: 0,
        inflight: Arc::new(Mutex::new(HashMap::new())),
        running: Arc::new((
            std::sync::atomic::AtomicUsize::new(0),
            tokio::sync::Notify::new(),
        )),
    };
    let ended = conn.read_loop(&mut stream, settings, &dead).await;
    // Whatever ended the loop, nothing of this connection outlives it.
    for (_, c) in conn.chans.drain() {
        c.task.abort();
    }
    for (_, t) in conn
        .inflight
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .drain()
    {
        t.abort();
    }
    if !out.is_closing() {
        out.close(1000, "");
    }
    // Keep reading (and discarding) until the peer answers our close frame: closing a
    // socket with unread input makes the kernel send a reset, which can destroy the
    // close frame (and its code) before the client reads it.
    let drain = async {
        if ended == Ended::Open {
            while let Some(Ok(m)) = stream.next().await {
                if matches!(m, Message::Close(_)) {
                    break;
                }
            }
        }
    };
    let _ = timeout(CLOSE_GRACE + settings.write_timeout, async {
        tokio::join!(writer, drain)
    })
    .await;
    out.finish();
}

async fn write_loop(
    mut sink: SplitSink<WebSocket, Message>,
    out: Arc<Outbox>,
    deadline: Duration,
    dead: Arc<tokio::sync::Notify>,
) {
    while let Some(first) = out.next().await {
        // Write what is ready in one go and flush once: fewer syscalls under load, the
        // same single write when idle.
        let write = async {
            let mut msg = first;
            let mut batch = 0usize;
            loop {
                let last = matches!(msg, Message::Close(_));
                batch += message_len(&msg);
                sink.feed(msg).await?;
                if last {
                    sink.flush().await?;
                    return Ok::<bool, axum::Error>(true);
                }
                match (batch < WRITE_BATCH).then(|| out.ready()).flatten() {
                    Some(m) => msg = m,
                    None => break,
                }
            }
            sink.flush().await?;
            Ok(false)
        };
        match timeout(deadline, write).await {
            Ok(Ok(true)) => break,
            Ok(Ok(false)) => {}
            Ok(Err(_)) => break,
            Err(_) => {
                tracing::warn!(
                    deadline_ms = deadline.as_millis() as u64,
                    "slow_consumer: socket writes stalled; closing the connection with 4008"
                );
                let frame = CloseFrame {
                    code: close::SLOW_CONSUMER,
                    reason: "slow_consumer".into(),
                };
                let _ = timeout(CLOSE_GRACE, sink.send(Message::Close(Some(frame)))).await;
                break;
            }
        }
    }
    out.finish();
    dead.notify_one();
    let _ = timeout(Duration::from_secs(1), sink.close()).await;
}

fn message_len(m: &Message) -> usize {
    match m {
        Message::Text(t) => t.len(),
        Message::Binary(b) => b.len(),
        _ => 16,
    }
}

/// A request task in [`Conn::running`]; counts itself out when it ends.
struct Running(Arc<(std::sync::atomic::AtomicUsize, tokio::sync::Notify)>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.0.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
        self.0.1.notify_waiters();
    }
}

/// Counts a connection as open for as long as it lives.
struct Live(tokio::sync::watch::Sender<usize>);

impl Live {
    fn enter(count: &tokio::sync::watch::Sender<usize>) -> Self {
        count.send_modify(|n| *n += 1);
        Self(count.clone())
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// Resolves when the server starts shutting down (true) or can no longer tell (false).
pub async fn shutting_down(rx: &mut tokio::sync::watch::Receiver<bool>) -> bool {
    rx.wait_for(|s| *s).await.is_ok()
}

fn message_too_big(e: &axum::Error) -> bool {
    use tokio_tungstenite::tungstenite::Error as WsError;
    let mut src: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = src {
        if let Some(WsError::Capacity(_)) = s.downcast_ref::<WsError>() {
            return true;
        }
        src = s.source();
    }
    false
}

impl Conn {
    async fn read_loop(
        &mut self,
        stream: &mut SplitStream<WebSocket>,
        settings: WsSettings,
        dead: &tokio::sync::Notify,
    ) -> Ended {
        let mut shutdown = self.state.shutdown.subscribe();
        let hello_deadline = Instant::now() + HELLO_TIMEOUT;
        let mut heartbeat =
            tokio::time::interval_at(Instant::now() + settings.heartbeat, settings.heartbeat);
        let mut last_seen = Instant::now();
        let mut identity = self.state.engine.store.watch_identity();
        loop {
            let expiry = self.expiry();
            tokio::select! {
                biased;
                () = dead.notified() => return Ended::Open,
                // Before any further frame is read: a revoked or demoted caller loses
                // what it may no longer hold at once, even while it sends nothing.
                changed = identity.changed(), if self.auth.is_some() => {
                    if changed.is_err() {
                        return Ended::Open;
                    }
                    if let Flow::Stop = self.refresh(None).await {
                        return Ended::Open;
                    }
                }
                // A session that expires ends its connection then, not at the next frame.
                () = tokio::time::sleep_until(expiry.unwrap_or_else(Instant::now)), if expiry.is_some() => {
                    if let Flow::Stop = self.refresh(None).await {
                        return Ended::Open;
                    }
                }
                stopping = shutting_down(&mut shutdown) => {
                    if stopping {
                        self.out.priority(&ServerMsg::Bye {
                            code: "shutting_down".to_owned(),
                            reconnect_after_ms: 2000,
                        });
                        self.out.close(close::GOING_AWAY, "shutting down");
                    }
                    return Ended::Open;
                }
                () = tokio::time::sleep_until(hello_deadline), if self.auth.is_none() => {
                    self.fatal(None, ErrorCode::HelloTimeout, "no hello within 5 s", close::HELLO_TIMEOUT);
                    return Ended::Open;
                }
                _ = heartbeat.tick() => {
                    if last_seen.elapsed() > settings.heartbeat * 2 {
                        tracing::info!(client = %self.peer, "missed two heartbeats; dropping the connection");
                        self.out.close(1011, "heartbeat timeout");
                        return Ended::Open;
                    }
                    self.out.priority_raw(Message::Ping(bytes::Bytes::new()));
                }
                msg = stream.next() => {
                    let msg = match msg {
                        None => return Ended::Gone,
                        Some(Ok(m)) => m,
                        Some(Err(e)) => {
                            if message_too_big(&e) {
                                self.out.close(close::MESSAGE_TOO_BIG, "message too big");
                                return Ended::Open;
                            }
                            return Ended::Gone;
                        }
                    };
                    last_seen = Instant::now();
                    let peer_closed = matches!(msg, Message::Close(_));
                    if let Flow::Stop = self.on_message(msg).await {
                        return if peer_closed { Ended::Gone } else { Ended::Open };
                    }
                }
            }
        }
    }

    /// Sends an error and closes the connection with `code`.
    fn fatal(&self, id: Option<String>, err: ErrorCode, message: &str, code: u16) {
        self.out.priority(&ServerMsg::Err {
            id,
            error: ErrorBody::new(err, message),
        });
        self.out.close(code, &code_reason(err));
    }

    fn reply_err(&self, id: Option<String>, error: ErrorBody) -> Flow {
        if self.out.priority(&ServerMsg::Err { id, error }) {
            Flow::Continue
        } else {
            self.out.close(close::SLOW_CONSUMER, "slow_consumer");
            Flow::Stop
        }
    }

    async fn on_message(&mut self, msg: Message) -> Flow {
        match msg {
            Message::Text(text) => match decode_client(text.as_str()) {
                Ok(m) => self.on_client(m).await,
                Err(DecodeError::Malformed(why)) => {
                    self.fatal(None, ErrorCode::ProtocolError, &why, close::PROTOCOL_ERROR);
                    Flow::Stop
                }
                Err(DecodeError::UnknownType { t, id }) => self.reply_err(
                    id,
                    ErrorBody::new(
                        ErrorCode::Unsupported,
                        format!("unknown message type {t:?}"),
                    ),
                ),
                Err(DecodeError::BadFields { t, id, reason }) => self.reply_err(
                    id,
                    ErrorBody::new(ErrorCode::BadRequest, format!("bad {t} message: {reason}")),
                ),
            },
            Message::Binary(bytes) => match DataFrame::decode(&bytes) {
                Err(e) => {
                    self.fatal(
                        None,
                        ErrorCode::ProtocolError,
                        &e.to_string(),
                        close::PROTOCOL_ERROR,
                    );
                    Flow::Stop
                }
                Ok(f) if f.stream == Stream::Stdin => {
                    if self.auth.is_some() && matches!(self.refresh(None).await, Flow::Stop) {
                        return Flow::Stop;
                    }
                    let data = bytes.slice(berth_protocol::frame::HEADER_LEN..);
                    self.input(f.ch, Input::Data(data)).await
                }
                Ok(f) => self.reply_err(
                    None,
                    ErrorBody::new(
                        ErrorCode::BadRequest,
                        format!("channel {}: clients send only stream 0 (stdin)", f.ch),
                    ),
                ),
            },
            Message::Close(_) => Flow::Stop,
            Message::Ping(_) | Message::Pong(_) => Flow::Continue,
        }
    }

    async fn on_client(&mut self, msg: ClientMsg) -> Flow {
        match msg {
            ClientMsg::Ping { ts } => {
                if self.out.priority(&ServerMsg::Pong { ts }) {
                    Flow::Continue
                } else {
                    self.out.close(close::SLOW_CONSUMER, "slow_consumer");
                    Flow::Stop
                }
            }
            ClientMsg::Hello { client, token, .. } => self.hello(client, token).await,
            _ if self.auth.is_none() => {
                let unauth = ErrorBody::new(ErrorCode::Unauthenticated, "send hello first");
                match msg {
                    ClientMsg::Req { id, .. } => self.reply_err(Some(id), unauth),
                    ClientMsg::Open { ch, .. } => {
                        self.out.priority(&ServerMsg::Close {
                            ch,
                            p: None,
                            error: Some(unauth),
                        });
                        Flow::Continue
                    }
                    _ => self.reply_err(None, unauth),
                }
            }
            ClientMsg::Req { id, method, p } => self.request(id, method, p).await,
            // Every other frame of an authenticated connection is re-authorised too
            // (a comparison unless the identity records changed).
            _ if matches!(self.refresh(None).await, Flow::Stop) => Flow::Stop,
            ClientMsg::Cancel { id } => {
                let task = self
                    .inflight
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&id);
                if let Some(t) = task {
                    t.abort();
                    return self.reply_err(
                        Some(id),
                        ErrorBody::new(ErrorCode::Cancelled, "cancelled by the client"),
                    );
                }
                Flow::Continue
            }
            ClientMsg::Open {
                ch,
                kind,
                p,
                window,
            } => self.open(ch, kind, p, window).await,
            ClientMsg::Credit { ch, msgs, bytes } => {
                let n = u64::from(msgs.unwrap_or(0)) + u64::from(bytes.unwrap_or(0));
                self.out.credit(ch, n);
                Flow::Continue
            }
            ClientMsg::Close { ch } => {
                self.end_channel(ch, None);
                Flow::Continue
            }
            ClientMsg::Resize { ch, cols, rows } => {
                self.input(ch, Input::Resize { cols, rows }).await
            }
            ClientMsg::Eof { ch } => self.input(ch, Input::Eof).await,
        }
    }

    /// Hands input to a channel's producer. Input for a channel that is gone is dropped
    /// (it may have just ended); for one that takes none it is an error.
    async fn input(&mut self, ch: u32, input: Input) -> Flow {
        let Some(chan) = self.chans.get(&ch) else {
            return Flow::Continue;
        };
        let Some(tx) = chan.input.clone() else {
            return self.reply_err(
                None,
                ErrorBody::new(
                    ErrorCode::BadRequest,
                    format!("channel {ch} takes no input"),
                ),
            );
        };
        match tx.send_timeout(input, INPUT_WAIT).await {
            Ok(()) => {}
            Err(mpsc::error::SendTimeoutError::Closed(_)) => {}
            Err(mpsc::error::SendTimeoutError::Timeout(_)) => {
                self.end_channel(
                    ch,
                    Some(ErrorBody::new(
                        ErrorCode::Overflow,
                        format!(
                            "channel {ch}: the process did not read its input for {}s",
                            INPUT_WAIT.as_secs()
                        ),
                    )),
                );
            }
        }
        Flow::Continue
    }

    async fn hello(&mut self, client: Peer, token: Option<String>) -> Flow {
        if self.auth.is_some() {
            return self.reply_err(
                None,
                ErrorBody::new(ErrorCode::ProtocolError, "hello was already received"),
            );
        }
        let resolved = match (token, self.upgrade.take()) {
            (Some(secret), _) => {
                let st = Arc::clone(&self.state);
                let s = secret.clone();
                match tokio::task::spawn_blocking(move || st.engine.store.authenticate(&s)).await {
                    Ok(Ok(Some(p))) => Some((p, secret)),
                    Ok(Ok(None)) => None,
                    Ok(Err(e)) => {
                        self.reply_err(None, internal(&e));
                        None
                    }
                    Err(e) => {
                        self.reply_err(None, internal(&e));
                        None
                    }
                }
            }
            (None, Some(UpgradeAuth::Valid { principal, secret })) => Some((principal, secret)),
            (None, _) => None,
        };
        let Some((principal, secret)) = resolved else {
            self.fatal(
                None,
                ErrorCode::Unauthenticated,
                "no valid credentials: log in, or send an API token",
                close::UNAUTHENTICATED,
            );
            return Flow::Stop;
        };
        let mut sid = [0u8; 8];
        getrandom::fill(&mut sid).expect("the OS random source works");
        tracing::info!(
            user = principal.user,
            role = principal.role.as_str(),
            client = %self.peer,
            app = client.name,
            "websocket connected"
        );
        self.out.priority(&ServerMsg::Welcome {
            protocol: PROTOCOL_VERSION,
            server: Peer {
                name: "berth".to_owned(),
                version: crate::VERSION.to_owned(),
            },
            session: hex::encode(sid),
            user: WelcomeUser {
                name: principal.user.clone(),
                role: principal.role,
            },
            features: vec![
                "cancel".to_owned(),
                "credit".to_owned(),
                "binary".to_owned(),
            ],
            heartbeat_ms: self.state.ws.heartbeat.as_millis() as u32,
            limits: LIMITS,
        });
        self.auth = Some((principal, secret));
        Flow::Continue
    }

    /// When the connection's credential expires, if it does.
    fn expiry(&self) -> Option<Instant> {
        let (principal, _) = self.auth.as_ref()?;
        let until_ms = match &principal.via {
            Via::Session { expires_ms, .. } => Some(*expires_ms),
            Via::Token { expires_ms, .. } => *expires_ms,
        }?;
        // Capped: a far expiry is re-checked then (Instant arithmetic must not overflow).
        let left = until_ms
            .saturating_sub(berth_identity::users::now_ms())
            .min(30 * 86_400_000);
        Some(Instant::now() + Duration::from_millis(left))
    }

    /// Re-checks the credential when identity records changed (or it expired); closes
    /// with 4401 when it no longer holds — after an `err` carrying `id`, the request
    /// that found out, if one did — and closes channels a demoted user may no longer
    /// hold.
    async fn refresh(&mut self, id: Option<String>) -> Flow {
        let Some((principal, secret)) = &self.auth else {
            return Flow::Stop;
        };
        let now = berth_identity::users::now_ms();
        let expired = match &principal.via {
            Via::Session { expires_ms, .. } => now >= *expires_ms,
            Via::Token { expires_ms, .. } => expires_ms.is_some_and(|e| now >= e),
        };
        let current_gen = self.state.engine.store.identity_generation();
        if !expired && current_gen == self.identity_gen {
            return Flow::Continue;
        }
        let st = Arc::clone(&self.state);
        let s = secret.clone();
        let fresh = tokio::task::spawn_blocking(move || st.engine.store.authenticate(&s)).await;
        let fresh = match fresh {
            Ok(Ok(p)) => p.filter(|_| !expired),
            Ok(Err(e)) => {
                self.reply_err(None, internal(&e));
                return Flow::Continue;
            }
            Err(e) => {
                self.reply_err(None, internal(&e));
                return Flow::Continue;
            }
        };
        self.identity_gen = current_gen;
        let Some(fresh) = fresh else {
            tracing::info!(
                user = principal.user,
                "credential revoked or expired; closing the connection"
            );
            // Channels end at once (an open terminal stops taking input now); requests
            // already in flight get their answers, then the connection closes.
            let open: Vec<u32> = self.chans.keys().copied().collect();
            for ch in open {
                self.end_channel(
                    ch,
                    Some(ErrorBody::new(
                        ErrorCode::Unauthenticated,
                        "your session or token was revoked or has expired",
                    )),
                );
            }
            self.settle().await;
            self.fatal(
                id,
                ErrorCode::Unauthenticated,
                "your session or token was revoked or has expired",
                close::UNAUTHENTICATED,
            );
            return Flow::Stop;
        };
        if fresh.role < principal.role || fresh.must_change_password {
            let lost: Vec<u32> = self
                .chans
                .iter()
                .filter(|(_, c)| {
                    !fresh.role.allows(c.required.required()) || fresh.must_change_password
                })
                .map(|(ch, _)| *ch)
                .collect();
            for ch in lost {
                self.end_channel(
                    ch,
                    Some(ErrorBody::new(
                        ErrorCode::Forbidden,
                        "your role changed; this channel needs a higher one",
                    )),
                );
            }
        }
        if let Some(a) = self.auth.as_mut() {
            a.0 = fresh;
        }
        Flow::Continue
    }

    /// Waits (at most [`SETTLE`]) until every request in flight has been answered.
    async fn settle(&self) {
        let deadline = Instant::now() + SETTLE;
        let (count, done) = &*self.running;
        loop {
            let answered = done.notified();
            tokio::pin!(answered);
            answered.as_mut().enable();
            if count.load(std::sync::atomic::Ordering::Acquire) == 0 {
                return;
            }
            tokio::select! {
                () = answered => {}
                () = tokio::time::sleep_until(deadline) => return,
            }
        }
    }

    /// Stops a channel's producer and tells the client the channel is closed.
    fn end_channel(&mut self, ch: u32, error: Option<ErrorBody>) {
        if let Some(c) = self.chans.remove(&ch) {
            c.task.abort();
            self.out
                .close_channel(ch, Some(ServerMsg::Close { ch, p: None, error }));
        }
    }

    fn call(&self) -> Call {
        Call {
            state: Arc::clone(&self.state),
            principal: self.auth.as_ref().expect("authenticated").0.clone(),
            client: self.peer,
        }
    }

    async fn request(&mut self, id: String, method: String, p: serde_json::Value) -> Flow {
        if id.is_empty() || id.len() > MAX_ID_LEN {
            return self.reply_err(
                Some(id.chars().take(MAX_ID_LEN).collect()),
                super::registry::bad_field("id", format!("request ids are 1–{MAX_ID_LEN} bytes")),
            );
        }
        if let Flow::Stop = self.refresh(Some(id.clone())).await {
            return Flow::Stop;
        }
        let mut inflight = self.inflight.lock().unwrap_or_else(|e| e.into_inner());
        inflight.retain(|_, t| !t.is_finished());
        if inflight.contains_key(&id) {
            drop(inflight);
            return self.reply_err(
                Some(id),
                super::registry::bad_field("id", "a request with this id is still in flight"),
            );
        }
        if inflight.len() >= MAX_IN_FLIGHT {
            drop(inflight);
            return self.reply_err(
                Some(id),
                ErrorBody::new(
                    ErrorCode::RateLimited,
                    format!("at most {MAX_IN_FLIGHT} requests in flight per connection"),
                ),
            );
        }
        let call = self.call();
        let out = Arc::clone(&self.out);
        let map = Arc::clone(&self.inflight);
        self.running
            .0
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        // Counted down however the task ends (answered, or aborted by a cancel — even
        // before it first runs, as the future that owns it is dropped then).
        let done = Running(Arc::clone(&self.running));
        let rid = id.clone();
        // The task is registered before it can finish: it waits for this lock.
        let task = tokio::spawn(async move {
            let _done = done;
            let registry = Arc::clone(&call.state.registry);
            let result = registry.call(call, &method, p).await;
            // Exactly one answer: whoever removes the id (this task or a cancel) replies.
            let mine = map
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&rid)
                .is_some();
            if mine {
                let msg = match result {
                    Ok(p) => ServerMsg::Res { id: rid, p },
                    Err(error) => ServerMsg::Err {
                        id: Some(rid),
                        error,
                    },
                };
                if !out.priority(&msg) {
                    out.close(close::SLOW_CONSUMER, "slow_consumer");
                }
            }
        });
        inflight.insert(id, task.abort_handle());
        Flow::Continue
    }

    async fn open(
        &mut self,
        ch: u32,
        kind: String,
        p: serde_json::Value,
        window: Option<Window>,
    ) -> Flow {
        if ch == 0 || ch <= self.max_ch {
            self.fatal(
                None,
                ErrorCode::DuplicateChannel,
                &format!("channel id {ch} is in use or was used before; ids increase from 1"),
                close::DUPLICATE_CHANNEL,
            );
            return Flow::Stop;
        }
        self.max_ch = ch;
        if let Flow::Stop = self.refresh(None).await {
            return Flow::Stop;
        }
        let closed = |error: ErrorBody| ServerMsg::Close {
            ch,
            p: None,
            error: Some(error),
        };
        self.chans.retain(|_, c| !c.task.is_finished());
        if self.chans.len() >= LIMITS.max_channels as usize {
            self.out.priority(&closed(ErrorBody::new(
                ErrorCode::TooManyChannels,
                format!(
                    "at most {} open channels per connection",
                    LIMITS.max_channels
                ),
            )));
            return Flow::Continue;
        }
        let registry = Arc::clone(&self.state.registry);
        let Some(info) = registry.channel_info(&kind) else {
            self.out.priority(&closed(ErrorBody::new(
                ErrorCode::Unsupported,
                format!("unknown channel kind {kind:?}"),
            )));
            return Flow::Continue;
        };
        let (unit, size) = window_of(&info, window.unwrap_or_default());
        let cap = queue_capacity(&info);
        let (input_tx, input_rx) = if info.input {
            let (tx, rx) = mpsc::channel(INPUT_QUEUE);
            (Some(tx), Some(rx))
        } else {
            (None, None)
        };
        let sink = self
            .out
            .open_channel(ch, unit, u64::from(size), cap, input_rx);
        sink.require(info.role);
        let required = sink.clone();
        let producer = match registry.open(self.call(), &kind, p, sink) {
            Ok(f) => f,
            Err(error) => {
                self.out.close_channel(ch, Some(closed(error)));
                return Flow::Continue;
            }
        };
        self.out.opened(
            ch,
            &ServerMsg::Opened {
                ch,
                p: serde_json::json!({}),
                window: granted(unit, size),
            },
        );
        let task = tokio::spawn(producer);
        self.chans.insert(
            ch,
            Chan {
                required,
                task: task.abort_handle(),
                input: input_tx,
            },
        );
        Flow::Continue
    }
}

/// The credit unit of a channel kind and the window granted (what the client asked,
/// or the default, within the limit).
fn window_of(info: &ChannelInfo, asked: Window) -> (Unit, u32) {
    if info.binary {
        let size = asked.bytes.unwrap_or(DEFAULT_WINDOW_BYTES);
        (Unit::Bytes, size.min(LIMITS.max_window_bytes))
    } else {
        let size = asked.msgs.unwrap_or(DEFAULT_WINDOW_MSGS);
        (Unit::Msgs, size.min(LIMITS.max_window_msgs))
    }
}

/// How many items a channel's queue holds before its overflow policy applies.
fn queue_capacity(info: &ChannelInfo) -> usize {
    match info.overflow {
        Overflow::LatestValue => 1,
        Overflow::Bounded => 1024,
        // Binary items are ≤ 32 KiB chunks: 16 of them keep the writer fed while the
        // producer refills, at most 512 KiB queued per channel.
        Overflow::Backpressure if info.binary => 16,
        Overflow::Backpressure => 8,
    }
}

/// The window as the `opened` message states it.
fn granted(unit: Unit, size: u32) -> Window {
    match unit {
        Unit::Msgs => Window {
            msgs: Some(size),
            bytes: None,
        },
        Unit::Bytes => Window {
            msgs: None,
            bytes: Some(size),
        },
    }
}

fn code_reason(code: ErrorCode) -> String {
    super::registry::code_str(code)
}
