//! The WebSocket protocol from a test's side: a started Berth with a known admin, login,
//! SDK clients, and a raw socket for send/expect transcripts.

use std::process::Command;
use std::time::Duration;

use berth_client::{Client, ConnectOptions};
use berth_protocol::auth::LoginRequest;
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};
use tokio_tungstenite::tungstenite::protocol::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::server::{Berth, serve_command};

pub const ADMIN_PASSWORD: &str = "the-admin-password";

/// A ready Berth whose first admin is `admin` / [`ADMIN_PASSWORD`].
pub async fn start_with(extra: impl FnOnce(&mut Command)) -> (tempfile::TempDir, Berth) {
    let tmp = tempfile::tempdir().unwrap();
    let data_dir = tmp.path().join("data");
    let mut cmd = serve_command(&data_dir);
    cmd.env("BERTH_ADMIN_PASSWORD", ADMIN_PASSWORD);
    extra(&mut cmd);
    let berth = Berth::start_with(cmd, &data_dir).await;
    berth.wait_ready().await;
    (tmp, berth)
}

pub async fn start() -> (tempfile::TempDir, Berth) {
    start_with(|_| {}).await
}

/// Logs in over HTTP; returns the session token.
pub async fn login(berth: &Berth, user: &str, password: &str) -> String {
    let req = LoginRequest {
        username: user.to_owned(),
        password: password.to_owned(),
        totp: None,
    };
    berth_client::http::login(&berth.url, &req)
        .await
        .unwrap_or_else(|e| panic!("login as {user}: {e}"))
        .0
}

/// An SDK client with a bearer token.
pub async fn client(berth: &Berth, token: &str) -> Client {
    Client::connect(&berth.url, token)
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"))
}

/// An SDK client logged in as the first admin.
pub async fn admin(berth: &Berth) -> Client {
    let token = login(berth, "admin", ADMIN_PASSWORD).await;
    client(berth, &token).await
}

/// Connects with custom options (headers, hello token, subprotocols).
pub async fn connect_with(
    berth: &Berth,
    f: impl FnOnce(&mut ConnectOptions),
) -> Result<Client, berth_client::ClientError> {
    let mut opts = ConnectOptions::new(&berth.url);
    f(&mut opts);
    Client::connect_with(opts).await
}

/// A raw protocol socket for transcripts.
#[derive(Debug)]
pub struct Raw {
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

/// The HTTP status and body of a refused upgrade.
pub type Refused = (u16, String);

/// Opens `/api/v1/ws` with exactly these headers (add `sec-websocket-protocol` yourself).
pub async fn raw(
    berth: &Berth,
    path_suffix: &str,
    headers: &[(&str, &str)],
) -> Result<Raw, Refused> {
    let url = format!(
        "{}/api/v1/ws{path_suffix}",
        berth.url.replace("http://", "ws://")
    );
    let mut req = url.into_client_request().unwrap();
    for (k, v) in headers {
        req.headers_mut().append(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    match tokio_tungstenite::connect_async(req).await {
        Ok((ws, _)) => Ok(Raw { ws }),
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => Err((
            resp.status().as_u16(),
            resp.body()
                .as_deref()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default(),
        )),
        Err(e) => panic!("websocket connect: {e}"),
    }
}

/// A raw socket with a bearer token and the subprotocol, after hello/welcome.
pub async fn raw_session(berth: &Berth, token: &str) -> (Raw, Value) {
    let auth = format!("Bearer {token}");
    let mut r = raw(
        berth,
        "",
        &[
            ("sec-websocket-protocol", "berth.v1"),
            ("authorization", &auth),
        ],
    )
    .await
    .unwrap_or_else(|e| panic!("refused: {e:?}"));
    r.send(serde_json::json!({"t":"hello","client":{"name":"test","version":"0"}}))
        .await;
    let welcome = r.recv().await;
    assert_eq!(welcome["t"], "welcome", "{welcome}");
    (r, welcome)
}

impl Raw {
    pub async fn send(&mut self, v: Value) {
        self.send_text(&v.to_string()).await;
    }

    pub async fn send_text(&mut self, t: &str) {
        self.ws.send(Message::Text(t.into())).await.expect("send");
    }

    /// Sends a message the server may refuse before it has read it all: a server that
    /// closes a socket with unread input makes the kernel reset it, so the write can
    /// fail part-way while the close frame sent before the reset still waits to be read.
    /// Returns whether the whole message was written.
    pub async fn send_text_refused(&mut self, t: &str) -> bool {
        match self.ws.send(Message::Text(t.into())).await {
            Ok(()) => true,
            Err(tokio_tungstenite::tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
                ) =>
            {
                false
            }
            Err(e) => panic!("send: {e}"),
        }
    }

    pub async fn send_binary(&mut self, b: Vec<u8>) {
        self.ws.send(Message::Binary(b.into())).await.expect("send");
    }

    /// The next JSON message (pings skipped); panics on close or after 15 s.
    pub async fn recv(&mut self) -> Value {
        match self.next_frame(Duration::from_secs(15)).await {
            Some(Message::Text(t)) => serde_json::from_str(&t).expect("JSON"),
            other => panic!("expected a text message, got {other:?}"),
        }
    }

    /// The next frame other than ping/pong, or `None` if none arrives in `wait`.
    pub async fn next_frame(&mut self, wait: Duration) -> Option<Message> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let m = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .ok()??;
            match m {
                Ok(Message::Ping(_) | Message::Pong(_)) => {}
                Ok(m) => return Some(m),
                Err(_) => return None,
            }
        }
    }

    /// Reads until the close frame; returns its code (1006 if the socket just ended).
    pub async fn expect_close(&mut self, wait: Duration) -> (u16, Vec<Value>) {
        let mut seen = vec![];
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let m = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .unwrap_or_else(|_| panic!("no close within {wait:?}; saw {seen:?}"));
            match m {
                Some(Ok(Message::Close(f))) => return (f.map_or(1005, |f| f.code.into()), seen),
                Some(Ok(Message::Text(t))) => {
                    seen.push(serde_json::from_str(&t).unwrap_or(Value::Null))
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return (1006, seen),
            }
        }
    }
}

/// Resident memory of a process, in bytes.
pub fn rss_bytes(pid: u32) -> u64 {
    status_bytes(pid, "VmRSS")
}

/// A size line of `/proc/<pid>/status` (`VmRSS`, `RssAnon`, `RssFile`, …), in bytes.
pub fn status_bytes(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or(0)
        * 1024
}

/// Creates user `name` with `role` (password `password-of-<name>`) and connects as them.
pub async fn user(
    berth: &Berth,
    admin: &Client,
    name: &str,
    role: berth_protocol::role::Role,
) -> Client {
    let password = format!("password-of-{name}");
    admin
        .call::<berth_protocol::api::catalogue::UsersCreate>(
            berth_protocol::api::users::CreateUser {
                name: name.to_owned(),
                role,
                password: password.clone(),
            },
        )
        .await
        .unwrap_or_else(|e| panic!("create {name}: {e}"));
    client(berth, &login(berth, name, &password).await).await
}
