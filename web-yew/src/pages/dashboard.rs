//! The dashboard: the server's readiness checks and live host figures.

use berth_protocol::api::system::SystemStats;
use berth_protocol::health::Readiness;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use yew::prelude::*;

use super::bytes;
use crate::http::js_error;
use crate::ws::use_ws;

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

#[function_component(Dashboard)]
pub fn dashboard() -> Html {
    let ctx = use_ws();
    let readiness = use_state(|| None::<Result<Readiness, String>>);
    let stats = use_state(|| None::<SystemStats>);
    {
        let readiness = readiness.clone();
        use_effect_with((), move |()| {
            wasm_bindgen_futures::spawn_local(async move {
                readiness.set(Some(fetch_readiness().await));
            });
        });
    }
    {
        let stats = stats.clone();
        let ws = ctx.ws.clone();
        use_effect_with((), move |()| {
            let on_data = Callback::from(move |v| {
                if let Ok(s) = serde_json::from_value::<SystemStats>(v) {
                    stats.set(Some(s));
                }
            });
            let sub = ws.subscribe(
                "system.stats",
                serde_json::json!({"host": "local"}),
                1,
                on_data,
                Callback::noop(),
            );
            move || drop(sub)
        });
    }
    let host = match &*stats {
        None => html! { <p class="notice">{ "Waiting for the first sample…" }</p> },
        Some(s) => html! {
            <div class="tiles" id="host-stats" data-ts={s.ts_ms.to_string()}>
                <div class="tile"><span class="label">{ "CPU" }</span>
                    <span class="value" id="host-cpu">{ format!("{:.1} %", s.cpu_percent) }</span>
                    <meter min="0" max="100" value={s.cpu_percent.to_string()}></meter>
                    <span class="sub">{ format!("{} CPUs, load {:.2} {:.2} {:.2}", s.cpus, s.load[0], s.load[1], s.load[2]) }</span></div>
                <div class="tile"><span class="label">{ "Memory" }</span>
                    <span class="value" id="host-mem">{ format!("{} of {}", bytes(s.mem_used), bytes(s.mem_total)) }</span>
                    <meter min="0" max={s.mem_total.to_string()} value={s.mem_used.to_string()}></meter></div>
                <div class="tile"><span class="label">{ "Data disk" }</span>
                    <span class="value" id="host-disk">{ format!("{} free of {}", bytes(s.disk_free), bytes(s.disk_total)) }</span>
                    <meter min="0" max={s.disk_total.to_string()} value={(s.disk_total - s.disk_free.min(s.disk_total)).to_string()}></meter></div>
            </div>
        },
    };
    let checks = match &*readiness {
        None => html! { <p>{ "Checking the server…" }</p> },
        Some(Err(e)) => {
            html! { <p class="error">{ format!("The server is not reachable: {e}") }</p> }
        }
        Some(Ok(r)) => html! {
            <>
            <p>{ format!("Berth {} — {}", r.version, if r.ready { "ready" } else { "not ready" }) }</p>
            <table class="checks">
                <thead><tr><th>{ "Component" }</th><th>{ "State" }</th><th>{ "Detail" }</th></tr></thead>
                <tbody>
                { for r.checks.iter().map(|c| html! {
                    <tr class={if c.ok { "ok" } else { "failed" }}>
                        <td>{ &c.name }</td>
                        <td>{ if c.ok { "OK" } else { "Failing" } }</td>
                        <td>{ &c.detail }</td>
                    </tr>
                }) }
                </tbody>
            </table>
            </>
        },
    };
    html! {
        <section class="page" data-page="dashboard">
            <h1>{ "Dashboard" }</h1>
            <h2>{ "Host" }</h2>
            { host }
            <h2>{ "Server" }</h2>
            { checks }
            <p class="notice">{ "Containers, stacks and backups at a glance arrive with those sections." }</p>
        </section>
    }
}
