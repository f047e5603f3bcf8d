//! Identity at rest: users, their roles and password hashes, and the first admin.
//!
//! Passwords are hashed with argon2id (see [`password`] for the parameters); users live
//! in the `users` table of the store. There is no default password: the first admin
//! comes from `BERTH_ADMIN_USER` / `BERTH_ADMIN_PASSWORD` or gets a random password that
//! is printed once ([`bootstrap`]).

pub mod bootstrap;
pub mod hashgate;
pub mod password;
pub mod principal;
pub mod ratelimit;
pub mod sessions;
pub mod tokens;
pub mod totp;
pub mod users;

pub use users::{User, UserError};
