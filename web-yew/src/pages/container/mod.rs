//! One container: what it is (facts and the full inspect document), what can be done
//! to it (`actions.rs`), its logs, live stats and a terminal. The page follows the container through `events`, so state and
//! facts stay current without polling.

use berth_protocol::api::catalogue::ContainerInspect;
use berth_protocol::api::containers::ContainerRef;
use berth_protocol::role::Role;
use serde_json::Value;
use yew::prelude::*;
use yew_router::prelude::*;

mod actions;
mod logs;
mod stats;
mod terminal;

use actions::ContainerActions;
use logs::LogsView;
use stats::StatsView;
use terminal::TerminalView;

use crate::components::{error_view, moment_text};
use crate::hooks::{Load, use_call};
use crate::route::Route;
use crate::ws::use_ws;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tab {
    Overview,
    Logs,
    Stats,
    Terminal,
}

impl Tab {
    const ALL: [Tab; 4] = [Tab::Overview, Tab::Logs, Tab::Stats, Tab::Terminal];

    fn label(self) -> &'static str {
        match self {
            Tab::Overview => "Overview",
            Tab::Logs => "Logs",
            Tab::Stats => "Stats",
            Tab::Terminal => "Terminal",
        }
    }

    fn slug(self) -> &'static str {
        match self {
            Tab::Overview => "overview",
            Tab::Logs => "logs",
            Tab::Stats => "stats",
            Tab::Terminal => "terminal",
        }
    }
}

#[derive(Debug, PartialEq, Properties)]
pub struct Props {
    pub id: String,
    /// The tab to open on (its slug: `logs`, `stats`, `terminal`).
    #[prop_or_default]
    pub tab: Option<String>,
}

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "—".to_owned(),
        other => other.to_string(),
    }
}

/// The facts people look for first, from Docker's inspect document.
fn facts(i: &Value) -> Html {
    let ports: Vec<String> = i["NetworkSettings"]["Ports"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(private, binds)| match binds.as_array() {
                    Some(b) if !b.is_empty() => b
                        .iter()
                        .map(|b| format!("{}:{}→{private}", s(&b["HostIp"]), s(&b["HostPort"])))
                        .collect::<Vec<_>>()
                        .join(", "),
                    _ => private.clone(),
                })
                .collect()
        })
        .unwrap_or_default();
    let networks: Vec<String> = i["NetworkSettings"]["Networks"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(n, v)| match v["IPAddress"].as_str() {
                    Some(ip) if !ip.is_empty() => format!("{n} ({ip})"),
                    _ => n.clone(),
                })
                .collect()
        })
        .unwrap_or_default();
    let mounts = i["Mounts"].as_array().cloned().unwrap_or_default();
    html! {
        <table class="facts" id="container-facts">
            <tbody>
                <tr><th>{ "Image" }</th><td class="mono">{ s(&i["Config"]["Image"]) }</td></tr>
                <tr><th>{ "State" }</th><td id="container-state">{ s(&i["State"]["Status"]) }
                    { i["State"]["Health"]["Status"].as_str().map_or(html!{}, |h| html!{ <span class="badge">{ h }</span> }) }</td></tr>
                <tr><th>{ "Started" }</th><td id="container-started">{ moment_text(&s(&i["State"]["StartedAt"])) }</td></tr>
                <tr><th>{ "Created" }</th><td>{ moment_text(&s(&i["Created"])) }</td></tr>
                <tr><th>{ "Command" }</th><td class="mono">{ i["Config"]["Cmd"].as_array().map(|a| a.iter().map(s).collect::<Vec<_>>().join(" ")).unwrap_or_default() }</td></tr>
                <tr><th>{ "Restart policy" }</th><td>{ s(&i["HostConfig"]["RestartPolicy"]["Name"]) }</td></tr>
                <tr><th>{ "Ports" }</th><td>{ if ports.is_empty() { "—".to_owned() } else { ports.join(", ") } }</td></tr>
                <tr><th>{ "Networks" }</th><td>{ if networks.is_empty() { "—".to_owned() } else { networks.join(", ") } }</td></tr>
                <tr><th>{ "Mounts" }</th><td>
                { if mounts.is_empty() { html!{ "—" } } else { html! { <ul class="plain">
                    { for mounts.iter().map(|m| {
                        let target = s(&m["Destination"]);
                        match (m["Type"].as_str(), m["Name"].as_str()) {
                            (Some("volume"), Some(name)) => html! { <li>
                                <Link<Route> to={Route::VolumeFiles { name: name.to_owned() }}>{ name }</Link<Route>>
                                { format!(" → {target}") }</li> },
                            _ => html! { <li>{ format!("{} → {target}", s(&m["Source"])) }</li> },
                        }
                    }) }
                </ul> } } }
                </td></tr>
            </tbody>
        </table>
    }
}

/// The label compose puts on its projects' containers.
const PROJECT_LABEL: &str = "com.docker.compose.project";

/// What decides whether a schedule covers this container.
fn covered(i: &Value, name: &str) -> crate::components::Covered {
    let label = |k: &str| i["Config"]["Labels"][k].as_str().map(str::to_owned);
    crate::components::Covered {
        name: name.to_owned(),
        project: label(PROJECT_LABEL),
        schedule_label: label("berth.schedule"),
        skipped: label("berth.backup.skip").as_deref() == Some("true"),
    }
}

/// Opened by name (a volume's "used by" link, a typed address): moves to the id's
/// address, which every tab and stream keys on.
#[hook]
fn use_address_by_id(
    props: &Props,
    inspect: &Load<berth_protocol::api::containers::ContainerInspect>,
) {
    let navigator = use_navigator();
    let full_id = inspect
        .ready()
        .and_then(|i| i.inspect["Id"].as_str().map(str::to_owned));
    let (opened, tab) = (props.id.clone(), props.tab.clone());
    use_effect_with(full_id, move |full_id| {
        if let (Some(id), Some(navigator)) = (full_id, navigator)
            && *id != opened
        {
            let id = id.clone();
            navigator.replace(&match tab {
                Some(tab) => Route::ContainerTab { id, tab },
                None => Route::Container { id },
            });
        }
    });
}

#[function_component(ContainerPage)]
pub fn container_page(props: &Props) -> Html {
    let ctx = use_ws();
    let may_exec = ctx.user().is_some_and(|u| {
        use berth_protocol::api::catalogue::{ChannelKind, Exec};
        u.role >= Exec::ROLE
    });
    let tab = use_state(|| {
        Tab::ALL
            .into_iter()
            .find(|t| props.tab.as_deref() == Some(t.slug()))
            .unwrap_or(Tab::Overview)
    });
    let (inspect, reload) = use_call::<ContainerInspect>(ContainerRef {
        host: None,
        id: props.id.clone(),
    });
    {
        // The container's own events refresh the facts (state, health, restarts).
        let (ws, reload) = (ctx.ws.clone(), reload.clone());
        use_effect_with(props.id.clone(), move |id| {
            let sub = ws.subscribe(
                "events",
                serde_json::json!({"filters": {"types": ["container"], "containers": [id]}}),
                64,
                Callback::from(move |_| reload.emit(())),
                Callback::noop(),
            );
            move || drop(sub)
        });
    }
    use_address_by_id(props, &inspect);
    let role = ctx.user().map_or(Role::Viewer, |u| u.role);
    let (name, running, state) = match &inspect {
        Load::Ready(i) => (
            i.inspect["Name"]
                .as_str()
                .unwrap_or(&props.id)
                .trim_start_matches('/')
                .to_owned(),
            i.inspect["State"]["Running"].as_bool().unwrap_or(false),
            s(&i.inspect["State"]["Status"]),
        ),
        _ => (props.id.chars().take(12).collect(), false, String::new()),
    };
    // A compose project's container is changed through its compose file.
    let compose = inspect
        .ready()
        .is_some_and(|i| i.inspect["Config"]["Labels"][PROJECT_LABEL].is_string());
    let body = match (&inspect, *tab) {
        (Load::Loading, _) => html! { <p>{ "Loading…" }</p> },
        (Load::Failed(e), _) => error_view(e),
        (Load::Ready(i), Tab::Overview) => {
            let pretty = serde_json::to_string_pretty(&i.inspect).unwrap_or_default();
            html! {
                <>
                { facts(&i.inspect) }
                <h2>{ "Schedules" }</h2>
                <crate::components::NextRuns only={Some(covered(&i.inspect, &name))} />
                { if i.redacted { html!{ <p class="notice" id="inspect-redacted">{ "Environment values are hidden from viewers." }</p> } } else { html!{} } }
                <details id="inspect">
                    <summary>{ "Full inspect document" }</summary>
                    <pre class="json" id="inspect-json">{ pretty }</pre>
                </details>
                </>
            }
        }
        (Load::Ready(_), Tab::Logs) => {
            html! { <LogsView id={props.id.clone()} name={name.clone()} /> }
        }
        (Load::Ready(_), Tab::Stats) => {
            if running {
                html! { <StatsView id={props.id.clone()} /> }
            } else {
                html! { <p class="notice" id="stats-stopped">{ "The container is not running: no figures to show." }</p> }
            }
        }
        (Load::Ready(_), Tab::Terminal) => {
            if !role.allows(Role::Operator) {
                html! { <p class="error forbidden" role="alert">{ "Not allowed: terminals need the operator role." }</p> }
            } else if !running {
                html! { <p class="notice" id="terminal-stopped">{ "Start the container to open a terminal in it." }</p> }
            } else {
                html! { <TerminalView id={props.id.clone()} /> }
            }
        }
    };
    html! {
        <section class="page" data-page="container" data-id={props.id.clone()}>
            <p class="crumbs"><Link<Route> to={Route::Containers}>{ "Containers" }</Link<Route>>{ " / " }</p>
            <h1 id="container-name">{ name.clone() }</h1>
            { if matches!(inspect, Load::Ready(_)) { html!{
                <ContainerActions id={props.id.clone()} name={name.clone()} {state} {compose} reload={reload.clone()} />
            } } else { html!{} } }
            { if matches!(inspect, Load::Ready(_)) { html!{
                <crate::components::BackUpNow target={berth_protocol::api::backups::BackupTarget::Container { name: name.clone() }} />
            } } else { html!{} } }
            <div class="tabs" role="tablist">
            // The terminal is an operator's (`exec`): not offered to a viewer.
            { for Tab::ALL.iter().filter(|t| **t != Tab::Terminal || may_exec).map(|&t| {
                let tab = tab.clone();
                html! { <button type="button" role="tab" id={format!("tab-{}", t.slug())}
                    class={classes!("tab", (*tab == t).then_some("active"))}
                    aria-selected={(*tab == t).to_string()}
                    onclick={Callback::from(move |_| tab.set(t))}>{ t.label() }</button> }
            }) }
            </div>
            { body }
        </section>
    }
}
