//! The `users` table: one JSON record per user name.

use berth_protocol::role::Role;
use redb::{ReadableDatabase, ReadableTable, ReadableTableMetadata};
use serde::{Deserialize, Serialize};

use super::password;
use berth_core::records::RecordTable;
use berth_core::store::{Store, StoreError};

pub(crate) const USERS: RecordTable<User> = RecordTable::new("users", "user");

/// A user as stored. The hash never leaves the host.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub name: String,
    pub role: Role,
    pub password_hash: String,
    pub created_ms: u64,
    pub updated_ms: u64,
    /// The second factor, once enrolled (see `identity::totp`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totp: Option<super::totp::TotpState>,
    /// A generated password that was written to a file: nothing but a password change
    /// is allowed until the user sets their own.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub must_change_password: bool,
}

impl User {
    /// Whether login needs a TOTP code.
    pub fn totp_enabled(&self) -> bool {
        self.totp.as_ref().is_some_and(|t| t.confirmed)
    }
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("name", &self.name)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error(
        "invalid user name {0:?}: use 1–32 of a-z, 0-9, '.', '_', '-', starting with a letter or digit"
    )]
    InvalidName(String),
    #[error("password {0}")]
    Policy(String),
    #[error("user {0:?} already exists")]
    Exists(String),
    #[error("no user {0:?}")]
    NotFound(String),
    #[error("cannot hash password: {0}")]
    Hash(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Conflict(String),
}

berth_core::from_redb!(UserError:
    redb::Error,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

/// Lower-case names so that `Alice` and `alice` are one account.
pub fn validate_name(name: &str) -> Result<(), UserError> {
    let ok = (1..=32).contains(&name.len())
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(UserError::InvalidName(name.to_owned()))
    }
}

pub use berth_core::time::now_ms;

fn decode(name: &str, bytes: &[u8]) -> Result<User, UserError> {
    Ok(USERS.decode(name, bytes)?)
}

pub trait UsersTable: berth_core::store::StoreAccess {
    /// Creates a user; fails if the name is taken.
    fn create_user(&self, name: &str, role: Role, password: &str) -> Result<User, UserError> {
        validate_name(name)?;
        password::check_policy_min(password, password::min_length(self))
            .map_err(UserError::Policy)?;
        let now = now_ms();
        let user = User {
            name: name.to_owned(),
            role,
            password_hash: password::hash(password).map_err(UserError::Hash)?,
            created_ms: now,
            updated_ms: now,
            totp: None,
            must_change_password: false,
        };
        let tx = self.db().begin_write()?;
        {
            let mut t = tx.open_table(USERS.definition())?;
            if t.get(name)?.is_some() {
                return Err(UserError::Exists(name.to_owned()));
            }
            t.insert(name, USERS.encode(&user).as_slice())?;
        }
        tx.commit()?;
        Ok(user)
    }

    fn get_user(&self, name: &str) -> Result<Option<User>, UserError> {
        let tx = self.db().begin_read()?;
        let t = tx.open_table(USERS.definition())?;
        t.get(name)?.map(|v| decode(name, v.value())).transpose()
    }

    /// All users, ordered by name.
    fn list_users(&self) -> Result<Vec<User>, UserError> {
        let tx = self.db().begin_read()?;
        let t = tx.open_table(USERS.definition())?;
        t.iter()?
            .map(|r| {
                let (k, v) = r?;
                decode(k.value(), v.value())
            })
            .collect()
    }

    fn count_users(&self) -> Result<u64, UserError> {
        let tx = self.db().begin_read()?;
        Ok(tx.open_table(USERS.definition())?.len()?)
    }

    /// Replaces a user's password (which ends any demand to change it).
    fn set_password(&self, name: &str, password: &str) -> Result<(), UserError> {
        password::check_policy_min(password, password::min_length(self))
            .map_err(UserError::Policy)?;
        let hash = password::hash(password).map_err(UserError::Hash)?;
        self.update_user(name, |u| {
            if u.must_change_password && password::verify(password, &u.password_hash) {
                return Err(UserError::Policy(
                    "must differ from the generated one".to_owned(),
                ));
            }
            u.password_hash = hash;
            u.must_change_password = false;
            Ok(())
        })
        .map(drop)
    }

    /// Changes a user record in one transaction; `change` may refuse with an error.
    fn update_user(
        &self,
        name: &str,
        change: impl FnOnce(&mut User) -> Result<(), UserError>,
    ) -> Result<User, UserError> {
        let tx = self.db().begin_write()?;
        let user = {
            let mut t = tx.open_table(USERS.definition())?;
            let mut user = match t.get(name)? {
                Some(v) => decode(name, v.value())?,
                None => return Err(UserError::NotFound(name.to_owned())),
            };
            let role_before = user.role;
            change(&mut user)?;
            // The last admin cannot demote themselves into a locked-out installation.
            if role_before == Role::Admin && user.role != Role::Admin {
                ensure_another_admin(&t, name)?;
            }
            user.updated_ms = now_ms();
            t.insert(name, USERS.encode(&user).as_slice())?;
            user
        };
        tx.commit()?;
        self.identity_changed();
        Ok(user)
    }

    /// Deletes a user with their sessions and API tokens, in one transaction. The last
    /// admin cannot be deleted.
    fn delete_user(&self, name: &str) -> Result<(), UserError> {
        let tx = self.db().begin_write()?;
        {
            let mut t = tx.open_table(USERS.definition())?;
            let user = match t.get(name)? {
                Some(v) => decode(name, v.value())?,
                None => return Err(UserError::NotFound(name.to_owned())),
            };
            if user.role == Role::Admin {
                ensure_another_admin(&t, name)?;
            }
            t.remove(name)?;
            let mut sessions = tx.open_table(super::sessions::SESSIONS.definition())?;
            sessions.retain(|_, v| !super::sessions::belongs_to(v, name))?;
            let mut tokens = tx.open_table(super::tokens::TOKENS.definition())?;
            tokens.retain(|_, v| !super::tokens::belongs_to(v, name))?;
        }
        tx.commit()?;
        self.identity_changed();
        Ok(())
    }
}

impl UsersTable for Store {}

fn ensure_another_admin(t: &redb::Table<'_, &str, &[u8]>, except: &str) -> Result<(), UserError> {
    for r in t.iter()? {
        let (k, v) = r?;
        if k.value() != except && decode(k.value(), v.value())?.role == Role::Admin {
            return Ok(());
        }
    }
    Err(UserError::Conflict(format!(
        "{except:?} is the last admin; make another user admin first"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("s.redb"), &[crate::tables]).unwrap();
        (dir, s)
    }

    #[test]
    fn names_are_validated() {
        for ok in ["alice", "a", "ops-team.1", "9lives", "x_y"] {
            assert!(validate_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "Alice", "-x", ".x", "a b", "ä", &"a".repeat(33)] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn create_get_list_and_change_password() {
        let (_d, s) = store();
        assert_eq!(s.count_users().unwrap(), 0);
        s.create_user("bob", Role::Viewer, "password-of-bob")
            .unwrap();
        s.create_user("alice", Role::Admin, "password-of-alice")
            .unwrap();
        assert!(matches!(
            s.create_user("bob", Role::Admin, "another-password"),
            Err(UserError::Exists(_))
        ));
        assert!(matches!(
            s.create_user("carol", Role::Admin, "short"),
            Err(UserError::Policy(_))
        ));
        let names: Vec<String> = s
            .list_users()
            .unwrap()
            .into_iter()
            .map(|u| u.name)
            .collect();
        assert_eq!(names, ["alice", "bob"]);

        let alice = s.get_user("alice").unwrap().unwrap();
        assert_eq!(alice.role, Role::Admin);
        assert!(password::verify("password-of-alice", &alice.password_hash));
        s.set_password("alice", "a-new-password").unwrap();
        let alice = s.get_user("alice").unwrap().unwrap();
        assert!(password::verify("a-new-password", &alice.password_hash));
        assert!(!password::verify("password-of-alice", &alice.password_hash));
        assert!(matches!(
            s.set_password("nobody", "a-new-password"),
            Err(UserError::NotFound(_))
        ));
        assert!(
            !format!("{alice:?}").contains("argon2"),
            "Debug hides the hash"
        );
    }
}
