//! The dashboard: the server's readiness checks, live host figures, the last backups
//! and failures, the schedules' next runs and failing schedules, and recent activity
//! (Docker's and Berth's events, from just before the page opened).

mod activity;

use berth_protocol::api::Empty;
use berth_protocol::api::catalogue::{SystemDf, SystemInfo};
use berth_protocol::api::events::Event;
use berth_protocol::api::system::{DfParams, SystemStats};
use berth_protocol::health::Readiness;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use yew::prelude::*;

use crate::components::error_view;
use crate::format::bytes;
use crate::hooks::{Load, use_call};
use crate::http::js_error;
use crate::route::Route;
use crate::ws::use_ws;
use yew_router::prelude::Link;

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

/// How long events may keep coming before the counts are fetched again.
const COUNTS_SETTLE_MS: i32 = 300;

fn docker_view(
    info: &Load<berth_protocol::api::system::SystemInfo>,
    df: &Load<berth_protocol::api::system::SystemDf>,
) -> Html {
    let i = match info {
        Load::Loading => return html! { <p>{ "Loading…" }</p> },
        Load::Failed(e) => return error_view(e),
        Load::Ready(i) => i,
    };
    let Some(d) = &i.docker else {
        return html! { <p class="error" id="docker-down">{ format!("Docker is not reachable: {}", i.docker_error.clone().unwrap_or_default()) }</p> };
    };
    let c = d.counts.clone().unwrap_or_default();
    let (volumes, vol_size) = match df {
        Load::Ready(df) => (
            df.volumes.count.to_string(),
            bytes(df.volumes.size.max(0) as u64),
        ),
        _ => ("…".to_owned(), String::new()),
    };
    html! {
        <div class="tiles" id="docker-counts">
            <Link<Route> to={Route::Containers} classes="tile"><span class="label">{ "Containers" }</span>
                <span class="value" id="count-running">{ format!("{} running", c.containers_running) }</span>
                <span class="sub">{ format!("{} paused, {} stopped", c.containers_paused, c.containers_stopped) }</span></Link<Route>>
            <Link<Route> to={Route::Images} classes="tile"><span class="label">{ "Images" }</span>
                <span class="value" id="count-images">{ c.images.to_string() }</span></Link<Route>>
            <Link<Route> to={Route::Volumes} classes="tile"><span class="label">{ "Volumes" }</span>
                <span class="value" id="count-volumes">{ volumes }</span>
                <span class="sub">{ vol_size }</span></Link<Route>>
            <div class="tile"><span class="label">{ "Engine" }</span>
                <span class="value">{ format!("Docker {}", d.version) }</span>
                <span class="sub">{ format!("API {}{}", d.api_version, d.os.as_ref().map(|o| format!(", {o}")).unwrap_or_default()) }</span></div>
        </div>
    }
}

/// Stacks by state: managed ones (folders in the stacks directory) and external.
#[function_component(StackCounts)]
fn stack_counts() -> Html {
    use berth_protocol::api::stacks::ServiceState as S;
    let (list, _) = use_call::<berth_protocol::api::catalogue::StacksList>(Empty {});
    let Load::Ready(l) = &list else {
        return html! {};
    };
    let count = |state: S| l.stacks.iter().filter(|s| s.state == state).count();
    let external = l.stacks.iter().filter(|s| !s.managed).count();
    html! {
        <div class="tiles" id="stack-counts">
            <Link<Route> to={Route::Stacks} classes="tile"><span class="label">{ "Stacks" }</span>
                <span class="value" id="count-stacks-running">{ format!("{} running", count(S::Running)) }</span>
                <span class="sub">{ format!("{} partial, {} stopped, {} not created; {} external", count(S::Partial), count(S::Stopped), count(S::NotCreated), external) }</span></Link<Route>>
        </div>
    }
}

/// The host's figures (`system.stats`), the newest sample.
#[hook]
fn use_host_stats() -> UseStateHandle<Option<SystemStats>> {
    let ctx = use_ws();
    let stats = use_state(|| None::<SystemStats>);
    let (ws, sample) = (ctx.ws.clone(), stats.clone());
    use_effect_with((), move |()| {
        let on_data = Callback::from(move |v| {
            if let Ok(s) = serde_json::from_value::<SystemStats>(v) {
                sample.set(Some(s));
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
    stats
}

fn host_view(stats: Option<&SystemStats>) -> Html {
    match stats {
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
    }
}

fn checks_view(readiness: Option<&Result<Readiness, String>>) -> Html {
    match readiness {
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
    }
}

#[function_component(Dashboard)]
pub fn dashboard() -> Html {
    let ctx = use_ws();
    let readiness = use_state(|| None::<Result<Readiness, String>>);
    let stats = use_host_stats();
    let (info, reload_info) = use_call::<SystemInfo>(Empty {});
    let (df, reload_df) = use_call::<SystemDf>(DfParams::default());
    {
        // Docker's events keep the counts current; the replay at open and a burst of
        // events reload them once.
        let ws = ctx.ws.clone();
        use_effect_with((), move |()| {
            let reload = crate::hooks::coalesced(
                Callback::from(move |()| {
                    reload_info.emit(());
                    reload_df.emit(());
                }),
                COUNTS_SETTLE_MS,
            );
            let on_data = Callback::from(move |v| {
                if serde_json::from_value::<Event>(v).is_ok_and(|e| activity::changes_counts(&e)) {
                    reload.emit(());
                }
            });
            let sub = ws.subscribe(
                "events",
                serde_json::json!({"filters": {"types": activity::DOCKER, "exclude_helpers": true}}),
                64,
                on_data,
                Callback::noop(),
            );
            move || drop(sub)
        });
    }
    {
        let readiness = readiness.clone();
        use_effect_with((), move |()| {
            wasm_bindgen_futures::spawn_local(async move {
                readiness.set(Some(fetch_readiness().await));
            });
        });
    }
    html! {
        <section class="page" data-page="dashboard">
            <h1>{ "Dashboard" }</h1>
            <h2>{ "Host" }</h2>
            { host_view(stats.as_ref()) }
            <h2>{ "Docker" }</h2>
            { docker_view(&info, &df) }
            <StackCounts />
            <h2>{ "Backups and jobs" }</h2>
            <crate::components::RecentJobs />
            <h2>{ "Next runs" }</h2>
            <crate::components::NextRuns />
            <activity::RecentActivity />
            <h2>{ "Server" }</h2>
            { checks_view(readiness.as_ref()) }
        </section>
    }
}
