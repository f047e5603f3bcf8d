//! `GET /api/v1/ws`: the multiplexed WebSocket (protocol v1).
//!
//! Before the upgrade: the `berth.v1` subprotocol must be offered (else 400), and a
//! session cookie is honoured only with an allowed `Origin` (else 403) — the
//! cross-site WebSocket hijacking defence. A bearer token (`Authorization` header) or
//! the `token` of `hello` authenticate non-browser clients; `?token=` is never read.
//! After it: [`conn`] runs the connection, [`outbox`] orders what it writes, and
//! [`registry`] authorises and dispatches every request and channel.

pub mod conn;
pub mod outbox;
pub mod registry;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use berth_protocol::error::{ErrorBody, ErrorCode};
use berth_protocol::wire::SUBPROTOCOL;

use crate::login::{bearer, session_cookie};
use crate::server::AppState;
use berth_identity::prelude::*;
use conn::{LIMITS, UpgradeAuth};

fn refuse(code: ErrorCode, message: &str) -> Response {
    crate::server::http_error(ErrorBody::new(code, message))
}

fn offers_subprotocol(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim() == SUBPROTOCOL)
}

/// Whether `Origin` is this server's own (same host and port as the request's `Host`)
/// or on the configured allow-list.
pub fn origin_allowed(headers: &HeaderMap, allowed: &[String]) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    if allowed.iter().any(|a| a.eq_ignore_ascii_case(origin)) {
        return true;
    }
    let authority = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"));
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    matches!((authority, host), (Some(a), Some(h)) if a.eq_ignore_ascii_case(h))
}

pub async fn upgrade(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    let ws = match ws {
        Ok(ws) => ws,
        Err(rejection) => return rejection.into_response(),
    };
    if !offers_subprotocol(&headers) {
        return refuse(
            ErrorCode::BadRequest,
            "offer the berth.v1 WebSocket subprotocol",
        );
    }
    // The client behind a trusted proxy: what the audit log and the logs name.
    let peer = crate::proxies::client(peer, &headers, &state.trusted_proxies).addr(peer);
    let cookie = session_cookie(&headers);
    if cookie.is_some() && !origin_allowed(&headers, &state.allowed_origins) {
        tracing::warn!(client = %peer, origin = ?headers.get(header::ORIGIN), "websocket with a session cookie from a foreign or missing origin refused");
        return refuse(
            ErrorCode::Forbidden,
            "session cookies are accepted only from this server's own origin",
        );
    }
    // A bearer header is an explicit choice of the client; it wins over a cookie.
    let auth = match bearer(&headers).or(cookie) {
        None => UpgradeAuth::None,
        Some(secret) => {
            let st = Arc::clone(&state);
            let s = secret.clone();
            match tokio::task::spawn_blocking(move || st.engine.store.authenticate(&s)).await {
                Ok(Ok(Some(principal))) => UpgradeAuth::Valid { principal, secret },
                Ok(Ok(None)) => UpgradeAuth::Invalid,
                Ok(Err(e)) => return registry_internal(&e),
                Err(e) => return registry_internal(&e),
            }
        }
    };
    ws.protocols([SUBPROTOCOL])
        .max_message_size(LIMITS.max_text_bytes as usize)
        .max_frame_size(LIMITS.max_text_bytes as usize)
        // Small buffers: most connections are idle, and 1,000 of them must stay cheap.
        .read_buffer_size(4 * 1024)
        .write_buffer_size(128 * 1024)
        .max_write_buffer_size(2 * 1024 * 1024)
        .on_upgrade(move |socket| conn::run(socket, state, peer, auth))
}

fn registry_internal(e: &dyn std::fmt::Display) -> Response {
    crate::server::http_error(registry::internal(e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn h(pairs: &[(header::HeaderName, &'static str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.append(k.clone(), HeaderValue::from_static(v));
        }
        m
    }

    #[test]
    fn origins() {
        let own = h(&[
            (header::HOST, "127.0.0.1:8080"),
            (header::ORIGIN, "http://127.0.0.1:8080"),
        ]);
        assert!(origin_allowed(&own, &[]));
        let foreign = h(&[
            (header::HOST, "127.0.0.1:8080"),
            (header::ORIGIN, "https://evil.example"),
        ]);
        assert!(!origin_allowed(&foreign, &[]));
        assert!(origin_allowed(
            &foreign,
            &["https://evil.example".to_owned()]
        ));
        assert!(
            !origin_allowed(&h(&[(header::HOST, "a:1")]), &[]),
            "missing origin"
        );
        let port = h(&[
            (header::HOST, "127.0.0.1:8080"),
            (header::ORIGIN, "http://127.0.0.1:9999"),
        ]);
        assert!(!origin_allowed(&port, &[]));
    }

    #[test]
    fn subprotocols() {
        assert!(offers_subprotocol(&h(&[(
            header::SEC_WEBSOCKET_PROTOCOL,
            "chat, berth.v1"
        )])));
        assert!(!offers_subprotocol(&h(&[(
            header::SEC_WEBSOCKET_PROTOCOL,
            "berth.v2"
        )])));
        assert!(!offers_subprotocol(&HeaderMap::new()));
    }
}
