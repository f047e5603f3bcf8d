//! Transfer tickets: large bytes travel over plain HTTP, not the WebSocket.
//!
//! A method (`volume.download_ticket`; backups later) checks everything — the caller's
//! role, the names, the path — and mints a ticket: a random secret, single-use, bound
//! to the user, that must be used within [`TTL`]. `GET /api/v1/transfers/{ticket}`
//! then streams the bytes, but only to a request that authenticates as that same user
//! (session cookie or bearer token): a leaked URL alone is worth nothing. The
//! outstanding tickets are bounded, so minting cannot grow memory without limit.
//! Uploads work the same way with `PUT` (`plugins.upload_ticket`, `backups.upload_ticket`):
//! the body is checked as it streams in, before anything uses it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use berth_protocol::api::rfc3339;
use berth_protocol::api::transfers::Ticket;
use berth_protocol::error::{ErrorBody, ErrorCode};

use berth_protocol::role::Role;

use crate::errors::WireResult;
use crate::login::{bearer, session_cookie};
use crate::server::{AppState, http_error};
use berth_identity::prelude::*;
use berth_identity::principal::Principal;

/// How long a ticket waits for its request (the spec's ≤ 60 s to start).
pub const TTL: Duration = Duration::from_secs(60);
/// Outstanding tickets per user, and in all.
const PER_USER: usize = 32;
const TOTAL: usize = 1024;

/// What a ticket hands out (`GET`) or takes in (`PUT`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A file (its bytes) or a directory (a tar) inside a volume, as resolved when the
    /// ticket was minted.
    VolumePath {
        host: String,
        volume: String,
        path: String,
    },
    /// Upload: a plugin package, staged for `plugins.install`.
    PluginPackage,
    /// A backup as stored.
    Backup { id: String },
    /// Several backups as stored, in one tar.
    BackupBundle { ids: Vec<String> },
    /// Upload: a backup file, into this storage (the default when `None`); the
    /// passphrase (sealed with the installation key) checks an encrypted one.
    BackupUpload {
        storage: Option<String>,
        passphrase: Option<String>,
    },
}

impl Source {
    fn is_upload(&self) -> bool {
        matches!(self, Source::PluginPackage | Source::BackupUpload { .. })
    }
}

#[derive(Debug)]
struct Pending {
    user: String,
    /// The least role the user must still have when the ticket is used: a demotion or
    /// a revocation between minting and use counts.
    needs: Role,
    expires: Instant,
    filename: String,
    source: Source,
}

#[derive(Debug, Default)]
pub struct Transfers {
    pending: Mutex<HashMap<String, Pending>>,
}

impl Transfers {
    fn pending(&self) -> std::sync::MutexGuard<'_, HashMap<String, Pending>> {
        self.pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A new ticket for `user`, usable while they keep role `needs`; `rate_limited`
    /// when too many are outstanding.
    pub fn mint(
        &self,
        user: &str,
        needs: Role,
        filename: String,
        source: Source,
    ) -> Result<Ticket, ErrorBody> {
        let now = Instant::now();
        let mut p = self.pending();
        p.retain(|_, t| t.expires > now);
        if p.len() >= TOTAL || p.values().filter(|t| t.user == user).count() >= PER_USER {
            return Err(ErrorBody::new(
                ErrorCode::RateLimited,
                "too many transfer tickets waiting to be used; use or let them expire first",
            ));
        }
        let ticket = berth_identity::sessions::new_token();
        p.insert(
            ticket.clone(),
            Pending {
                user: user.to_owned(),
                needs,
                expires: now + TTL,
                filename: filename.clone(),
                source,
            },
        );
        Ok(Ticket {
            url: format!("/api/v1/transfers/{ticket}"),
            ticket,
            filename,
            expires_at: rfc3339(berth_identity::users::now_ms() + TTL.as_millis() as u64),
        })
    }

    /// Takes the ticket if it exists, has not expired, belongs to the caller, who still
    /// has the role it needs, and is for this direction (`upload`: a `PUT`). A ticket
    /// shown by somebody else, or used with the wrong method, stays valid for its owner.
    fn redeem(
        &self,
        ticket: &str,
        caller: &Principal,
        upload: bool,
    ) -> Result<(String, Source), ErrorBody> {
        let user = caller.user.as_str();
        let mut p = self.pending();
        let gone = || {
            ErrorBody::new(
                ErrorCode::NotFound,
                "unknown, used or expired transfer ticket; ask for a new one",
            )
        };
        let t = p.get(ticket).ok_or_else(gone)?;
        if t.expires <= Instant::now() {
            p.remove(ticket);
            return Err(gone());
        }
        if t.user != user {
            return Err(ErrorBody::new(
                ErrorCode::Forbidden,
                "this transfer ticket belongs to another user",
            ));
        }
        if !caller.role.allows(t.needs) || caller.must_change_password {
            let needs = t.needs;
            p.remove(ticket);
            return Err(crate::ws::registry::forbidden(needs));
        }
        if t.source.is_upload() != upload {
            return Err(ErrorBody::new(
                ErrorCode::BadRequest,
                if upload {
                    "this ticket is for a download: use GET"
                } else {
                    "this ticket is for an upload: use PUT"
                },
            ));
        }
        let t = p.remove(ticket).expect("checked above");
        Ok((t.filename, t.source))
    }
}

/// What a ranged `GET` serves: the range asked for (inclusive; `None` for the whole
/// body), its first byte and its length.
pub type Served = (Option<(u64, u64)>, u64, u64);

/// What a ranged `GET` of `size` bytes serves, or the `416` answer when nothing of it
/// can be served.
pub fn ranged(headers: &HeaderMap, size: u64) -> Result<Served, Box<Response>> {
    match parse_range(headers, size) {
        Ok(range) => {
            let (first, len) = range.map_or((0, size), |(a, b)| (a, b - a + 1));
            Ok((range, first, len))
        }
        Err(Unsatisfiable) => Err(Box::new(
            (
                StatusCode::RANGE_NOT_SATISFIABLE,
                [(header::CONTENT_RANGE, format!("bytes */{size}"))],
            )
                .into_response(),
        )),
    }
}

/// The answer to a ranged `GET`: `200` with the whole body, or `206` with
/// `Content-Range`; `len` bytes of `body` either way.
pub fn ranged_response(
    body: axum::body::Body,
    range: Option<(u64, u64)>,
    len: u64,
    size: u64,
) -> Response {
    let mut res = (
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            (header::CONTENT_LENGTH, len.to_string()),
            (header::ACCEPT_RANGES, "bytes".to_owned()),
        ],
        body,
    )
        .into_response();
    if let Some((a, b)) = range {
        *res.status_mut() = StatusCode::PARTIAL_CONTENT;
        if let Ok(v) = format!("bytes {a}-{b}/{size}").parse() {
            res.headers_mut().insert(header::CONTENT_RANGE, v);
        }
    }
    res
}

/// A `Range` header that no part of the body satisfies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unsatisfiable;

/// A `Range: bytes=…` header against a body of `size` bytes: `Ok(None)` for the whole
/// body, `Ok(Some((first, last)))` inclusive, `Err(Unsatisfiable)` when it cannot be served (416). Only single
/// ranges are served (a multi-range request gets the whole body, as RFC 9110 allows).
pub fn parse_range(headers: &HeaderMap, size: u64) -> Result<Option<(u64, u64)>, Unsatisfiable> {
    let Some(spec) = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().strip_prefix("bytes="))
    else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let (a, b) = spec.split_once('-').ok_or(Unsatisfiable)?;
    let (a, b) = (a.trim(), b.trim());
    let range = if a.is_empty() {
        let n: u64 = b.parse().map_err(|_| Unsatisfiable)?;
        if n == 0 || size == 0 {
            return Err(Unsatisfiable);
        }
        (size.saturating_sub(n), size - 1)
    } else {
        let first: u64 = a.parse().map_err(|_| Unsatisfiable)?;
        let last = if b.is_empty() {
            size.saturating_sub(1)
        } else {
            b.parse::<u64>()
                .map_err(|_| Unsatisfiable)?
                .min(size.saturating_sub(1))
        };
        if first >= size || last < first {
            return Err(Unsatisfiable);
        }
        (first, last)
    };
    Ok(Some(range))
}

/// The user a transfer request authenticates as. A browser sends the cookie
/// (SameSite=Strict keeps other sites' links from doing so); scripts send their
/// bearer token.
async fn requester(state: &Arc<AppState>, headers: &HeaderMap) -> Result<Principal, ErrorBody> {
    let Some(secret) = bearer(headers).or_else(|| session_cookie(headers)) else {
        return Err(ErrorBody::new(
            ErrorCode::Unauthenticated,
            "log in (session cookie) or send the bearer token the ticket was minted with",
        ));
    };
    let st = Arc::clone(state);
    match tokio::task::spawn_blocking(move || st.engine.store.authenticate(&secret)).await {
        Ok(Ok(Some(p))) => Ok(p),
        Ok(Ok(None)) => Err(ErrorBody::new(
            ErrorCode::Unauthenticated,
            "the session or token is not valid",
        )),
        Ok(Err(e)) => Err(crate::ws::registry::internal(&e)),
        Err(e) => Err(crate::ws::registry::internal(&e)),
    }
}

/// `PUT /api/v1/transfers/{ticket}`: the body streams to what the ticket names.
pub async fn upload(
    State(state): State<Arc<AppState>>,
    Path(ticket): Path<String>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Response {
    let caller = match requester(&state, &headers).await {
        Ok(u) => u,
        Err(e) => return http_error(e),
    };
    let user = caller.user.clone();
    let (filename, source) = match state.transfers.redeem(&ticket, &caller, true) {
        Ok(t) => t,
        Err(e) => return http_error(e),
    };
    tracing::info!(user, filename, "upload started");
    let r = match source {
        Source::PluginPackage => {
            crate::api::receive_plugin_package(&crate::api::Installer::of(&state), &user, body)
                .await
                .map(|staged| axum::Json(staged).into_response())
        }
        Source::BackupUpload {
            storage,
            passphrase,
        } => berth_engine::backup::upload::receive(
            &state.engine,
            storage.as_deref(),
            passphrase.as_deref(),
            body.into_data_stream(),
        )
        .await
        .map(|entry| axum::Json(entry).into_response())
        .wire(),
        // `redeem` hands out download sources only to a GET.
        Source::VolumePath { .. } | Source::Backup { .. } | Source::BackupBundle { .. } => {
            Err(ErrorBody::new(
                ErrorCode::BadRequest,
                "this ticket is for a download: use GET",
            ))
        }
    };
    r.unwrap_or_else(http_error)
}

/// `GET /api/v1/transfers/{ticket}`.
pub async fn download(
    State(state): State<Arc<AppState>>,
    Path(ticket): Path<String>,
    headers: HeaderMap,
) -> Response {
    let caller = match requester(&state, &headers).await {
        Ok(u) => u,
        Err(e) => return http_error(e),
    };
    let user = caller.user.clone();
    let (filename, source) = match state.transfers.redeem(&ticket, &caller, false) {
        Ok(t) => t,
        Err(e) => return http_error(e),
    };
    tracing::info!(user, filename, "transfer started");
    let r = match source {
        Source::VolumePath { host, volume, path } => {
            crate::api::volumes::download(&state, caller.role, &host, &volume, &path, &headers)
                .await
        }
        Source::Backup { id } => crate::api::download_backup(&state.engine, &id, &headers).await,
        Source::BackupBundle { ids } => crate::api::download_backups(&state.engine, &ids).await,
        Source::PluginPackage | Source::BackupUpload { .. } => Err(ErrorBody::new(
            ErrorCode::BadRequest,
            "this ticket is for an upload: use PUT",
        )),
    };
    match r {
        Ok(mut res) => {
            let disposition = format!(
                "attachment; filename=\"{}\"",
                filename.replace(['"', '\\', '\r', '\n'], "_")
            );
            if let Ok(v) = disposition.parse() {
                res.headers_mut().insert(header::CONTENT_DISPOSITION, v);
            }
            res.headers_mut().insert(
                header::CACHE_CONTROL,
                header::HeaderValue::from_static("no-store"),
            );
            res
        }
        Err(e) => http_error(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(v: &str, size: u64) -> Result<Option<(u64, u64)>, Unsatisfiable> {
        let mut h = HeaderMap::new();
        h.insert(header::RANGE, v.parse().unwrap());
        parse_range(&h, size)
    }

    #[test]
    fn ranges() {
        assert_eq!(parse_range(&HeaderMap::new(), 10), Ok(None));
        assert_eq!(range("bytes=0-3", 10), Ok(Some((0, 3))));
        assert_eq!(range("bytes=4-", 10), Ok(Some((4, 9))));
        assert_eq!(range("bytes=-3", 10), Ok(Some((7, 9))));
        assert_eq!(range("bytes=5-100", 10), Ok(Some((5, 9))));
        assert_eq!(range("bytes=10-", 10), Err(Unsatisfiable));
        assert_eq!(range("bytes=5-2", 10), Err(Unsatisfiable));
        assert_eq!(range("bytes=x-2", 10), Err(Unsatisfiable));
        assert_eq!(range("bytes=0-1,4-5", 10), Ok(None));
    }

    fn who(user: &str, role: Role) -> Principal {
        Principal {
            user: user.to_owned(),
            role,
            user_role: role,
            totp_enabled: false,
            must_change_password: false,
            via: berth_identity::principal::Via::Session {
                id: "s".into(),
                expires_ms: u64::MAX,
            },
        }
    }

    #[test]
    fn tickets_are_single_use_bound_to_their_user_and_bounded() {
        let t = Transfers::default();
        let src = Source::VolumePath {
            host: "local".into(),
            volume: "v".into(),
            path: "/a".into(),
        };
        let alice = who("alice", Role::Operator);
        let k = t
            .mint("alice", Role::Operator, "a".into(), src.clone())
            .unwrap();
        assert_eq!(k.url, format!("/api/v1/transfers/{}", k.ticket));
        let e = t
            .redeem(&k.ticket, &who("mallory", Role::Admin), false)
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::Forbidden);
        assert_eq!(
            t.redeem(&k.ticket, &alice, false).unwrap().1,
            src,
            "still valid for its owner"
        );
        assert_eq!(
            t.redeem(&k.ticket, &alice, false).unwrap_err().code,
            ErrorCode::NotFound
        );
        let up = t
            .mint("alice", Role::Operator, "p".into(), Source::PluginPackage)
            .unwrap();
        assert_eq!(
            t.redeem(&up.ticket, &alice, false).unwrap_err().code,
            ErrorCode::BadRequest,
            "an upload ticket does not download"
        );
        assert_eq!(
            t.redeem(&up.ticket, &alice, true).unwrap().1,
            Source::PluginPackage
        );
        // Demoted between minting and use: the ticket is refused (and spent).
        let k = t
            .mint("alice", Role::Operator, "a".into(), src.clone())
            .unwrap();
        let e = t
            .redeem(&k.ticket, &who("alice", Role::Viewer), false)
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::Forbidden);
        assert_eq!(
            t.redeem(&k.ticket, &alice, false).unwrap_err().code,
            ErrorCode::NotFound
        );
        for _ in 0..PER_USER {
            t.mint("bob", Role::Viewer, "b".into(), src.clone())
                .unwrap();
        }
        let e = t
            .mint("bob", Role::Viewer, "b".into(), src.clone())
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::RateLimited);
        assert!(
            t.mint("carol", Role::Viewer, "c".into(), src).is_ok(),
            "per user"
        );
    }
}
