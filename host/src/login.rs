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

use crate::audit::AuditRecord;
use crate::identity::password;
use crate::identity::users::now_ms;
use crate::server::AppState;
use crate::ws::registry::record;

/// The audit record of one login attempt; the actor is the name tried (truncated).
fn login_audit(name: &str, ip: std::net::IpAddr, outcome: &str) -> AuditRecord {
    AuditRecord {
        time_ms: now_ms(),
        actor: name.chars().take(64).collect(),
        token: None,
        client: ip.to_string(),
        method: "auth.login".to_owned(),
        target: None,
        outcome: outcome.to_owned(),
    }
}

/// What checking the credentials found.
enum Checked {
    Ok(
        Box<(
            crate::identity::User,
            String,
            crate::identity::sessions::Session,
        )>,
    ),
    Wrong,
    TotpRequired,
    TotpWrong,
}

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
    let req_name = req.username.clone();
    if let Err(remaining) = state.limiter.check(ip, &req.username, Instant::now()) {
        tracing::warn!(user = req.username, client = %ip, "login refused: locked out");
        record(&state, login_audit(&req_name, ip, "rate_limited")).await;
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
            return Ok(Checked::Wrong);
        }
        let Some(mut user) = user else {
            return Ok(Checked::Wrong);
        };
        if user.totp_enabled() {
            let Some(code) = req.totp.as_deref().filter(|c| !c.trim().is_empty()) else {
                return Ok(Checked::TotpRequired);
            };
            let mut accepted = false;
            user = st.store.update_user(&user.name, |u| {
                if let Some(t) = u.totp.as_mut()
                    && let Some(ok) = t.check(&st.secret_key, code, now_ms() / 1000)
                {
                    t.consume(ok);
                    accepted = true;
                }
                Ok(())
            })?;
            if !accepted {
                return Ok(Checked::TotpWrong);
            }
        }
        let (token, session) =
            st.store
                .create_session(&user.name, SESSION_TTL.as_millis() as u64, &client)?;
        Ok::<_, crate::identity::UserError>(Checked::Ok(Box::new((user, token, session))))
    })
    .await;
    let audit = |outcome: &str| login_audit(&req_name, ip, outcome);
    let (user, token, session) = match checked {
        Ok(Ok(Checked::Ok(found))) => *found,
        Ok(Ok(failed)) => {
            let totp = !matches!(failed, Checked::Wrong);
            // A correct password without its code is not a guess; a wrong code is.
            let locked = if matches!(failed, Checked::TotpRequired) {
                None
            } else {
                state.limiter.failure(ip, &req_name, Instant::now())
            };
            tracing::warn!(user = req_name, client = %ip, lockout_s = locked.map(|d| d.as_secs()), "login failed");
            if !matches!(failed, Checked::TotpRequired) {
                record(&state, audit("unauthenticated")).await;
            }
            let body = if totp {
                ErrorBody::new(
                    ErrorCode::Unauthenticated,
                    if matches!(failed, Checked::TotpRequired) {
                        "enter the code from your authenticator app"
                    } else {
                        "invalid authentication code"
                    },
                )
                .with_details(serde_json::json!({ "totp_required": true }))
            } else {
                ErrorBody::new(ErrorCode::Unauthenticated, "invalid username or password")
            };
            return error(StatusCode::UNAUTHORIZED, body);
        }
        Ok(Err(e)) => return internal("login", &e),
        Err(e) => return internal("login", &e),
    };
    record(&state, audit("ok")).await;
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

/// The `berth_session` cookie of a request.
pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| {
            c.split(';').map(str::trim).find_map(|kv| {
                kv.strip_prefix(SESSION_COOKIE)?
                    .strip_prefix('=')
                    .map(str::to_owned)
            })
        })
}

/// The `Authorization: Bearer` token of a request.
pub fn bearer(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
}

/// The session token of a request: the cookie, else a bearer token.
pub fn request_token(headers: &HeaderMap) -> Option<String> {
    session_cookie(headers).or_else(|| bearer(headers))
}

pub async fn logout(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    if let Some(token) = request_token(&headers) {
        let st = Arc::clone(&state);
        let found = tokio::task::spawn_blocking(move || {
            let who = st.store.authenticate(&token).ok().flatten();
            st.store.revoke_session_token(&token).map(|r| (r, who))
        })
        .await;
        match found.map(|r| r.map(|(revoked, who)| (revoked, who.map(|p| p.user)))) {
            Ok(Ok((true, who))) => {
                tracing::info!(user = who, "logout");
                record(
                    &state,
                    AuditRecord {
                        time_ms: now_ms(),
                        actor: who.unwrap_or_default(),
                        token: None,
                        client: peer.ip().to_string(),
                        method: "auth.logout".to_owned(),
                        target: None,
                        outcome: "ok".to_owned(),
                    },
                )
                .await;
            }
            Ok(Ok((false, _))) => {}
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
