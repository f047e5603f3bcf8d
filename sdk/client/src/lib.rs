//! `berth-client`: an async Rust client for Berth's WebSocket protocol v1.
//!
//! ```no_run
//! use berth_client::Client;
//! use berth_protocol::api::Empty;
//! use berth_protocol::api::catalogue::{AuthWhoami, SystemStats};
//! use berth_protocol::api::system::SystemStatsParams;
//! use futures_util::StreamExt;
//!
//! # async fn demo() -> Result<(), berth_client::ClientError> {
//! let client = Client::connect("http://127.0.0.1:8080", "berth_…").await?;
//! let me = client.call::<AuthWhoami>(Empty {}).await?;
//! println!("{} ({:?})", me.user.name, me.role);
//! let mut stats = client.open::<SystemStats>(SystemStatsParams::default()).await?;
//! while let Some(sample) = stats.next().await {
//!     println!("cpu {:.1}%", sample?.cpu_percent);
//! }
//! # Ok(()) }
//! ```
//!
//! - [`Client::call`] sends a typed request (any method of
//!   `berth_protocol::api::catalogue`) and waits for its answer; [`Client::call_raw`]
//!   takes a method name and JSON.
//! - [`Client::open`] opens a channel and returns a [`Subscription`], a `Stream` of its
//!   data that returns flow-control credit as items are consumed.
//! - [`BinaryChannel`] (from [`Client::open_binary`]) is `AsyncRead` + `AsyncWrite` for
//!   byte channels (terminals, logs).
//! - [`http::login`] exchanges a user name and password for a session token;
//!   [`backoff`] gives jittered reconnection delays.

// Needs no unsafe code; forbid (the workspace only denies) keeps it that way.
#![forbid(unsafe_code)]

pub mod backoff;
mod binary;
mod client;
mod error;
pub mod http;
mod tls;

pub use binary::BinaryChannel;
pub use client::{Client, ConnectOptions, Subscription};
pub use error::ClientError;
