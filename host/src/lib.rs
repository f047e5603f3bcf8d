//! Berth's host: the `berth` binary's library.
//!
//! See ARCHITECTURE.md for the map. In short: [`config`] builds the validated
//! configuration, [`datadir`] locks the data directory, [`store`] opens redb, [`identity`] holds users,
//! [`docker`] owns the Docker connection, [`ws`] serves the WebSocket protocol with
//! the handlers in [`api`], [`audit`] keeps the audit log, [`plugins`] runs WebAssembly plugins, [`ui`]
//! serves the embedded web app, and [`server`] ties them into the HTTP service.

pub mod alloc;
pub mod api;
pub mod audit;
pub mod backup;
pub mod config;
pub mod datadir;
pub mod docker;
pub mod hoststats;
pub mod identity;
pub mod jobs;
pub mod login;
pub mod plugins;
pub mod secrets;
pub mod server;
pub mod store;
pub mod telemetry;
pub mod text;
pub mod transfers;
pub mod ui;
pub mod ws;

/// Berth's version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
