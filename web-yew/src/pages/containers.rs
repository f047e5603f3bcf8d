//! Containers: every container grouped by compose project, its state kept current by
//! the `events` channel (an event triggers one `containers.list`; nothing polls),
//! filter, lifecycle actions per row and for a selection, confirmations before
//! destructive ones, and an outcome line for each action.

use std::collections::BTreeSet;

use berth_protocol::api::catalogue::{ContainersBulk, ContainersList};
use berth_protocol::api::containers::{BulkAction, BulkVerb, ContainerSummary};
use berth_protocol::api::hosts::HostOnly;
use berth_protocol::role::Role;
use yew::prelude::*;
use yew_router::prelude::*;

use super::{Flash, Load, confirm, error_view, flash_view, use_call};
use crate::route::Route;
use crate::ws::use_ws;

fn verb_label(v: BulkVerb) -> &'static str {
    match v {
        BulkVerb::Start => "Start",
        BulkVerb::Stop => "Stop",
        BulkVerb::Restart => "Restart",
        BulkVerb::Kill => "Kill",
        BulkVerb::Pause => "Pause",
        BulkVerb::Unpause => "Unpause",
        BulkVerb::Remove => "Remove",
    }
}

fn verb_slug(v: BulkVerb) -> &'static str {
    match v {
        BulkVerb::Start => "start",
        BulkVerb::Stop => "stop",
        BulkVerb::Restart => "restart",
        BulkVerb::Kill => "kill",
        BulkVerb::Pause => "pause",
        BulkVerb::Unpause => "unpause",
        BulkVerb::Remove => "remove",
    }
}

/// The actions that make sense in a state.
fn actions_for(state: &str) -> &'static [BulkVerb] {
    match state {
        "running" => &[
            BulkVerb::Stop,
            BulkVerb::Restart,
            BulkVerb::Pause,
            BulkVerb::Kill,
        ],
        "paused" => &[BulkVerb::Unpause, BulkVerb::Kill],
        "restarting" => &[BulkVerb::Stop, BulkVerb::Kill],
        _ => &[BulkVerb::Start],
    }
}

/// `/containers?network=…&names=a,b`: the Networks page's "show containers" jump.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NetworkFilter {
    pub network: String,
    /// Comma-separated container names.
    pub names: String,
}

impl NetworkFilter {
    fn admits(&self, c: &ContainerSummary) -> bool {
        self.names.split(',').any(|n| n == c.name)
    }
}

fn matches(c: &ContainerSummary, q: &str) -> bool {
    q.is_empty()
        || c.name.to_lowercase().contains(q)
        || c.image.to_lowercase().contains(q)
        || c.state.contains(q)
        || c.stack
            .as_deref()
            .is_some_and(|s| s.to_lowercase().contains(q))
}

#[function_component(ContainersPage)]
pub fn containers_page() -> Html {
    let ctx = use_ws();
    let (list, reload) = use_call::<ContainersList>(HostOnly::default());
    let flash: Flash = use_state(|| None);
    let filter = use_state(String::new);
    let selected = use_state(BTreeSet::<String>::new);
    let role = ctx.user().map_or(Role::Viewer, |u| u.role);
    let net: Option<NetworkFilter> = use_location().and_then(|l| l.query::<NetworkFilter>().ok());
    {
        // Any container event: refetch once. The list call is the source of truth
        // (health, ports, status text), the event only says when to ask.
        let reload = reload.clone();
        let ws = ctx.ws.clone();
        use_effect_with((), move |()| {
            let on_data = Callback::from(move |_| reload.emit(()));
            let sub = ws.subscribe(
                "events",
                serde_json::json!({"filters": {"types": ["container", "host"]}}),
                256,
                on_data,
                Callback::noop(),
            );
            move || drop(sub)
        });
    }
    let run = {
        let (ws, flash, reload, selected) = (
            ctx.ws.clone(),
            flash.clone(),
            reload.clone(),
            selected.clone(),
        );
        Callback::from(
            move |(verb, ids, names): (BulkVerb, Vec<String>, Vec<String>)| {
                let destructive =
                    matches!(verb, BulkVerb::Remove | BulkVerb::Kill | BulkVerb::Stop);
                if destructive && !confirm(&format!("{} {}?", verb_label(verb), names.join(", "))) {
                    return;
                }
                let (ws, flash, reload, selected) =
                    (ws.clone(), flash.clone(), reload.clone(), selected.clone());
                let p = BulkAction {
                    host: None,
                    action: verb,
                    ids,
                    timeout_s: None,
                    force: verb == BulkVerb::Remove,
                };
                wasm_bindgen_futures::spawn_local(async move {
                    match ws.call_m::<ContainersBulk>(p).await {
                        Ok(r) => {
                            let failed: Vec<String> = r
                                .results
                                .iter()
                                .zip(&names)
                                .filter(|(x, _)| !x.ok)
                                .map(|(x, n)| {
                                    format!(
                                        "{n}: {}",
                                        x.error.as_ref().map_or("failed", |e| e.message.as_str())
                                    )
                                })
                                .collect();
                            if failed.is_empty() {
                                flash.set(Some(Ok(format!(
                                    "{} {}: done.",
                                    verb_label(verb),
                                    names.join(", ")
                                ))));
                            } else {
                                flash.set(Some(Err(berth_protocol::error::ErrorBody::new(
                                    berth_protocol::error::ErrorCode::Conflict,
                                    failed.join("; "),
                                ))));
                            }
                            selected.set(BTreeSet::new());
                        }
                        Err(e) => flash.set(Some(Err(e))),
                    }
                    reload.emit(());
                });
            },
        )
    };
    let oninput = {
        let filter = filter.clone();
        Callback::from(move |e: InputEvent| {
            let v = e
                .target_dyn_into::<web_sys::HtmlInputElement>()
                .map(|i| i.value())
                .unwrap_or_default();
            filter.set(v.to_lowercase());
        })
    };
    let can_act = role.allows(Role::Operator);
    let body = match &list {
        Load::Loading => html! { <p>{ "Loading…" }</p> },
        Load::Failed(e) => error_view(e),
        Load::Ready(l) if l.groups.is_empty() => {
            html! { <p class="notice" id="containers-empty">{ "No containers on this host." }</p> }
        }
        Load::Ready(l) => {
            let q = (*filter).clone();
            let net = net.clone();
            let matches = move |c: &ContainerSummary, q: &str| {
                matches(c, q) && net.as_ref().is_none_or(|n| n.admits(c))
            };
            html! {
                <>
                { for l.groups.iter().filter(|g| g.containers.iter().any(|c| matches(c, &q))).map(|g| {
                    let title = g.stack.clone().unwrap_or_else(|| "Standalone containers".to_owned());
                    let status = serde_json::to_value(g.status).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
                    html! {
                    <div class="group" data-stack={g.stack.clone().unwrap_or_default()}>
                        <h2>{ title }{ " " }<span class={classes!("badge", status.clone())}>{ status }</span></h2>
                        <table class="grid containers">
                            <thead><tr><th></th><th>{ "Name" }</th><th>{ "State" }</th><th>{ "Image" }</th><th>{ "Ports" }</th><th>{ "Status" }</th><th></th></tr></thead>
                            <tbody>
                            { for g.containers.iter().filter(|c| matches(c, &q)).map(|c| {
                                let id = c.id.clone();
                                let checked = selected.contains(&id);
                                let ontoggle = {
                                    let (selected, id) = (selected.clone(), id.clone());
                                    Callback::from(move |_| {
                                        let mut s = (*selected).clone();
                                        if !s.remove(&id) { s.insert(id.clone()); }
                                        selected.set(s);
                                    })
                                };
                                let ports = c.ports.iter().map(|p| match p.public {
                                    Some(pub_) => format!("{pub_}→{}/{}", p.private, p.proto),
                                    None => format!("{}/{}", p.private, p.proto),
                                }).collect::<Vec<_>>().join(", ");
                                html! {
                                <tr data-name={c.name.clone()} data-id={id.clone()}>
                                    <td><input type="checkbox" class="select" checked={checked} onclick={ontoggle} disabled={!can_act} /></td>
                                    <td class="name"><Link<Route> to={Route::Container { id: id.clone() }} classes="open">{ &c.name }</Link<Route>>{ if c.protected { html!{ <span class="badge">{ "Berth" }</span> } } else { html!{} } }</td>
                                    <td><span class={classes!("state", c.state.clone())}>{ &c.state }</span>
                                        { c.health.as_ref().map_or(html!{}, |h| html!{ <span class={classes!("badge", h.clone())}>{ h }</span> }) }</td>
                                    <td class="image">{ &c.image }</td>
                                    <td>{ ports }</td>
                                    <td class="status">{ &c.status }</td>
                                    <td class="actions">
                                    { if can_act && !c.protected { html! { <>{ for actions_for(&c.state).iter().map(|&v| {
                                        let run = run.clone();
                                        let (id, name) = (id.clone(), c.name.clone());
                                        html! { <button class={classes!("small", format!("act-{}", verb_slug(v)))}
                                            onclick={Callback::from(move |_| run.emit((v, vec![id.clone()], vec![name.clone()])))}>{ verb_label(v) }</button> }
                                    }) }</> } } else { html! {} } }
                                    { if role.allows(Role::Admin) && !c.protected {
                                        let run = run.clone();
                                        let (id, name) = (id.clone(), c.name.clone());
                                        html! { <button class="small danger act-remove"
                                            onclick={Callback::from(move |_| run.emit((BulkVerb::Remove, vec![id.clone()], vec![name.clone()])))}>{ "Remove" }</button> }
                                    } else { html! {} } }
                                    </td>
                                </tr>
                                }
                            }) }
                            </tbody>
                        </table>
                    </div>
                    }
                }) }
                </>
            }
        }
    };
    let bulk_bar = if can_act && !selected.is_empty() {
        let names: Vec<String> = match &list {
            Load::Ready(l) => l
                .groups
                .iter()
                .flat_map(|g| g.containers.iter())
                .filter(|c| selected.contains(&c.id))
                .map(|c| c.name.clone())
                .collect(),
            _ => vec![],
        };
        let ids: Vec<String> = selected.iter().cloned().collect();
        let mut verbs = vec![BulkVerb::Start, BulkVerb::Stop, BulkVerb::Restart];
        if role.allows(Role::Admin) {
            verbs.push(BulkVerb::Remove);
        }
        html! {
            <div class="bulk" id="bulk-bar">
                { format!("{} selected: ", ids.len()) }
                { for verbs.into_iter().map(|v| {
                    let (run, ids, names) = (run.clone(), ids.clone(), names.clone());
                    html! { <button class={classes!("small", format!("bulk-{}", verb_slug(v)))}
                        onclick={Callback::from(move |_| run.emit((v, ids.clone(), names.clone())))}>{ verb_label(v) }</button> }
                }) }
            </div>
        }
    } else {
        html! {}
    };
    html! {
        <section class="page" data-page="containers">
            <h1>{ "Containers" }</h1>
            <input type="search" id="container-filter" placeholder="Filter by name, image, state or stack" oninput={oninput} />
            { net.as_ref().map_or(html!{}, |n| html! {
                <p class="notice" id="network-filter">{ format!("Containers on network {} ", n.network) }
                    <Link<Route> to={Route::Containers}>{ "show all" }</Link<Route>></p>
            }) }
            { flash_view(&flash) }
            { bulk_bar }
            { body }
        </section>
    }
}
