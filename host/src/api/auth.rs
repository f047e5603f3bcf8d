//! `auth.*`: the caller's identity, password, sessions and second factor.

use std::time::Instant;

use berth_protocol::api::Empty;
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
use crate::identity::principal::Via;
use crate::identity::totp::{self, TotpState};
use crate::identity::users::now_ms;
use crate::identity::{UserError, password};
use crate::ws::registry::{Registry, bad_field, forbidden};

pub fn register(r: &mut Registry) {
    r.method(AuthWhoami, |call, _: Empty| async move {
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
        })
    });

    r.method(AuthChangePassword, |call, params| async move {
        let ip = call.client.ip();
        let me = call.principal.user.clone();
        let keep = match &call.principal.via {
            Via::Session { id, .. } => Some(id.clone()),
            Via::Token { .. } => None,
        };
        if let Err(wait) = call.state.limiter.check(ip, &me, Instant::now()) {
            return Err(ErrorBody::new(
                ErrorCode::RateLimited,
                format!(
                    "too many wrong passwords; try again in {} s",
                    wait.as_secs().max(1)
                ),
            ));
        }
        let ok = call
            .blocking(move |st| {
                let user = st.store.get_user(&me).map_err(user_err)?.ok_or_else(|| {
                    ErrorBody::new(ErrorCode::NotFound, "your account no longer exists")
                })?;
                if !password::verify(&params.current, &user.password_hash) {
                    return Ok(false);
                }
                st.store.set_password(&me, &params.new).map_err(user_err)?;
                // Everyone else holding this password's sessions is signed out.
                st.store
                    .revoke_sessions_where(|s| s.user == me && Some(&s.id) != keep.as_ref())
                    .map_err(user_err)?;
                Ok(true)
            })
            .await?;
        if !ok {
            call.state
                .limiter
                .failure(ip, &call.principal.user, Instant::now());
            return Err(bad_field("current", "the current password is wrong"));
        }
        Ok(Empty {})
    });

    r.method(AuthSessionsList, |call, params| async move {
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
    });

    r.method(AuthSessionsRevoke, |call, params| async move {
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
    });

    r.method(AuthTotpEnroll, |call, _: Empty| async move {
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
    });

    r.method(AuthTotpConfirm, |call, params| async move {
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
    });

    r.method(AuthTotpDisable, |call, params| async move {
        let me = call.principal.user.clone();
        call.blocking(move |st| {
            let user = st
                .store
                .get_user(&me)
                .map_err(user_err)?
                .ok_or_else(|| ErrorBody::new(ErrorCode::NotFound, "no such user"))?;
            if !password::verify(&params.password, &user.password_hash) {
                return Err(bad_field("password", "the password is wrong"));
            }
            st.store
                .update_user(&me, |u| {
                    u.totp = None;
                    Ok(())
                })
                .map_err(user_err)?;
            Ok(Empty {})
        })
        .await
    });
}
