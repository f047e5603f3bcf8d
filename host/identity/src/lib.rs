//! Identity: users, their roles and password hashes, login sessions, API tokens, the
//! second factor, the first admin, the login limits and the audit log.
//!
//! Passwords are hashed with argon2id (see [`password`] for the parameters); users live
//! in the `users` table of the store. There is no default password: the first admin
//! comes from `BERTH_ADMIN_USER` / `BERTH_ADMIN_PASSWORD` or gets a random password
//! written to a private file ([`bootstrap`]). Time is passed in or read from
//! `berth_core::time`; nothing here knows the wire or the server.

// Needs no unsafe code; forbid (the workspace only denies) keeps it that way.
#![forbid(unsafe_code)]
// Host functions stay short enough to read whole (threshold in clippy.toml);
// a longer one is split by phase, or carries a reasoned `#[expect]`.
#![warn(clippy::too_many_lines)]

pub mod audit;
pub mod bootstrap;
pub mod hashgate;
pub mod password;
pub mod principal;
pub mod ratelimit;
pub mod sessions;
pub mod tokens;
pub mod totp;
pub mod users;

pub use audit::AuditTable;
pub use principal::Authenticate;
pub use sessions::SessionsTable;
pub use tokens::TokensTable;
pub use users::{User, UserError, UsersTable};

/// The record traits, for `use berth_identity::prelude::*`.
pub mod prelude {
    pub use crate::{AuditTable, Authenticate, SessionsTable, TokensTable, UsersTable};
}

/// Creates this crate's tables (see `berth_core::store::Tables`).
pub fn tables(tx: &redb::WriteTransaction) -> Result<(), redb::TableError> {
    tx.open_table(users::USERS.definition())?;
    tx.open_table(sessions::SESSIONS.definition())?;
    tx.open_table(tokens::TOKENS.definition())?;
    tx.open_table(audit::AUDIT)?;
    Ok(())
}
