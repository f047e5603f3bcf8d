//! `users.*` (admin): accounts, roles, password resets.

use std::collections::HashMap;
use std::sync::Arc;

use berth_protocol::api::Empty;
use berth_protocol::api::catalogue::{UsersCreate, UsersDelete, UsersList, UsersUpdate};
use berth_protocol::api::rfc3339;
use berth_protocol::api::users::CreateUser;
use berth_protocol::api::users::UpdateUser;
use berth_protocol::api::users::UserName;
use berth_protocol::api::users::{UserList, UserSummary};
use berth_protocol::error::{ErrorBody, ErrorCode};

use super::user_err;
use crate::ws::registry::{Registry, blocking};
use berth_core::store::Store;
use berth_identity::prelude::*;
use berth_identity::principal::Principal;
use berth_identity::{User, password};

fn summary(u: &User, sessions: u32) -> UserSummary {
    UserSummary {
        name: u.name.clone(),
        role: u.role,
        created_at: rfc3339(u.created_ms),
        updated_at: rfc3339(u.updated_ms),
        totp_enabled: u.totp_enabled(),
        sessions,
    }
}

fn live_sessions(store: &Store, user: Option<&str>) -> Result<HashMap<String, u32>, ErrorBody> {
    let mut n = HashMap::new();
    for s in store.list_sessions(user).map_err(user_err)? {
        *n.entry(s.user).or_insert(0) += 1;
    }
    Ok(n)
}

pub fn register(r: &mut Registry) {
    r.method(UsersList, list);
    r.method(UsersCreate, create);
    r.method(UsersUpdate, update);
    r.method(UsersDelete, delete);
}

async fn list(store: Arc<Store>, _: Empty) -> Result<UserList, ErrorBody> {
    blocking(move || {
        let counts = live_sessions(&store, None)?;
        let users = store.list_users().map_err(user_err)?;
        Ok(UserList {
            users: users
                .iter()
                .map(|u| summary(u, counts.get(&u.name).copied().unwrap_or(0)))
                .collect(),
        })
    })
    .await
}

async fn create(store: Arc<Store>, params: CreateUser) -> Result<UserSummary, ErrorBody> {
    blocking(move || {
        let u = store
            .create_user(&params.name, params.role, &params.password)
            .map_err(user_err)?;
        Ok(summary(&u, 0))
    })
    .await
}

async fn update(store: Arc<Store>, params: UpdateUser) -> Result<UserSummary, ErrorBody> {
    blocking(move || {
        let hash = match &params.password {
            Some(p) => {
                password::check_policy_min(p, password::min_length(&*store)).map_err(|e| {
                    crate::ws::registry::bad_field("password", format!("password {e}"))
                })?;
                Some(password::hash(p).map_err(|e| crate::ws::registry::internal(&e))?)
            }
            None => None,
        };
        let u = store
            .update_user(&params.name, |u| {
                if let Some(role) = params.role {
                    u.role = role;
                }
                if let Some(h) = hash {
                    u.password_hash = h;
                }
                if params.reset_totp {
                    u.totp = None;
                }
                Ok(())
            })
            .map_err(user_err)?;
        if params.revoke_sessions || params.password.is_some() {
            store
                .revoke_sessions_where(|s| s.user == u.name)
                .map_err(user_err)?;
        }
        let n = live_sessions(&store, Some(&u.name))?;
        Ok(summary(&u, n.get(&u.name).copied().unwrap_or(0)))
    })
    .await
}

async fn delete(
    (principal, store): (Principal, Arc<Store>),
    params: UserName,
) -> Result<Empty, ErrorBody> {
    if params.name == principal.user {
        return Err(ErrorBody::new(
            ErrorCode::Conflict,
            "you cannot delete your own account; ask another admin",
        ));
    }
    blocking(move || store.delete_user(&params.name).map_err(user_err)).await?;
    Ok(Empty {})
}
