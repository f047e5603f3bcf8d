//! Berth's server: the HTTP service ([`server`]), the multiplexed WebSocket ([`ws`])
//! with the protocol's handlers ([`api`]), password login ([`login`]), archive
//! transfers ([`transfers`]), host statistics ([`hoststats`]), the embedded web app
//! ([`ui`]) and the validated configuration ([`config`]).
//!
//! This is the only crate that knows the wire: the domain crates below it (engine,
//! docker, plugins, identity, core) return their own typed errors, and [`errors`] maps
//! them to protocol errors, in one place.

// Host functions stay short enough to read whole (threshold in clippy.toml);
// a longer one is split by phase, or carries a reasoned `#[expect]`.
#![warn(clippy::too_many_lines)]

pub mod api;
pub mod config;
pub mod errors;
pub mod hoststats;
pub mod login;
pub mod metrics;
pub mod proxies;
pub mod server;
pub mod tls;
pub mod transfers;
pub mod ui;
pub mod ws;

/// Berth's version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
