//! Types that cross the wire between the Berth host and its clients.
//!
//! This crate has no runtime dependencies (no tokio, no axum) so that it compiles to
//! `wasm32-unknown-unknown` for the web UI. The host, the UI and the client SDK all use
//! these types; no other types go on the wire.
//!
//! - [`wire`]: the WebSocket messages of protocol v1, one enum per direction;
//! - [`error`]: error bodies, codes and close codes;
//! - [`role`]: the roles every method and channel is authorised against;
//! - [`frame`]: binary data frames (terminal and log bytes);
//! - [`health`]: the `/healthz` and `/readyz` bodies;
//! - [`auth`]: the login request and answer, and the HTTP error body;
//! - [`api`]: parameters and results of every method and channel kind;
//! - [`storage_key`]: the object-key rule the host and every storage plugin share.

// Needs no unsafe code; forbid (the workspace only denies) keeps it that way.
#![forbid(unsafe_code)]

pub mod api;
pub mod auth;
pub mod error;
pub mod frame;
pub mod health;
pub mod role;
pub mod schema;
pub mod storage_key;
pub mod wire;

/// Version of this crate, which is the Berth version the types belong to.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
