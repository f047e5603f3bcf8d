//! Berth's web UI: a Yew single-page app compiled to wasm32 and embedded in the host.

mod app;
mod connection;
mod http;
mod login;
mod pages;
mod route;
mod theme;
mod ws;

fn main() {
    yew::Renderer::<app::App>::new().render();
}
