//! The connection indicator in the top bar, driven by the protocol client's state.

use yew::prelude::*;

use crate::ws::{WsState, use_ws};

/// The dot and label; click to reconnect now.
#[function_component(ConnectionIndicator)]
pub fn connection_indicator() -> Html {
    let ctx = use_ws();
    let (class, label, title) = match &ctx.state {
        WsState::Connecting => (
            "checking",
            "Connecting…",
            "Contacting the server".to_owned(),
        ),
        WsState::Open(_) => (
            "ok",
            "Connected",
            "Live connection to the server".to_owned(),
        ),
        WsState::Down(why) => (
            "down",
            "Disconnected",
            format!("{why}; retrying — click to retry now"),
        ),
        WsState::LoggedOut => ("down", "Logged out", "Log in to connect".to_owned()),
    };
    let onclick = {
        let ws = ctx.ws.clone();
        Callback::from(move |_| {
            if matches!(ws.state(), WsState::Down(_)) {
                ws.connect();
            }
        })
    };
    html! {
        <button id="connection" type="button" class={classes!("connection", class)} {onclick} {title}
                aria-live="polite" data-state={class}>
            <span class="dot" aria-hidden="true"></span>{ label }
        </button>
    }
}
