//! `auth.*`: the caller's identity, password, sessions and second factor.

use berth_identity::principal::Principal;
use berth_protocol::api::Empty;
use berth_protocol::api::auth::ChangePassword;
use berth_protocol::api::auth::ConfirmPassword;
use berth_protocol::api::auth::ListSessions;
use berth_protocol::api::auth::RevokeSession;
use berth_protocol::api::auth::TotpCode;
use berth_protocol::api::auth::{
    Credential, RecoveryCodes, Revoked, SessionInfo, SessionList, TotpEnrollment, Whoami,
};
use berth_protocol::api::catalogue::{
    AuthChangePassword, AuthSessionsList, AuthSessionsRevoke, AuthTotpConfirm, AuthTotpDisable,
    AuthTotpEnroll, AuthWhoami,
};
use berth_protocol::api::rfc3339;
use berth_protocol::auth::UserInfo;
use berth_protocol::error::{ErrorBody, ErrorCode};
use berth_protocol::role::Role;

use super::user_err;
use std::net::SocketAddr;
use std::sync::Arc;

use crate::login::{PasswordGuard, Refusal, guarded};
use crate::server::DataRoot;
use crate::ws::registry::{Registry, bad_field, blocking, forbidden, internal};
use berth_core::store::Store;
use berth_engine::Engine;
use berth_identity::prelude::*;
use berth_identity::principal::Via;
use berth_identity::totp::{self, TotpState};
use berth_identity::users::now_ms;
use berth_identity::{UserError, password};

pub fn register(r: &mut Registry) {
    r.method(AuthWhoami, whoami);
    r.method(AuthChangePassword, change_password);
    r.method(AuthSessionsList, sessions_list);
    r.method(AuthSessionsRevoke, sessions_revoke);
    r.method(AuthTotpEnroll, totp_enroll);
    r.method(AuthTotpConfirm, totp_confirm);
    r.method(AuthTotpDisable, totp_disable);
}

async fn whoami(principal: Principal, _: Empty) -> Result<Whoami, ErrorBody> {
    let p = &principal;
    let credential = match &p.via {
        Via::Session { id, expires_ms } => Credential::Session {
            id: id.clone(),
            expires_at: rfc3339(*expires_ms),
        },
        Via::Token {
            id,
            name,
            expires_ms,
        } => Credential::Token {
            id: id.clone(),
            name: name.clone(),
            expires_at: expires_ms.map(rfc3339),
        },
    };
    Ok(Whoami {
        user: UserInfo {
            name: p.user.clone(),
            role: p.user_role,
        },
        role: p.role,
        credential,
        totp_enabled: p.totp_enabled,
        must_change_password: p.must_change_password,
    })
}

async fn change_password(
    (principal, client, guard, data_dir): (Principal, SocketAddr, PasswordGuard, DataRoot),
    params: ChangePassword,
) -> Result<Empty, ErrorBody> {
    own_account(&principal)?;
    let me = principal.user.clone();
    let keep = match &principal.via {
        Via::Session { id, .. } => Some(id.clone()),
        Via::Token { .. } => None,
    };
    confirm_password(&guard, &principal, client, params.current, "current").await?;
    let store = Arc::clone(&guard.engine.store);
    blocking(move || {
        store.set_password(&me, &params.new).map_err(user_err)?;
        // A generated first password has done its job once replaced.
        let initial = berth_core::datadir::initial_password_path(&data_dir.0);
        if initial.exists() && let Err(e) = std::fs::remove_file(&initial) {
            tracing::warn!(file = %initial.display(), error = %e, "cannot delete the initial password file");
        }
        // Everyone else holding this password's sessions is signed out.
        store
            .revoke_sessions_where(|s| s.user == me && Some(&s.id) != keep.as_ref())
            .map_err(user_err)?;
        Ok(Empty {})
    })
    .await
}

async fn sessions_list(
    (principal, store): (Principal, Arc<Store>),
    params: ListSessions,
) -> Result<SessionList, ErrorBody> {
    let me = principal.user.clone();
    let user = params.user.unwrap_or_else(|| me.clone());
    if user != me && principal.role != Role::Admin {
        return Err(forbidden(Role::Admin));
    }
    let current = match &principal.via {
        Via::Session { id, .. } => Some(id.clone()),
        Via::Token { .. } => None,
    };
    let sessions = blocking(move || store.list_sessions(Some(&user)).map_err(user_err)).await?;
    Ok(SessionList {
        sessions: sessions
            .into_iter()
            .map(|s| SessionInfo {
                current: Some(&s.id) == current.as_ref(),
                id: s.id,
                user: s.user,
                created_at: rfc3339(s.created_ms),
                expires_at: rfc3339(s.expires_ms),
                client: s.client,
            })
            .collect(),
    })
}

async fn sessions_revoke(
    (principal, store): (Principal, Arc<Store>),
    params: RevokeSession,
) -> Result<Revoked, ErrorBody> {
    let me = principal.user.clone();
    let admin = principal.role == Role::Admin;
    let n = blocking(move || {
        store
            .revoke_sessions_where(|s| s.id == params.id && (admin || s.user == me))
            .map_err(user_err)
    })
    .await?;
    if n == 0 {
        return Err(ErrorBody::new(ErrorCode::NotFound, "no such session"));
    }
    Ok(Revoked { revoked: n })
}

async fn totp_enroll(
    (principal, client, guard): (Principal, SocketAddr, PasswordGuard),
    params: ConfirmPassword,
) -> Result<TotpEnrollment, ErrorBody> {
    own_account(&principal)?;
    confirm_password(&guard, &principal, client, params.password, "password").await?;
    let me = principal.user.clone();
    let engine = Arc::clone(&guard.engine);
    blocking(move || {
        let secret = totp::new_secret();
        let sealed = engine.secret_key.seal(secret.as_bytes());
        engine
            .store
            .update_user(&me, |u| {
                if u.totp_enabled() {
                    return Err(UserError::Conflict(
                        "two-factor authentication is already on; disable it first".to_owned(),
                    ));
                }
                u.totp = Some(TotpState {
                    sealed_secret: sealed,
                    confirmed: false,
                    recovery: vec![],
                    last_step: 0,
                });
                Ok(())
            })
            .map_err(user_err)?;
        let uri = totp::uri(&secret, &me);
        Ok(TotpEnrollment {
            qr_svg: totp::qr_svg(&uri),
            uri,
            secret,
        })
    })
    .await
}

async fn totp_confirm(
    (principal, engine): (Principal, Arc<Engine>),
    params: TotpCode,
) -> Result<RecoveryCodes, ErrorBody> {
    own_account(&principal)?;
    let me = principal.user.clone();
    blocking(move || {
        let (codes, hashes) = totp::new_recovery_codes();
        let mut outcome = Err(bad_field("code", "start with auth.totp.enroll"));
        engine
            .store
            .update_user(&me, |u| {
                let Some(t) = u.totp.as_mut() else {
                    return Ok(());
                };
                if t.confirmed {
                    outcome = Err(ErrorBody::new(
                        ErrorCode::Conflict,
                        "two-factor authentication is already on",
                    ));
                    return Ok(());
                }
                match t.check(&engine.secret_key, &params.code, now_ms() / 1000) {
                    Some(ok @ totp::Accepted::Totp { .. }) => {
                        t.consume(ok);
                        t.confirmed = true;
                        t.recovery = hashes;
                        outcome = Ok(());
                    }
                    _ => {
                        outcome = Err(bad_field(
                            "code",
                            "that code is not valid now; check the time on your device",
                        ))
                    }
                }
                Ok(())
            })
            .map_err(user_err)?;
        outcome.map(|()| RecoveryCodes { codes })
    })
    .await
}

async fn totp_disable(
    (principal, client, guard): (Principal, SocketAddr, PasswordGuard),
    params: ConfirmPassword,
) -> Result<Empty, ErrorBody> {
    own_account(&principal)?;
    confirm_password(&guard, &principal, client, params.password, "password").await?;
    let me = principal.user.clone();
    let store = Arc::clone(&guard.engine.store);
    blocking(move || {
        store
            .update_user(&me, |u| {
                u.totp = None;
                Ok(())
            })
            .map_err(user_err)?;
        Ok(Empty {})
    })
    .await
}

/// Security settings (password, second factor) belong to the account holder: an API
/// token capped below its user's role — handed to a script to *read* — must not be
/// able to change them (and so raise itself back to the user's full power).
fn own_account(principal: &Principal) -> Result<(), ErrorBody> {
    if principal.role < principal.user_role {
        return Err(ErrorBody::new(
            ErrorCode::Forbidden,
            "a token limited to a lower role cannot change security settings; log in instead",
        ));
    }
    Ok(())
}

/// The caller's password, checked like a login: behind the per-user and per-IP
/// lockout (so this is no unthrottled password oracle) and the hashing gate. `field`
/// names the parameter a wrong password is reported against.
async fn confirm_password(
    guard: &PasswordGuard,
    principal: &Principal,
    client: SocketAddr,
    password: String,
    field: &str,
) -> Result<(), ErrorBody> {
    let ip = client.ip();
    let me = principal.user.clone();
    let name = me.clone();
    let checked = guarded(guard, ip, &me, move |engine| {
        engine
            .store
            .get_user(&name)
            .map(|u| u.is_some_and(|u| password::verify(&password, &u.password_hash)))
    })
    .await;
    match checked {
        Ok(Ok(true)) => {
            guard.limiter.success(ip, &me);
            Ok(())
        }
        Ok(Ok(false)) => Err(bad_field(
            field,
            if field == "current" {
                "the current password is wrong"
            } else {
                "the password is wrong"
            },
        )),
        Ok(Err(e)) => Err(user_err(e)),
        Err(Refusal::Locked(wait)) => Err(ErrorBody::new(
            ErrorCode::RateLimited,
            format!(
                "too many wrong passwords; try again in {} s",
                wait.as_secs().max(1)
            ),
        )
        .with_details(serde_json::json!({ "retry_after_s": wait.as_secs().max(1) }))),
        Err(Refusal::Busy) => Err(ErrorBody::new(
            ErrorCode::Unavailable,
            "too many password checks at once; try again in a second",
        )),
        Err(Refusal::Internal(e)) => Err(internal(&e)),
    }
}
