//! `auth.*`: the caller's identity, password, sessions and second factor.

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
use crate::login::{Refusal, guarded};
use crate::ws::registry::{Call, Registry, bad_field, forbidden, internal};
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

async fn whoami(call: Call, _: Empty) -> Result<Whoami, ErrorBody> {
    let p = &call.principal;
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

async fn change_password(call: Call, params: ChangePassword) -> Result<Empty, ErrorBody> {
    own_account(&call)?;
    let me = call.principal.user.clone();
    let keep = match &call.principal.via {
        Via::Session { id, .. } => Some(id.clone()),
        Via::Token { .. } => None,
    };
    confirm_password(&call, params.current, "current").await?;
    call.blocking(move |st| {
        st.store.set_password(&me, &params.new).map_err(user_err)?;
        // A generated first password has done its job once replaced.
        let initial = berth_core::datadir::initial_password_path(&st.data_dir);
        if initial.exists() && let Err(e) = std::fs::remove_file(&initial) {
            tracing::warn!(file = %initial.display(), error = %e, "cannot delete the initial password file");
        }
        // Everyone else holding this password's sessions is signed out.
        st.store
            .revoke_sessions_where(|s| s.user == me && Some(&s.id) != keep.as_ref())
            .map_err(user_err)?;
        Ok(Empty {})
    })
    .await
}

async fn sessions_list(call: Call, params: ListSessions) -> Result<SessionList, ErrorBody> {
    let me = call.principal.user.clone();
    let user = params.user.unwrap_or_else(|| me.clone());
    if user != me && call.principal.role != Role::Admin {
        return Err(forbidden(Role::Admin));
    }
    let current = match &call.principal.via {
        Via::Session { id, .. } => Some(id.clone()),
        Via::Token { .. } => None,
    };
    let sessions = call
        .blocking(move |st| st.store.list_sessions(Some(&user)).map_err(user_err))
        .await?;
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

async fn sessions_revoke(call: Call, params: RevokeSession) -> Result<Revoked, ErrorBody> {
    let me = call.principal.user.clone();
    let admin = call.principal.role == Role::Admin;
    let n = call
        .blocking(move |st| {
            st.store
                .revoke_sessions_where(|s| s.id == params.id && (admin || s.user == me))
                .map_err(user_err)
        })
        .await?;
    if n == 0 {
        return Err(ErrorBody::new(ErrorCode::NotFound, "no such session"));
    }
    Ok(Revoked { revoked: n })
}

async fn totp_enroll(call: Call, params: ConfirmPassword) -> Result<TotpEnrollment, ErrorBody> {
    own_account(&call)?;
    confirm_password(&call, params.password, "password").await?;
    let me = call.principal.user.clone();
    call.blocking(move |st| {
        let secret = totp::new_secret();
        let sealed = st.secret_key.seal(secret.as_bytes());
        st.store
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

async fn totp_confirm(call: Call, params: TotpCode) -> Result<RecoveryCodes, ErrorBody> {
    own_account(&call)?;
    let me = call.principal.user.clone();
    call.blocking(move |st| {
        let (codes, hashes) = totp::new_recovery_codes();
        let mut outcome = Err(bad_field("code", "start with auth.totp.enroll"));
        st.store
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
                match t.check(&st.secret_key, &params.code, now_ms() / 1000) {
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

async fn totp_disable(call: Call, params: ConfirmPassword) -> Result<Empty, ErrorBody> {
    own_account(&call)?;
    confirm_password(&call, params.password, "password").await?;
    let me = call.principal.user.clone();
    call.blocking(move |st| {
        st.store
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
fn own_account(call: &Call) -> Result<(), ErrorBody> {
    if call.principal.role < call.principal.user_role {
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
async fn confirm_password(call: &Call, password: String, field: &str) -> Result<(), ErrorBody> {
    let ip = call.client.ip();
    let me = call.principal.user.clone();
    let name = me.clone();
    let checked = guarded(&call.state, ip, &me, move |st| {
        st.store
            .get_user(&name)
            .map(|u| u.is_some_and(|u| password::verify(&password, &u.password_hash)))
    })
    .await;
    match checked {
        Ok(Ok(true)) => {
            call.state.limiter.success(ip, &me);
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
