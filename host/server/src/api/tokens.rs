//! `tokens.*`: API tokens.

use berth_protocol::api::auth::Revoked;
use berth_protocol::api::catalogue::{TokensCreate, TokensList, TokensRevoke};
use berth_protocol::api::rfc3339;
use berth_protocol::api::tokens::CreateToken;
use berth_protocol::api::tokens::ListTokens;
use berth_protocol::api::tokens::RevokeToken;
use berth_protocol::api::tokens::{CreatedToken, TokenInfo, TokenList};
use berth_protocol::error::{ErrorBody, ErrorCode};
use berth_protocol::role::Role;

use super::user_err;
use std::sync::Arc;

use crate::ws::registry::{Registry, bad_field, blocking, forbidden};
use berth_core::store::Store;
use berth_identity::prelude::*;
use berth_identity::principal::Principal;
use berth_identity::principal::Via;
use berth_identity::tokens::ApiToken;

const MAX_DAYS: u32 = 3650;

fn info(t: ApiToken) -> TokenInfo {
    TokenInfo {
        id: t.id,
        name: t.name,
        user: t.user,
        role: t.role,
        created_at: rfc3339(t.created_ms),
        expires_at: t.expires_ms.map(rfc3339),
        last_used_at: t.last_used_ms.map(rfc3339),
    }
}

pub fn register(r: &mut Registry) {
    r.method(TokensCreate, create);
    r.method(TokensList, list);
    r.method(TokensRevoke, revoke);
}

async fn create(
    (principal, store): (Principal, Arc<Store>),
    params: CreateToken,
) -> Result<CreatedToken, ErrorBody> {
    let mine = principal.role;
    let role = params.role.unwrap_or(mine);
    if !mine.allows(role) {
        return Err(ErrorBody::new(
            ErrorCode::Forbidden,
            format!(
                "a token cannot have more rights than its creator ({})",
                mine.as_str()
            ),
        ));
    }
    let ttl = match params.expires_in_days {
        None => None,
        Some(d) if (1..=MAX_DAYS).contains(&d) => Some(u64::from(d) * 86_400_000),
        Some(_) => {
            return Err(bad_field(
                "expires_in_days",
                format!("between 1 and {MAX_DAYS} days, or absent for no expiry"),
            ));
        }
    };
    // A token that expires cannot mint one that outlives it: that would turn a
    // short-lived credential (a leaked CI secret) into a permanent one.
    if let Via::Token {
        expires_ms: Some(until),
        ..
    } = &principal.via
    {
        let now = berth_identity::users::now_ms();
        if ttl.is_none_or(|t| now + t > *until) {
            return Err(bad_field(
                "expires_in_days",
                format!(
                    "this token expires at {}; a token it creates must expire no later",
                    rfc3339(*until)
                ),
            ));
        }
    }
    let me = principal.user.clone();
    let (secret, token) = blocking(move || {
        store
            .create_token(&me, &params.name, role, ttl)
            .map_err(user_err)
    })
    .await?;
    Ok(CreatedToken {
        token: info(token),
        secret,
    })
}

async fn list(
    (principal, store): (Principal, Arc<Store>),
    params: ListTokens,
) -> Result<TokenList, ErrorBody> {
    if params.all && principal.role != Role::Admin {
        return Err(forbidden(Role::Admin));
    }
    let me = (!params.all).then(|| principal.user.clone());
    let tokens = blocking(move || store.list_tokens(me.as_deref()).map_err(user_err)).await?;
    Ok(TokenList {
        tokens: tokens.into_iter().map(info).collect(),
    })
}

async fn revoke(
    (principal, store): (Principal, Arc<Store>),
    params: RevokeToken,
) -> Result<Revoked, ErrorBody> {
    let me = principal.user.clone();
    let admin = principal.role == Role::Admin;
    let removed = blocking(move || {
        store
            .revoke_token(&params.id, |t| admin || t.user == me)
            .map_err(user_err)
    })
    .await?;
    match removed {
        Some(_) => Ok(Revoked { revoked: 1 }),
        None => Err(ErrorBody::new(ErrorCode::NotFound, "no such token")),
    }
}
