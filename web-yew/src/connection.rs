//! The connection to the Berth server, as the UI sees it.
//!
//! Until the WebSocket protocol lands this is the server's readiness (`GET /readyz`),
//! fetched at start, when the browser comes back online, and when the user clicks the
//! indicator. It is shared through a context so the dashboard shows the same facts.

use berth_protocol::health::Readiness;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use yew::prelude::*;

#[derive(Debug, Clone, PartialEq)]
pub enum Status {
    Checking,
    /// The server answered; it may or may not be ready.
    Answered(Readiness),
    /// No answer: the server is down or the network is.
    Unreachable(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Connection {
    pub status: Status,
    pub recheck: Callback<()>,
}

fn js_error(v: JsValue) -> String {
    v.as_string()
        .or_else(|| {
            v.dyn_ref::<js_sys::Error>()
                .map(|e| String::from(e.message()))
        })
        .unwrap_or_else(|| "request failed".to_owned())
}

async fn fetch_readiness() -> Result<Readiness, String> {
    let window = web_sys::window().ok_or("no window")?;
    let response: web_sys::Response = JsFuture::from(window.fetch_with_str("/readyz"))
        .await
        .map_err(js_error)?
        .dyn_into()
        .map_err(js_error)?;
    let text = JsFuture::from(response.text().map_err(js_error)?)
        .await
        .map_err(js_error)?;
    serde_json::from_str(&text.as_string().unwrap_or_default()).map_err(|e| {
        format!(
            "unexpected answer from /readyz (HTTP {}): {e}",
            response.status()
        )
    })
}

#[derive(Debug, PartialEq, Properties)]
pub struct ProviderProps {
    pub children: Html,
}

/// Owns the connection state and shares it with the app.
#[function_component(ConnectionProvider)]
pub fn connection_provider(props: &ProviderProps) -> Html {
    let status = use_state(|| Status::Checking);
    let recheck = {
        let status = status.clone();
        use_callback((), move |(), _| {
            let status = status.clone();
            status.set(Status::Checking);
            wasm_bindgen_futures::spawn_local(async move {
                status.set(match fetch_readiness().await {
                    Ok(r) => Status::Answered(r),
                    Err(e) => Status::Unreachable(e),
                });
            });
        })
    };
    {
        let recheck = recheck.clone();
        use_effect_with((), move |_| {
            recheck.emit(());
            let on_online = Closure::<dyn Fn()>::new(move || recheck.emit(()));
            let window = web_sys::window();
            if let Some(w) = &window {
                let _ = w
                    .add_event_listener_with_callback("online", on_online.as_ref().unchecked_ref());
            }
            move || {
                if let Some(w) = window {
                    let _ = w.remove_event_listener_with_callback(
                        "online",
                        on_online.as_ref().unchecked_ref(),
                    );
                }
            }
        });
    }
    let connection = Connection {
        status: (*status).clone(),
        recheck,
    };
    html! {
        <ContextProvider<Connection> context={connection}>{ props.children.clone() }</ContextProvider<Connection>>
    }
}

/// The dot and label in the top bar; click to check again.
#[function_component(ConnectionIndicator)]
pub fn connection_indicator() -> Html {
    let Some(conn) = use_context::<Connection>() else {
        return html! {};
    };
    let (class, label, title) = match &conn.status {
        Status::Checking => (
            "checking",
            "Checking…".to_owned(),
            "Contacting the server".to_owned(),
        ),
        Status::Answered(r) if r.ready => ("ok", "Connected".to_owned(), "Server ready".to_owned()),
        Status::Answered(r) => (
            "degraded",
            "Degraded".to_owned(),
            r.failures()
                .map(|c| format!("{}: {}", c.name, c.detail))
                .collect::<Vec<_>>()
                .join("\n"),
        ),
        Status::Unreachable(e) => ("down", "Disconnected".to_owned(), e.clone()),
    };
    let onclick = {
        let recheck = conn.recheck.clone();
        Callback::from(move |_| recheck.emit(()))
    };
    html! {
        <button id="connection" type="button" class={classes!("connection", class)} {onclick} {title}
                aria-live="polite" data-state={class}>
            <span class="dot" aria-hidden="true"></span>{ label }
        </button>
    }
}
