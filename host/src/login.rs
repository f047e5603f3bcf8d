//! `POST /api/v1/auth/login` and `POST /api/v1/auth/logout`.
//!
//! Login checks the rate limiter first (per IP and per user), verifies the password off
//! the async threads (argon2 is deliberately slow), and answers every failure with the
//! same message, after the same amount of work, whether or not the user exists. A
//! success sets the `berth_session` cookie: `HttpOnly; SameSite=Strict; Path=/`.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use berth_protocol::auth::{HttpError, LoginRequest, LoginResponse, SESSION_COOKIE, UserInfo};
use berth_protocol::error::{ErrorBody, ErrorCode};

use crate::identity::password;
use crate::server::AppState;

/// How long a browser session lasts.
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);

fn error(status: StatusCode, body: ErrorBody) -> Response {
    (status, Json(HttpError { error: body })).into_response()
}

/// A 500 whose cause goes to the log, not to the client.
fn internal(what: &str, cause: &dyn std::fmt::Display) -> Response {
    tracing::error!(error = %cause, "{what} failed");
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
        ErrorBody::new(ErrorCode::Internal, "internal error"),
    )
}

fn rfc3339(ms: u64) -> String {
    chrono::DateTime::from_timestamp_millis(i64::try_from(ms).unwrap_or(i64::MAX))
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A hash of a random password, verified against when the user does not exist so that
/// unknown names cost the same time as wrong passwords.
fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| password::hash(&password::generate()).expect("hashing works"))
}

pub async fn login(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Bytes,
) -> Response {
    let req: LoginRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                ErrorBody::new(
                    ErrorCode::BadRequest,
                    format!("expected {{\"username\",\"password\"}}: {e}"),
                ),
            );
        }
    };
    let ip = peer.ip();
    if let Err(remaining) = state.limiter.check(ip, &req.username, Instant::now()) {
        tracing::warn!(user = req.username, client = %ip, "login refused: locked out");
        let secs = remaining.as_secs().max(1);
        let mut resp = error(
            StatusCode::TOO_MANY_REQUESTS,
            ErrorBody::new(
                ErrorCode::RateLimited,
                format!("too many failed logins; try again in {secs} s"),
            )
            .with_details(serde_json::json!({ "retry_after_s": secs })),
        );
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        return resp;
    }

    // Everything that blocks — the deliberately slow hash and the store commit — runs on
    // the blocking pool, never on the threads that serve other connections.
    let st = Arc::clone(&state);
    let name = req.username.clone();
    let client = ip.to_string();
    let checked = tokio::task::spawn_blocking(move || {
        let user = st.store.get_user(&name)?;
        let hash = user
            .as_ref()
            .map_or(decoy_hash(), |u| u.password_hash.as_str());
        if !password::verify(&req.password, hash) {
            return Ok(None);
        }
        let Some(user) = user else { return Ok(None) };
        let (token, session) =
            st.store
                .create_session(&user.name, SESSION_TTL.as_millis() as u64, &client)?;
        Ok::<_, crate::identity::UserError>(Some((user, token, session)))
    })
    .await;
    let (user, token, session) = match checked {
        Ok(Ok(Some(found))) => found,
        Ok(Ok(None)) => {
            let locked = state.limiter.failure(ip, &req.username, Instant::now());
            tracing::warn!(user = req.username, client = %ip, lockout_s = locked.map(|d| d.as_secs()), "login failed");
            return error(
                StatusCode::UNAUTHORIZED,
                ErrorBody::new(ErrorCode::Unauthenticated, "invalid username or password"),
            );
        }
        Ok(Err(e)) => return internal("login", &e),
        Err(e) => return internal("login", &e),
    };
    state.limiter.success(ip, &user.name);
    tracing::info!(user = user.name, client = %ip, session = session.id, "login");
    let cookie = format!(
        "{SESSION_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}",
        SESSION_TTL.as_secs()
    );
    let mut headers = HeaderMap::new();
    headers.insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).expect("hex token is a valid header"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let body = LoginResponse {
        user: UserInfo {
            name: user.name.clone(),
            role: user.role,
        },
        role: user.role,
        expires_at: rfc3339(session.expires_ms),
    };
    (headers, Json(body)).into_response()
}

/// The session token of a request: the cookie, else a bearer token.
pub fn request_token(headers: &HeaderMap) -> Option<String> {
    let from_cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| {
            c.split(';').map(str::trim).find_map(|kv| {
                kv.strip_prefix(SESSION_COOKIE)?
                    .strip_prefix('=')
                    .map(str::to_owned)
            })
        });
    from_cookie.or_else(|| {
        headers
            .get(header::AUTHORIZATION)?
            .to_str()
            .ok()?
            .strip_prefix("Bearer ")
            .map(|t| t.trim().to_owned())
    })
}

pub async fn logout(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Some(token) = request_token(&headers) {
        let st = Arc::clone(&state);
        match tokio::task::spawn_blocking(move || st.store.revoke_session_token(&token)).await {
            Ok(Ok(true)) => tracing::info!("logout"),
            Ok(Ok(false)) => {}
            Ok(Err(e)) => return internal("logout", &e),
            Err(e) => return internal("logout", &e),
        }
    }
    let clear = format!("{SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    let mut resp = StatusCode::NO_CONTENT.into_response();
    resp.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&clear).expect("valid header"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_come_from_the_cookie_or_a_bearer_header() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("theme=dark; berth_session=abc123; x=y"),
        );
        assert_eq!(request_token(&h).as_deref(), Some("abc123"));
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer tok"),
        );
        assert_eq!(request_token(&h).as_deref(), Some("tok"));
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("berth_sessionx=nope"),
        );
        assert_eq!(request_token(&h), None);
    }

    #[test]
    fn expiry_is_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    }
}
