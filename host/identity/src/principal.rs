//! Who a bearer secret belongs to: a login session (the cookie, a session token) or an
//! API token (`berth_…`), resolved against the store at the moment of asking.

use crate::prelude::*;
use berth_protocol::api::tokens::TOKEN_PREFIX;
use berth_protocol::role::Role;

use super::UserError;
use berth_core::store::Store;

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user: String,
    /// The role in effect: the user's, capped by the token's.
    pub role: Role,
    pub user_role: Role,
    pub totp_enabled: bool,
    /// The password is a generated one that must be changed before anything else.
    pub must_change_password: bool,
    pub via: Via,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    Session {
        id: String,
        expires_ms: u64,
    },
    Token {
        id: String,
        name: String,
        expires_ms: Option<u64>,
    },
}

impl Principal {
    /// Who asked, as a job records it: the user, and the token's name when one was
    /// used.
    pub fn actor(&self) -> String {
        match self.token_name() {
            Some(t) => format!("{} (token {t})", self.user),
            None => self.user.clone(),
        }
    }

    /// The token name, for the audit log.
    pub fn token_name(&self) -> Option<&str> {
        match &self.via {
            Via::Token { name, .. } => Some(name),
            Via::Session { .. } => None,
        }
    }
}

pub trait Authenticate: UsersTable + TokensTable + SessionsTable {
    /// Resolves a secret; `None` when it is unknown, expired, revoked, or its user is gone.
    fn authenticate(&self, secret: &str) -> Result<Option<Principal>, UserError> {
        if secret.starts_with(TOKEN_PREFIX) {
            let Some(tok) = self.token_for_secret(secret)? else {
                return Ok(None);
            };
            let Some(user) = self.get_user(&tok.user)? else {
                return Ok(None);
            };
            return Ok(Some(Principal {
                role: tok.role.min(user.role),
                user_role: user.role,
                totp_enabled: user.totp_enabled(),
                must_change_password: user.must_change_password,
                user: user.name,
                via: Via::Token {
                    id: tok.id,
                    name: tok.name,
                    expires_ms: tok.expires_ms,
                },
            }));
        }
        let Some(session) = self.session_for_token(secret)? else {
            return Ok(None);
        };
        let Some(user) = self.get_user(&session.user)? else {
            return Ok(None);
        };
        Ok(Some(Principal {
            role: user.role,
            user_role: user.role,
            totp_enabled: user.totp_enabled(),
            must_change_password: user.must_change_password,
            user: user.name,
            via: Via::Session {
                id: session.id,
                expires_ms: session.expires_ms,
            },
        }))
    }
}

impl Authenticate for Store {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_never_exceeds_its_user_and_follows_demotion() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("s.redb"), &[crate::tables]).unwrap();
        s.create_user("root", Role::Admin, "password-of-root")
            .unwrap();
        s.create_user("ops", Role::Admin, "password-of-ops1")
            .unwrap();
        let (secret, _) = s.create_token("ops", "ci", Role::Operator, None).unwrap();
        let p = s.authenticate(&secret).unwrap().unwrap();
        assert_eq!((p.role, p.user_role), (Role::Operator, Role::Admin));
        let gen_before = s.identity_generation();
        s.update_user("ops", |u| {
            u.role = Role::Viewer;
            Ok(())
        })
        .unwrap();
        assert!(s.identity_generation() > gen_before);
        assert_eq!(s.authenticate(&secret).unwrap().unwrap().role, Role::Viewer);
        let (session, _) = s.create_session("ops", 60_000, "127.0.0.1").unwrap();
        assert!(s.authenticate(&session).unwrap().is_some());
        s.delete_user("ops").unwrap();
        assert_eq!(s.authenticate(&secret).unwrap(), None);
        assert_eq!(s.authenticate(&session).unwrap(), None);
        assert!(
            matches!(s.delete_user("root"), Err(UserError::Conflict(_))),
            "the last admin stays"
        );
    }
}
