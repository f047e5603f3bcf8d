//! The UI's protocol client: one WebSocket to `/api/v1/ws`, shared by every page.
//!
//! The browser sends the `berth_session` cookie with the upgrade (same origin), so
//! `hello` carries no token. The client reconnects with jittered exponential backoff
//! (full jitter, 0.5 s doubling to 30 s), re-opens the channels pages subscribed to,
//! and fails requests fast while disconnected so pages can say so. A 4401 close means
//! "not logged in": no reconnect until the login page succeeds.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::{Rc, Weak};

use berth_protocol::error::{ErrorBody, ErrorCode, close};
use berth_protocol::wire::{ClientMsg, Peer, ServerMsg, WelcomeUser, Window};
use futures_channel::oneshot;
use serde_json::Value;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use yew::prelude::*;

/// What the connection is doing.
#[derive(Debug, Clone, PartialEq)]
pub enum WsState {
    Connecting,
    Open(WelcomeUser),
    /// Lost; retrying after a delay.
    Down(String),
    /// The server said 4401: log in first.
    LoggedOut,
}

/// An event handler kept alive while its socket is open.
type Handler = Closure<dyn FnMut(Event)>;

/// A response's result as it came, parsed only once its caller's type is known.
type Raw = Box<serde_json::value::RawValue>;

type Pending = HashMap<String, oneshot::Sender<Result<Raw, ErrorBody>>>;

/// A response, read without building its result. Decoding a message as a
/// `ServerMsg` (an internally tagged enum) buffers the whole of it, then builds a
/// `Value`, then the caller's type: three passes over a 500-container list on the
/// main thread. A result is parsed once, straight into the type the caller wants.
#[derive(serde::Deserialize)]
struct Response<'a> {
    t: &'a str,
    id: Option<String>,
    #[serde(borrow)]
    p: Option<&'a serde_json::value::RawValue>,
}

impl Response<'_> {
    /// `Some((id, result))` when the message is a `res` with both.
    fn result(text: &str) -> Option<(String, Raw)> {
        let r: Response<'_> = serde_json::from_str(text).ok()?;
        (r.t == "res").then_some(())?;
        Some((r.id?, r.p?.to_owned()))
    }
}

/// How a channel ended: the server's error, if any, and its `close` payload (an
/// exec's `exit_code`, an `events` cursor).
#[derive(Debug, Clone, PartialEq)]
pub struct Closed {
    pub error: Option<ErrorBody>,
    pub p: Option<Value>,
}

/// What a subscription receives.
enum Feed {
    /// JSON channels: one value per `data`; re-opened after a reconnect.
    Json(Callback<Value>),
    /// Binary channels (logs, terminals): payloads by stream. Never re-opened after a
    /// reconnect — a log would repeat and a shell would be a new one — they end with
    /// `unavailable` instead and the page offers to start again.
    Binary(Callback<(u8, Vec<u8>)>),
}

struct Sub {
    kind: String,
    params: Value,
    window: u32,
    feed: Feed,
    on_close: Callback<Closed>,
    ch: Option<u32>,
}

struct Inner {
    state: RefCell<WsState>,
    on_state: RefCell<Callback<WsState>>,
    socket: RefCell<Option<web_sys::WebSocket>>,
    pending: RefCell<Pending>,
    subs: RefCell<HashMap<u64, Sub>>,
    by_ch: RefCell<HashMap<u32, u64>>,
    next_id: Cell<u64>,
    next_ch: Cell<u32>,
    next_sub: Cell<u64>,
    attempt: Cell<u32>,
    // Keeps the socket's event handlers alive while it is open.
    handlers: RefCell<Vec<Handler>>,
}

/// A cheap handle on the shared client.
#[derive(Clone)]
pub struct Ws(Rc<Inner>);

impl PartialEq for Ws {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}

impl std::fmt::Debug for Ws {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ws")
            .field("state", &*self.0.state.borrow())
            .finish()
    }
}

fn not_connected() -> ErrorBody {
    ErrorBody::new(
        ErrorCode::Unavailable,
        "not connected to the server; retrying",
    )
}

impl Ws {
    fn new() -> Self {
        Self(Rc::new(Inner {
            state: RefCell::new(WsState::Connecting),
            on_state: RefCell::new(Callback::noop()),
            socket: RefCell::new(None),
            pending: RefCell::new(HashMap::new()),
            subs: RefCell::new(HashMap::new()),
            by_ch: RefCell::new(HashMap::new()),
            next_id: Cell::new(1),
            next_ch: Cell::new(1),
            next_sub: Cell::new(1),
            attempt: Cell::new(0),
            handlers: RefCell::new(vec![]),
        }))
    }

    pub fn state(&self) -> WsState {
        self.0.state.borrow().clone()
    }

    fn set_state(&self, s: WsState) {
        *self.0.state.borrow_mut() = s.clone();
        let cb = self.0.on_state.borrow().clone();
        cb.emit(s);
    }

    /// (Re)connects now, e.g. after logging in.
    pub fn connect(&self) {
        if let Some(old) = self.0.socket.borrow_mut().take() {
            let _ = old.close();
        }
        self.0.handlers.borrow_mut().clear();
        self.set_state(WsState::Connecting);
        let Some(window) = web_sys::window() else {
            return;
        };
        let loc = window.location();
        let scheme = if loc.protocol().ok().as_deref() == Some("https:") {
            "wss"
        } else {
            "ws"
        };
        let url = format!("{scheme}://{}/api/v1/ws", loc.host().unwrap_or_default());
        let socket = match web_sys::WebSocket::new_with_str(&url, berth_protocol::wire::SUBPROTOCOL)
        {
            Ok(s) => s,
            Err(_) => {
                self.schedule_reconnect("cannot open a WebSocket".to_owned());
                return;
            }
        };
        socket.set_binary_type(web_sys::BinaryType::Arraybuffer);
        let weak = Rc::downgrade(&self.0);
        let on_open = {
            let weak = weak.clone();
            Closure::<dyn FnMut(Event)>::new(move |_| {
                if let Some(ws) = upgrade(&weak) {
                    ws.send(&ClientMsg::Hello {
                        client: Peer {
                            name: "berth-web".to_owned(),
                            version: berth_protocol::VERSION.to_owned(),
                        },
                        token: None,
                        features: vec![],
                    });
                }
            })
        };
        let on_message = {
            let weak = weak.clone();
            Closure::<dyn FnMut(Event)>::new(move |e: Event| {
                let Some(ws) = upgrade(&weak) else { return };
                let Ok(e) = e.dyn_into::<web_sys::MessageEvent>() else {
                    return;
                };
                let data = e.data();
                if let Some(text) = data.as_string() {
                    if let Some((id, result)) = Response::result(&text) {
                        ws.answer(&id, Ok(result));
                    } else if let Ok(msg) = serde_json::from_str::<ServerMsg>(&text) {
                        ws.on_server(msg);
                    }
                } else if let Ok(buf) = data.dyn_into::<js_sys::ArrayBuffer>() {
                    ws.on_binary(&js_sys::Uint8Array::new(&buf).to_vec());
                }
            })
        };
        let on_close = Closure::<dyn FnMut(Event)>::new(move |e: Event| {
            let Some(ws) = upgrade(&weak) else { return };
            let code = e
                .dyn_ref::<web_sys::CloseEvent>()
                .map_or(1006, |c| c.code());
            ws.on_closed(code);
        });
        socket.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        socket.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        socket.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        self.0
            .handlers
            .borrow_mut()
            .extend([on_open, on_message, on_close]);
        *self.0.socket.borrow_mut() = Some(socket);
    }

    /// Closes the socket and shows the login page (after logging out).
    pub fn logged_out(&self) {
        if let Some(s) = self.0.socket.borrow_mut().take() {
            s.set_onclose(None);
            let _ = s.close();
        }
        self.fail_all();
        self.set_state(WsState::LoggedOut);
    }

    fn send(&self, msg: &ClientMsg) -> bool {
        let text = serde_json::to_string(msg).expect("serialisable");
        self.0
            .socket
            .borrow()
            .as_ref()
            .is_some_and(|s| s.send_with_str(&text).is_ok())
    }

    fn on_server(&self, msg: ServerMsg) {
        match msg {
            ServerMsg::Welcome { user, .. } => {
                self.0.attempt.set(0);
                self.0.by_ch.borrow_mut().clear();
                self.set_state(WsState::Open(user));
                let ids: Vec<u64> = self.0.subs.borrow().keys().copied().collect();
                for id in ids {
                    self.open_sub(id);
                }
            }
            ServerMsg::Res { id, p } => {
                if let Ok(raw) = serde_json::value::to_raw_value(&p) {
                    self.answer(&id, Ok(raw));
                }
            }
            ServerMsg::Err {
                id: Some(id),
                error,
            } => self.answer(&id, Err(error)),
            ServerMsg::Data { ch, p, .. } => {
                let sub = self.0.by_ch.borrow().get(&ch).copied();
                let cb = sub.and_then(|s| {
                    self.0.subs.borrow().get(&s).and_then(|s| match &s.feed {
                        Feed::Json(cb) => Some(cb.clone()),
                        Feed::Binary(_) => None,
                    })
                });
                if let Some(cb) = cb {
                    cb.emit(p);
                    // Consumed as soon as rendered: return the credit.
                    self.send(&ClientMsg::Credit {
                        ch,
                        msgs: Some(1),
                        bytes: None,
                    });
                }
            }
            ServerMsg::Close { ch, error, p } => {
                let sub = self.0.by_ch.borrow_mut().remove(&ch);
                if let Some(s) = sub.and_then(|s| self.0.subs.borrow_mut().remove(&s)) {
                    s.on_close.emit(Closed { error, p });
                }
            }
            _ => {}
        }
    }

    /// A binary data frame: hand the payload over, then return its bytes as credit.
    fn on_binary(&self, bytes: &[u8]) {
        let Ok(frame) = berth_protocol::frame::DataFrame::decode(bytes) else {
            return;
        };
        let sub = self.0.by_ch.borrow().get(&frame.ch).copied();
        let cb = sub.and_then(|s| {
            self.0.subs.borrow().get(&s).and_then(|s| match &s.feed {
                Feed::Binary(cb) => Some(cb.clone()),
                Feed::Json(_) => None,
            })
        });
        if let Some(cb) = cb {
            cb.emit((frame.stream as u8, frame.payload.to_vec()));
            self.send(&ClientMsg::Credit {
                ch: frame.ch,
                msgs: None,
                bytes: Some(u32::try_from(frame.payload.len()).unwrap_or(u32::MAX)),
            });
        }
    }

    fn on_closed(&self, code: u16) {
        *self.0.socket.borrow_mut() = None;
        self.fail_all();
        if code == close::UNAUTHENTICATED {
            self.set_state(WsState::LoggedOut);
        } else {
            self.schedule_reconnect(format!("connection lost (code {code})"));
        }
    }

    fn fail_all(&self) {
        for (_, tx) in self.0.pending.borrow_mut().drain() {
            let _ = tx.send(Err(not_connected()));
        }
        self.0.by_ch.borrow_mut().clear();
        let ended: Vec<Sub> = {
            let mut subs = self.0.subs.borrow_mut();
            let binary: Vec<u64> = subs
                .iter()
                .filter(|(_, s)| matches!(s.feed, Feed::Binary(_)))
                .map(|(id, _)| *id)
                .collect();
            for s in subs.values_mut() {
                s.ch = None;
            }
            binary.iter().filter_map(|id| subs.remove(id)).collect()
        };
        for s in ended {
            s.on_close.emit(Closed {
                error: Some(not_connected()),
                p: None,
            });
        }
    }

    fn schedule_reconnect(&self, why: String) {
        let n = self.0.attempt.get();
        self.0.attempt.set(n.saturating_add(1));
        let cap = (500.0 * f64::from(1u32 << n.min(6))).min(30_000.0);
        let delay = (js_sys::Math::random() * cap) as i32 + 100;
        self.set_state(WsState::Down(why));
        let weak = Rc::downgrade(&self.0);
        let retry = Closure::once_into_js(move || {
            if let Some(ws) = upgrade(&weak)
                && matches!(ws.state(), WsState::Down(_))
            {
                ws.connect();
            }
        });
        if let Some(w) = web_sys::window() {
            let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(
                retry.unchecked_ref(),
                delay,
            );
        }
    }

    /// Hands a request its answer.
    fn answer(&self, id: &str, answer: Result<Raw, ErrorBody>) {
        if let Some(tx) = self.0.pending.borrow_mut().remove(id) {
            let _ = tx.send(answer);
        }
    }

    /// Calls a method; fails fast with `unavailable` while disconnected.
    async fn call_raw(&self, method: &str, p: Value) -> Result<Raw, ErrorBody> {
        if !matches!(self.state(), WsState::Open(_)) {
            return Err(not_connected());
        }
        let id = self.0.next_id.get();
        self.0.next_id.set(id + 1);
        let id = id.to_string();
        let (tx, rx) = oneshot::channel();
        self.0.pending.borrow_mut().insert(id.clone(), tx);
        if !self.send(&ClientMsg::Req {
            id: id.clone(),
            method: method.to_owned(),
            p,
        }) {
            self.0.pending.borrow_mut().remove(&id);
            return Err(not_connected());
        }
        rx.await.unwrap_or_else(|_| Err(not_connected()))
    }

    /// Typed call of a catalogue method.
    pub async fn call_m<M: berth_protocol::api::catalogue::Method>(
        &self,
        p: M::Params,
    ) -> Result<M::Result, ErrorBody> {
        let raw = self
            .call_raw(M::NAME, serde_json::to_value(p).expect("serialisable"))
            .await?;
        serde_json::from_str(raw.get())
            .map_err(|e| ErrorBody::new(ErrorCode::Internal, e.to_string()))
    }

    /// Subscribes to a channel for as long as the handle lives, across reconnects.
    pub fn subscribe(
        &self,
        kind: &str,
        params: Value,
        window: u32,
        on_data: Callback<Value>,
        on_close: Callback<Option<ErrorBody>>,
    ) -> SubHandle {
        self.add_sub(
            kind,
            params,
            window,
            Feed::Json(on_data),
            on_close.reform(|c: Closed| c.error),
        )
    }

    /// Opens a binary channel (`container.logs`, `exec`) with a window of `window`
    /// bytes. It ends — `on_close` — when the server closes it or the connection drops.
    pub fn subscribe_binary(
        &self,
        kind: &str,
        params: Value,
        window: u32,
        on_bytes: Callback<(u8, Vec<u8>)>,
        on_close: Callback<Closed>,
    ) -> SubHandle {
        if !matches!(self.state(), WsState::Open(_)) {
            on_close.emit(Closed {
                error: Some(not_connected()),
                p: None,
            });
        }
        self.add_sub(kind, params, window, Feed::Binary(on_bytes), on_close)
    }

    fn add_sub(
        &self,
        kind: &str,
        params: Value,
        window: u32,
        feed: Feed,
        on_close: Callback<Closed>,
    ) -> SubHandle {
        let binary = matches!(feed, Feed::Binary(_));
        let id = self.0.next_sub.get();
        self.0.next_sub.set(id + 1);
        self.0.subs.borrow_mut().insert(
            id,
            Sub {
                kind: kind.to_owned(),
                params,
                window,
                feed,
                on_close,
                ch: None,
            },
        );
        if matches!(self.state(), WsState::Open(_)) {
            self.open_sub(id);
        } else if binary {
            self.0.subs.borrow_mut().remove(&id);
        }
        SubHandle {
            ws: Rc::downgrade(&self.0),
            id,
        }
    }

    fn open_sub(&self, id: u64) {
        let ch = self.0.next_ch.get();
        self.0.next_ch.set(ch + 1);
        let msg = {
            let mut subs = self.0.subs.borrow_mut();
            let Some(s) = subs.get_mut(&id) else { return };
            s.ch = Some(ch);
            let window = match s.feed {
                Feed::Json(_) => Window {
                    msgs: Some(s.window),
                    bytes: None,
                },
                Feed::Binary(_) => Window {
                    msgs: None,
                    bytes: Some(s.window),
                },
            };
            ClientMsg::Open {
                ch,
                kind: s.kind.clone(),
                p: s.params.clone(),
                window: Some(window),
            }
        };
        self.0.by_ch.borrow_mut().insert(ch, id);
        self.send(&msg);
    }
}

fn upgrade(weak: &Weak<Inner>) -> Option<Ws> {
    weak.upgrade().map(Ws)
}

/// Dropping it unsubscribes.
pub struct SubHandle {
    ws: Weak<Inner>,
    id: u64,
}

impl SubHandle {
    /// The open channel's id, while it is open.
    fn live(&self) -> Option<(Ws, u32)> {
        let ws = upgrade(&self.ws)?;
        let ch = ws.0.subs.borrow().get(&self.id)?.ch?;
        Some((ws, ch))
    }

    /// Sends bytes to the channel's stdin (an `exec` terminal's keystrokes).
    pub fn send_input(&self, data: &[u8]) -> bool {
        let Some((ws, ch)) = self.live() else {
            return false;
        };
        let frame = berth_protocol::frame::DataFrame {
            ch,
            stream: berth_protocol::frame::Stream::Stdin,
            payload: data,
        }
        .encode();
        ws.0.socket
            .borrow()
            .as_ref()
            .is_some_and(|s| s.send_with_u8_array(&frame).is_ok())
    }

    /// Tells the process its terminal's new size.
    pub fn resize(&self, cols: u16, rows: u16) {
        if let Some((ws, ch)) = self.live() {
            ws.send(&ClientMsg::Resize { ch, cols, rows });
        }
    }

    /// Ends the process's stdin.
    pub fn eof(&self) {
        if let Some((ws, ch)) = self.live() {
            ws.send(&ClientMsg::Eof { ch });
        }
    }
}

impl Drop for SubHandle {
    fn drop(&mut self) {
        let Some(ws) = upgrade(&self.ws) else { return };
        let sub = ws.0.subs.borrow_mut().remove(&self.id);
        if let Some(ch) = sub.and_then(|s| s.ch) {
            ws.0.by_ch.borrow_mut().remove(&ch);
            ws.send(&ClientMsg::Close { ch });
        }
    }
}

/// What pages get from the context.
#[derive(Debug, Clone, PartialEq)]
pub struct WsCtx {
    pub ws: Ws,
    pub state: WsState,
}

impl WsCtx {
    /// The logged-in user, when connected.
    pub fn user(&self) -> Option<&WelcomeUser> {
        match &self.state {
            WsState::Open(u) => Some(u),
            _ => None,
        }
    }
}

#[derive(Debug, PartialEq, Properties)]
pub struct ProviderProps {
    pub children: Html,
}

#[function_component(WsProvider)]
pub fn ws_provider(props: &ProviderProps) -> Html {
    let ws = use_memo((), |()| Ws::new());
    let state = use_state(|| WsState::Connecting);
    {
        let ws = (*ws).clone();
        let state = state.clone();
        use_effect_with((), move |()| {
            *ws.0.on_state.borrow_mut() = Callback::from(move |s| state.set(s));
            ws.connect();
            move || {
                if let Some(s) = ws.0.socket.borrow_mut().take() {
                    s.set_onclose(None);
                    let _ = s.close();
                }
            }
        });
    }
    let ctx = WsCtx {
        ws: (*ws).clone(),
        state: (*state).clone(),
    };
    html! {
        <ContextProvider<WsCtx> context={ctx}>{ props.children.clone() }</ContextProvider<WsCtx>>
    }
}

/// The context; panics outside the provider (a programming error).
#[hook]
pub fn use_ws() -> WsCtx {
    use_context::<WsCtx>().expect("inside WsProvider")
}

/// A human sentence for an error, with the role named when it is a role problem.
pub fn describe(e: &ErrorBody) -> String {
    match e.code {
        ErrorCode::Forbidden => format!("Not allowed: {}.", e.message),
        _ => e.message.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_response_is_read_without_its_result() {
        let (id, raw) = Response::result(r#"{"p":{"groups":[{"n":1}]},"id":"7","t":"res"}"#)
            .expect("a response");
        assert_eq!(id, "7");
        assert_eq!(raw.get(), r#"{"groups":[{"n":1}]}"#);
        // Everything else goes the typed way.
        for other in [
            r#"{"t":"err","id":"7","error":{"code":"not_found","message":"x"}}"#,
            r#"{"t":"data","ch":1,"seq":1,"p":{}}"#,
            r#"{"t":"res","p":{}}"#,
            "not json",
        ] {
            assert!(Response::result(other).is_none(), "{other}");
        }
    }
}
