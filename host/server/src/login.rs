//! `POST /api/v1/auth/login` and `POST /api/v1/auth/logout`.
//!
//! Login checks the rate limiter first (per IP and per user), verifies the password off
//! the async threads (argon2 is deliberately slow), and answers every failure with the
//! same message, after the same amount of work, whether or not the user exists. A
//! success sets the `berth_session` cookie: `HttpOnly; SameSite=Strict; Path=/`.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use berth_protocol::auth::{HttpError, LoginRequest, LoginResponse, SESSION_COOKIE, UserInfo};
use berth_protocol::error::{ErrorBody, ErrorCode};

use crate::server::AppState;
use crate::ws::registry::record;
use berth_engine::Engine;
use berth_identity::audit::AuditRecord;
use berth_identity::password;
use berth_identity::prelude::*;
use berth_identity::users::now_ms;

/// The audit record of one login attempt; the actor is the name tried (truncated).
fn login_audit(name: &str, ip: IpAddr, outcome: &str) -> AuditRecord {
    AuditRecord {
        time_ms: now_ms(),
        actor: name.chars().take(64).collect(),
        token: None,
        client: ip.to_string(),
        method: "auth.login".to_owned(),
        target: None,
        outcome: outcome.to_owned(),
        count: None,
        detail: None,
    }
}

/// What checking the credentials found.
enum Checked {
    Ok(
        Box<(
            berth_identity::User,
            String,
            berth_identity::sessions::Session,
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

/// The password, then the second factor, then a new session.
fn check_login(
    engine: &Engine,
    req: &LoginRequest,
    client: &str,
) -> Result<Checked, berth_identity::UserError> {
    let user = engine.store.get_user(&req.username)?;
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
        user = engine.store.update_user(&user.name, |u| {
            if let Some(t) = u.totp.as_mut()
                && let Some(ok) = t.check(&engine.secret_key, code, now_ms() / 1000)
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
        engine
            .store
            .create_session(&user.name, SESSION_TTL.as_millis() as u64, client)?;
    Ok(Checked::Ok(Box::new((user, token, session))))
}

/// The answer to a wrong password or code (already counted by [`guarded`]).
async fn login_failed(state: &Arc<AppState>, failed: Checked, name: &str, ip: IpAddr) -> Response {
    let totp = !matches!(failed, Checked::Wrong);
    // A correct password without its code is not a guess; a wrong code is.
    if matches!(failed, Checked::TotpRequired) {
        state.limiter.refund(ip, name);
    } else {
        tracing::warn!(user = name, client = %ip, "login failed");
        record(state, login_audit(name, ip, "unauthenticated")).await;
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
    error(StatusCode::UNAUTHORIZED, body)
}

/// Why a guarded password check did not run or did not pass.
#[derive(Debug)]
pub enum Refusal {
    /// The IP or the user is locked out for this long.
    Locked(Duration),
    /// Too many password checks are in flight; try again shortly.
    Busy,
    Internal(String),
}

/// Runs a password check (`check`, on the blocking pool) behind the login limiter and
/// the hashing gate. The attempt is counted as a failure before it runs (so parallel
/// guesses cannot all pass the lockout check first); the caller clears it on success
/// (`limiter.success`) or hands it back when it was not a guess (`limiter.refund`).
pub async fn guarded<T, F>(
    guard: &PasswordGuard,
    ip: IpAddr,
    name: &str,
    check: F,
) -> Result<T, Refusal>
where
    F: FnOnce(&Engine) -> T + Send + 'static,
    T: Send + 'static,
{
    guard
        .limiter
        .begin(ip, name, Instant::now())
        .map_err(Refusal::Locked)?;
    let Ok(turn) = guard.hash_gate.enter().await else {
        guard.limiter.refund(ip, name);
        return Err(Refusal::Busy);
    };
    let engine = Arc::clone(&guard.engine);
    tokio::task::spawn_blocking(move || {
        let _turn = turn;
        check(&engine)
    })
    .await
    .map_err(|e| Refusal::Internal(e.to_string()))
}

/// What a password check needs: the engine (the store, the secret key for TOTP), the
/// login limiter and the hashing gate.
#[derive(Debug, Clone)]
pub struct PasswordGuard {
    pub engine: Arc<Engine>,
    pub limiter: Arc<berth_identity::ratelimit::LoginLimiter>,
    pub hash_gate: Arc<berth_identity::hashgate::HashGate>,
}

impl PasswordGuard {
    pub fn of(state: &AppState) -> Self {
        Self {
            engine: Arc::clone(&state.engine),
            limiter: Arc::clone(&state.limiter),
            hash_gate: Arc::clone(&state.hash_gate),
        }
    }
}

/// The HTTP answer to a refused login.
fn refused(r: Refusal, name: &str, ip: IpAddr) -> (Response, Option<&'static str>) {
    match r {
        Refusal::Locked(remaining) => {
            tracing::warn!(user = name, client = %ip, "login refused: locked out");
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
            (resp, Some("rate_limited"))
        }
        Refusal::Busy => {
            let mut resp = error(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorBody::new(
                    ErrorCode::Unavailable,
                    "too many logins at once; try again in a second",
                )
                .with_details(serde_json::json!({ "retry_after_s": 1 })),
            );
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(1));
            (resp, None)
        }
        Refusal::Internal(e) => (internal("login", &e), None),
    }
}

/// A login form posted from another site (login CSRF: signing the victim's browser
/// into the attacker's account) or as anything but JSON is refused before any work.
fn cross_site(state: &AppState, headers: &HeaderMap) -> Option<Response> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        return Some(error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorBody::new(
                ErrorCode::BadRequest,
                "send the login as Content-Type: application/json",
            ),
        ));
    }
    // Browsers always send Origin on a cross-site POST; scripts and the SDK send none.
    if headers.contains_key(header::ORIGIN)
        && !crate::ws::origin_allowed(headers, &state.allowed_origins)
    {
        return Some(error(
            StatusCode::FORBIDDEN,
            ErrorBody::new(
                ErrorCode::Forbidden,
                "login from a page of another origin is refused",
            ),
        ));
    }
    None
}

pub async fn login(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(refusal) = cross_site(&state, &headers) {
        return refusal;
    }
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
    let seen = crate::proxies::client(peer, &headers, &state.trusted_proxies);
    let ip = seen.ip;
    let req_name = req.username.clone();
    let audit = |outcome: &str| login_audit(&req_name, ip, outcome);
    let client = ip.to_string();
    // The deliberately slow hash and the store commit run on the blocking pool, never
    // on the threads that serve other connections, and only a few at a time.
    let name = req.username.clone();
    let guard = PasswordGuard::of(&state);
    let checked = guarded(&guard, ip, &name, move |engine| {
        check_login(engine, &req, &client)
    })
    .await;
    let (user, token, session) = match checked {
        Ok(Ok(Checked::Ok(found))) => *found,
        Ok(Ok(failed)) => return login_failed(&state, failed, &req_name, ip).await,
        Ok(Err(e)) => return internal("login", &e),
        Err(r) => {
            let (resp, outcome) = refused(r, &req_name, ip);
            if let Some(o) = outcome {
                // One record per source and lockout, however often it knocks.
                let window = state.limiter.check(ip, &req_name, Instant::now()).err();
                state
                    .audit
                    .record(Arc::clone(&state.engine.store), audit(o), window)
                    .await;
            }
            return resp;
        }
    };
    record(&state, audit("ok")).await;
    state.limiter.success(ip, &req_name);
    tracing::info!(user = user.name, client = %ip, session = session.id, "login");
    // Secure whenever the browser reached Berth over HTTPS (Berth's own TLS, or a
    // trusted proxy says so), so the cookie never travels in clear once it has been
    // sent encrypted.
    let cookie = format!(
        "{SESSION_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{}",
        SESSION_TTL.as_secs(),
        if seen.https || state.tls.is_some() {
            "; Secure"
        } else {
            ""
        }
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
        must_change_password: user.must_change_password,
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
            let who = st.engine.store.authenticate(&token).ok().flatten();
            st.engine
                .store
                .revoke_session_token(&token)
                .map(|r| (r, who))
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
                        client: crate::proxies::client(peer, &headers, &state.trusted_proxies)
                            .ip
                            .to_string(),
                        method: "auth.logout".to_owned(),
                        target: None,
                        outcome: "ok".to_owned(),
                        count: None,
                        detail: None,
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
