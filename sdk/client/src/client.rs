//! The connection: one reader task routing answers and channel data, one writer task.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use berth_protocol::api::catalogue::{ChannelKind, Method};
use berth_protocol::error::ErrorBody;
use berth_protocol::frame::{DataFrame, Stream as FrameStream};
use berth_protocol::wire::{ClientMsg, Limits, Peer, SUBPROTOCOL, ServerMsg, WelcomeUser, Window};
use bytes::Bytes;
use futures_util::{SinkExt, Stream, StreamExt};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use crate::ClientError;

/// How to connect.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// `http://host:port` (or `ws://…`); the path `/api/v1/ws` is appended.
    pub url: String,
    /// An API token (`berth_…`) or a session token.
    pub token: Option<String>,
    /// Send the token in `hello` instead of an `Authorization` header.
    pub token_in_hello: bool,
    /// Extra headers, e.g. `Origin` and `Cookie` for browser-like clients.
    pub headers: Vec<(String, String)>,
    /// Subprotocols offered (default: `berth.v1`).
    pub subprotocols: Vec<String>,
    pub client_name: String,
    /// How long to wait for `welcome`.
    pub handshake_timeout: Duration,
}

impl ConnectOptions {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            token: None,
            token_in_hello: false,
            headers: vec![],
            subprotocols: vec![SUBPROTOCOL.to_owned()],
            client_name: "berth-client".to_owned(),
            handshake_timeout: Duration::from_secs(10),
        }
    }

    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }
}

#[derive(Debug)]
pub(crate) enum ChanEvent {
    Opened(Window),
    Data(Value),
    Binary(FrameStream, Bytes),
    Closed(Option<Value>, Option<ErrorBody>),
}

#[derive(Debug)]
struct Inner {
    out: mpsc::UnboundedSender<Message>,
    pending: Mutex<HashMap<String, oneshot::Sender<Result<Value, ClientError>>>>,
    chans: Mutex<HashMap<u32, mpsc::UnboundedSender<ChanEvent>>>,
    next_id: AtomicU64,
    next_ch: AtomicU32,
    user: WelcomeUser,
    session: String,
    limits: Limits,
    closed: watch::Sender<Option<(u16, String)>>,
}

/// A connected client. Cheap to clone; the connection ends when the last clone and
/// every subscription are dropped (or the server closes it).
#[derive(Debug, Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn text(msg: &ClientMsg) -> Message {
    Message::Text(serde_json::to_string(msg).expect("serialisable").into())
}

/// The WebSocket's URL, and whether it is over TLS.
fn ws_url(url: &str) -> Result<(String, bool), ClientError> {
    let base = crate::http::split_base(url)?;
    let scheme = if base.tls { "wss" } else { "ws" };
    Ok((
        format!("{scheme}://{}{}/api/v1/ws", base.authority, base.prefix),
        base.tls,
    ))
}

impl Client {
    /// Connects with an API or session token in the `Authorization` header.
    pub async fn connect(url: &str, token: &str) -> Result<Self, ClientError> {
        Self::connect_with(ConnectOptions::new(url).token(token)).await
    }

    pub async fn connect_with(opts: ConnectOptions) -> Result<Self, ClientError> {
        let (url, tls) = ws_url(&opts.url)?;
        let mut req = url
            .into_client_request()
            .map_err(|e| ClientError::Connect(e.to_string()))?;
        let h = req.headers_mut();
        let header = |v: &str| {
            HeaderValue::from_str(v).map_err(|e| ClientError::Connect(format!("header value: {e}")))
        };
        if !opts.subprotocols.is_empty() {
            h.insert(
                "sec-websocket-protocol",
                header(&opts.subprotocols.join(", "))?,
            );
        }
        if let (Some(t), false) = (&opts.token, opts.token_in_hello) {
            h.insert("authorization", header(&format!("Bearer {t}"))?);
        }
        for (k, v) in &opts.headers {
            let name = tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(k.as_bytes())
                .map_err(|e| ClientError::Connect(format!("header name: {e}")))?;
            h.append(name, header(v)?);
        }
        let connector = if tls {
            tokio_tungstenite::Connector::Rustls(crate::tls::config()?)
        } else {
            tokio_tungstenite::Connector::Plain
        };
        let (mut ws, _) =
            tokio_tungstenite::connect_async_tls_with_config(req, None, false, Some(connector))
                .await
                .map_err(|e| match e {
                    tokio_tungstenite::tungstenite::Error::Http(resp) => {
                        let body = resp
                            .body()
                            .as_deref()
                            .map(|b| String::from_utf8_lossy(b).into_owned())
                            .unwrap_or_default();
                        ClientError::Connect(format!("HTTP {}: {body}", resp.status().as_u16()))
                    }
                    other => ClientError::Connect(other.to_string()),
                })?;
        let hello = ClientMsg::Hello {
            client: Peer {
                name: opts.client_name.clone(),
                version: berth_protocol::VERSION.to_owned(),
            },
            token: opts.token.clone().filter(|_| opts.token_in_hello),
            features: vec![],
        };
        ws.send(text(&hello))
            .await
            .map_err(|e| ClientError::Connect(e.to_string()))?;
        let welcome = tokio::time::timeout(opts.handshake_timeout, async {
            while let Some(msg) = ws.next().await {
                match msg.map_err(|e| ClientError::Connect(e.to_string()))? {
                    Message::Text(t) => match serde_json::from_str::<ServerMsg>(&t) {
                        Ok(ServerMsg::Welcome {
                            session,
                            user,
                            limits,
                            ..
                        }) => return Ok((session, user, limits)),
                        Ok(ServerMsg::Err { error, .. }) => return Err(ClientError::Server(error)),
                        Ok(_) => {}
                        Err(e) => return Err(ClientError::Protocol(e.to_string())),
                    },
                    Message::Close(f) => {
                        return Err(ClientError::Closed {
                            code: f.as_ref().map_or(1005, |f| f.code.into()),
                            reason: f.map(|f| f.reason.to_string()).unwrap_or_default(),
                        });
                    }
                    _ => {}
                }
            }
            Err(ClientError::Closed {
                code: 1006,
                reason: "closed before welcome".to_owned(),
            })
        })
        .await
        .map_err(|_| ClientError::Connect("no welcome from the server".to_owned()))??;

        let (mut sink, mut stream) = ws.split();
        let (out, mut out_rx) = mpsc::unbounded_channel::<Message>();
        let inner = Arc::new(Inner {
            out,
            pending: Mutex::new(HashMap::new()),
            chans: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            next_ch: AtomicU32::new(1),
            session: welcome.0,
            user: welcome.1,
            limits: welcome.2,
            closed: watch::Sender::new(None),
        });
        tokio::spawn(async move {
            while let Some(m) = out_rx.recv().await {
                if sink.send(m).await.is_err() {
                    break;
                }
            }
            let _ = sink.close().await;
        });
        // The reader holds only a weak reference: dropping every `Client` ends it.
        let weak = Arc::downgrade(&inner);
        let closed = inner.closed.clone();
        tokio::spawn(async move {
            let mut why = (1006u16, "connection lost".to_owned());
            while let Some(msg) = stream.next().await {
                let Some(inner) = weak.upgrade() else { return };
                match msg {
                    Ok(Message::Text(t)) => inner.route(&t),
                    Ok(Message::Binary(b)) => inner.route_binary(b),
                    Ok(Message::Close(f)) => {
                        if let Some(f) = f {
                            why = (f.code.into(), f.reason.to_string());
                        }
                        break;
                    }
                    Ok(_) => {}
                    Err(e) => {
                        why.1 = e.to_string();
                        break;
                    }
                }
            }
            if let Some(inner) = weak.upgrade() {
                inner.fail_all(&why);
                // Answer the server's close frame (or end ours): the writer owns the
                // sink, and a server waits for the answer before it lets go of the
                // connection.
                let _ = inner.out.send(Message::Close(None));
            }
            closed.send_replace(Some(why));
        });
        Ok(Self { inner })
    }

    /// Connects, retrying with jittered backoff ([`crate::backoff::Backoff`]) while the
    /// server is unreachable or restarting, for at most `give_up_after`. Credential and
    /// refusal errors (HTTP 4xx, close 4401) are returned at once: retrying cannot fix them.
    pub async fn connect_with_retry(
        opts: ConnectOptions,
        backoff: &mut crate::backoff::Backoff,
        give_up_after: Duration,
    ) -> Result<Self, ClientError> {
        let deadline = tokio::time::Instant::now() + give_up_after;
        loop {
            let err = match Self::connect_with(opts.clone()).await {
                Ok(c) => {
                    backoff.reset();
                    return Ok(c);
                }
                Err(e) => e,
            };
            let permanent = match &err {
                ClientError::Connect(m) => m.starts_with("HTTP 4"),
                ClientError::Closed { code, .. } => *code == 4401,
                ClientError::Server(b) => !b.retryable,
                ClientError::Protocol(_) => true,
            };
            let wait = backoff.next_delay();
            if permanent || tokio::time::Instant::now() + wait > deadline {
                return Err(err);
            }
            tokio::time::sleep(wait).await;
        }
    }

    /// The user and role the server welcomed this connection as.
    pub fn user(&self) -> &WelcomeUser {
        &self.inner.user
    }

    pub fn session(&self) -> &str {
        &self.inner.session
    }

    pub fn limits(&self) -> Limits {
        self.inner.limits
    }

    /// Resolves when the connection has closed, with the close code and reason.
    pub async fn closed(&self) -> (u16, String) {
        let mut rx = self.inner.closed.subscribe();
        loop {
            if let Some(why) = rx.borrow_and_update().clone() {
                return why;
            }
            if rx.changed().await.is_err() {
                return (1006, "connection lost".to_owned());
            }
        }
    }

    /// Sends any client message as is (for tools and tests).
    pub fn send_raw(&self, msg: &ClientMsg) -> Result<(), ClientError> {
        self.inner
            .out
            .send(text(msg))
            .map_err(|_| ClientError::Closed {
                code: 1006,
                reason: "connection lost".to_owned(),
            })
    }

    /// Calls a method by name with JSON params.
    pub async fn call_raw(&self, method: &str, p: Value) -> Result<Value, ClientError> {
        let id = self
            .inner
            .next_id
            .fetch_add(1, Ordering::Relaxed)
            .to_string();
        let (tx, rx) = oneshot::channel();
        lock(&self.inner.pending).insert(id.clone(), tx);
        if let Some(why) = self.inner.closed.borrow().clone() {
            lock(&self.inner.pending).remove(&id);
            return Err(ClientError::Closed {
                code: why.0,
                reason: why.1,
            });
        }
        self.send_raw(&ClientMsg::Req {
            id: id.clone(),
            method: method.to_owned(),
            p,
        })?;
        // If this future is dropped, ask the server to stop the work too.
        let guard = CancelOnDrop {
            client: self,
            id: Some(id),
        };
        let r = rx.await.unwrap_or(Err(ClientError::Closed {
            code: 1006,
            reason: "connection lost".to_owned(),
        }));
        guard.disarm();
        r
    }

    /// Calls a method of the catalogue with typed params and result.
    pub async fn call<M: Method>(&self, p: M::Params) -> Result<M::Result, ClientError> {
        let p = serde_json::to_value(p).expect("params serialise");
        let v = self.call_raw(M::NAME, p).await?;
        serde_json::from_value(v).map_err(|e| ClientError::Protocol(format!("{}: {e}", M::NAME)))
    }

    /// Opens a JSON channel by kind name; `window` is in messages (default: the
    /// server's).
    pub async fn open_raw(
        &self,
        kind: &str,
        p: Value,
        window: Option<u32>,
    ) -> Result<Subscription<Value>, ClientError> {
        self.open_json(kind, p, window).await
    }

    /// Opens a channel of the catalogue; data items are typed.
    pub async fn open<K: ChannelKind>(
        &self,
        p: K::Params,
    ) -> Result<Subscription<K::Data>, ClientError> {
        let p = serde_json::to_value(p).expect("params serialise");
        self.open_json(K::NAME, p, None).await
    }

    async fn open_json<T>(
        &self,
        kind: &str,
        p: Value,
        window: Option<u32>,
    ) -> Result<Subscription<T>, ClientError> {
        let (ch, rx, granted) = self
            .open_inner(
                kind,
                p,
                Window {
                    msgs: window,
                    bytes: None,
                },
            )
            .await?;
        Ok(Subscription {
            client: self.clone(),
            ch,
            rx,
            window: granted.msgs.unwrap_or(1).max(1),
            consumed: 0,
            close_payload: None,
            done: false,
            _t: std::marker::PhantomData,
        })
    }

    /// Opens a binary channel (terminal, logs); `window` is in bytes.
    pub async fn open_binary(
        &self,
        kind: &str,
        p: Value,
        window: Option<u32>,
    ) -> Result<crate::BinaryChannel, ClientError> {
        let (ch, rx, granted) = self
            .open_inner(
                kind,
                p,
                Window {
                    msgs: None,
                    bytes: window,
                },
            )
            .await?;
        Ok(crate::binary::BinaryChannel::new(
            self.clone(),
            ch,
            rx,
            granted.bytes.unwrap_or(1).max(1),
        ))
    }

    async fn open_inner(
        &self,
        kind: &str,
        p: Value,
        window: Window,
    ) -> Result<(u32, mpsc::UnboundedReceiver<ChanEvent>, Window), ClientError> {
        let ch = self.inner.next_ch.fetch_add(1, Ordering::Relaxed);
        let (tx, mut rx) = mpsc::unbounded_channel();
        lock(&self.inner.chans).insert(ch, tx);
        self.send_raw(&ClientMsg::Open {
            ch,
            kind: kind.to_owned(),
            p,
            window: Some(window),
        })?;
        match rx.recv().await {
            Some(ChanEvent::Opened(w)) => Ok((ch, rx, w)),
            Some(ChanEvent::Closed(_, Some(e))) => Err(ClientError::Server(e)),
            Some(_) => Err(ClientError::Protocol(format!(
                "channel {ch}: data before opened"
            ))),
            None => Err(ClientError::Closed {
                code: 1006,
                reason: "connection lost".to_owned(),
            }),
        }
    }

    pub(crate) fn credit(&self, ch: u32, msgs: Option<u32>, bytes: Option<u32>) {
        let _ = self.send_raw(&ClientMsg::Credit { ch, msgs, bytes });
    }

    pub(crate) fn close_channel(&self, ch: u32) {
        lock(&self.inner.chans).remove(&ch);
        let _ = self.send_raw(&ClientMsg::Close { ch });
    }

    pub(crate) fn send_binary(&self, frame: Vec<u8>) -> Result<(), ClientError> {
        self.inner
            .out
            .send(Message::Binary(frame.into()))
            .map_err(|_| ClientError::Closed {
                code: 1006,
                reason: "connection lost".to_owned(),
            })
    }
}

struct CancelOnDrop<'a> {
    client: &'a Client,
    id: Option<String>,
}

impl CancelOnDrop<'_> {
    fn disarm(mut self) {
        self.id = None;
    }
}

impl Drop for CancelOnDrop<'_> {
    fn drop(&mut self) {
        if let Some(id) = self.id.take()
            && lock(&self.client.inner.pending).remove(&id).is_some()
        {
            let _ = self.client.send_raw(&ClientMsg::Cancel { id });
        }
    }
}

impl Inner {
    fn route(&self, t: &str) {
        let Ok(msg) = serde_json::from_str::<ServerMsg>(t) else {
            return;
        };
        match msg {
            ServerMsg::Res { id, p } => {
                if let Some(tx) = lock(&self.pending).remove(&id) {
                    let _ = tx.send(Ok(p));
                }
            }
            ServerMsg::Err {
                id: Some(id),
                error,
            } => {
                if let Some(tx) = lock(&self.pending).remove(&id) {
                    let _ = tx.send(Err(ClientError::Server(error)));
                }
            }
            ServerMsg::Opened { ch, window, .. } => {
                self.to_chan(ch, ChanEvent::Opened(window), false)
            }
            ServerMsg::Data { ch, p, .. } => self.to_chan(ch, ChanEvent::Data(p), false),
            ServerMsg::Close { ch, p, error } => {
                self.to_chan(ch, ChanEvent::Closed(p, error), true)
            }
            _ => {}
        }
    }

    fn route_binary(&self, b: Bytes) {
        if let Ok(f) = DataFrame::decode(&b) {
            let payload = b.slice(berth_protocol::frame::HEADER_LEN..);
            self.to_chan(f.ch, ChanEvent::Binary(f.stream, payload), false);
        }
    }

    fn to_chan(&self, ch: u32, ev: ChanEvent, last: bool) {
        let mut chans = lock(&self.chans);
        let tx = if last {
            chans.remove(&ch)
        } else {
            chans.get(&ch).cloned()
        };
        if let Some(tx) = tx {
            let _ = tx.send(ev);
        }
    }

    fn fail_all(&self, why: &(u16, String)) {
        for (_, tx) in lock(&self.pending).drain() {
            let _ = tx.send(Err(ClientError::Closed {
                code: why.0,
                reason: why.1.clone(),
            }));
        }
        for (_, tx) in lock(&self.chans).drain() {
            let _ = tx.send(ChanEvent::Closed(
                None,
                Some(ErrorBody::new(
                    berth_protocol::error::ErrorCode::Unavailable,
                    format!("connection closed ({})", why.0),
                )),
            ));
        }
    }
}

/// The data of one channel, as a `Stream`. Credit goes back to the server as items are
/// taken, half a window at a time. Dropping it closes the channel.
#[derive(Debug)]
pub struct Subscription<T> {
    client: Client,
    ch: u32,
    rx: mpsc::UnboundedReceiver<ChanEvent>,
    window: u32,
    consumed: u32,
    close_payload: Option<Value>,
    done: bool,
    _t: std::marker::PhantomData<fn() -> T>,
}

impl<T> Subscription<T> {
    pub fn id(&self) -> u32 {
        self.ch
    }

    /// The `p` of the server's `close`, once the stream has ended.
    pub fn close_payload(&self) -> Option<&Value> {
        self.close_payload.as_ref()
    }
}

impl<T: serde::de::DeserializeOwned> Stream for Subscription<T> {
    type Item = Result<T, ClientError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        loop {
            let ev = match self.rx.poll_recv(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(ev) => ev,
            };
            match ev {
                Some(ChanEvent::Data(p)) => {
                    self.consumed += 1;
                    if self.consumed >= (self.window / 2).max(1) {
                        let n = std::mem::take(&mut self.consumed);
                        self.client.credit(self.ch, Some(n), None);
                    }
                    return Poll::Ready(Some(
                        serde_json::from_value(p).map_err(|e| ClientError::Protocol(e.to_string())),
                    ));
                }
                Some(ChanEvent::Closed(p, err)) => {
                    self.done = true;
                    self.close_payload = p;
                    return Poll::Ready(err.map(|e| Err(ClientError::Server(e))));
                }
                Some(ChanEvent::Opened(_) | ChanEvent::Binary(..)) => {}
                None => {
                    self.done = true;
                    return Poll::Ready(None);
                }
            }
        }
    }
}

impl<T> Drop for Subscription<T> {
    fn drop(&mut self) {
        if !self.done {
            self.client.close_channel(self.ch);
        }
    }
}
