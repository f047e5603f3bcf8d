//! Types that cross the wire between the Berth host and its clients.
//!
//! This crate has no runtime dependencies (no tokio, no axum) so that it compiles to
//! `wasm32-unknown-unknown` for the web UI. The host, the UI and the client SDK all use
//! these types; no other types go on the wire.

pub mod health;

/// Version of this crate, which is the Berth version the types belong to.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
