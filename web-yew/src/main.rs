//! Berth's web UI: a Yew single-page app compiled to wasm32 and embedded in the host.

// Needs no unsafe code; forbid (the workspace only denies) keeps it that way.
#![forbid(unsafe_code)]
// Components stay short (CONTRIBUTING.md): the same limit as the host's functions.
#![warn(clippy::too_many_lines)]

mod app;
mod components;
mod connection;
mod format;
mod hooks;
mod http;
mod login;
mod pages;
mod route;
mod stats_feed;
mod theme;
mod ws;

fn main() {
    yew::Renderer::<app::App>::new().render();
}
