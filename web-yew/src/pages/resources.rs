//! Images, volumes and networks: what exists, what uses it, and removal where it is
//! safe (the host refuses in-use removals with a message naming the users).

use berth_protocol::api::catalogue::{
    ImagesList, ImagesPrune, ImagesRemove, NetworkBackup, NetworkRemove, NetworksList, VolumesList,
    VolumesRemove,
};
use berth_protocol::api::hosts::HostOnly;
use berth_protocol::api::images::RemoveImage;
use berth_protocol::api::networks::NetworkRef;
use berth_protocol::api::volumes::RemoveVolume;
use berth_protocol::role::Role;
use yew::prelude::*;
use yew_router::prelude::*;

use super::{Flash, Load, bytes, confirm, error_view, flash_view, use_call};
use crate::route::Route;
use crate::ws::use_ws;

/// Docker reports sizes signed; negative means unknown.
fn size(n: i64) -> String {
    bytes(n.max(0) as u64)
}

/// Runs a removal after a confirmation, then reports and reloads.
fn remover<M>(
    ws: crate::ws::Ws,
    flash: Flash,
    reload: Callback<()>,
) -> Callback<(String, M::Params)>
where
    M: berth_protocol::api::catalogue::Method,
    M::Params: Clone,
{
    Callback::from(move |(label, p): (String, M::Params)| {
        if !confirm(&format!("Remove {label}?")) {
            return;
        }
        let (ws, flash, reload) = (ws.clone(), flash.clone(), reload.clone());
        wasm_bindgen_futures::spawn_local(async move {
            match ws.call_m::<M>(p).await {
                Ok(_) => flash.set(Some(Ok(format!("Removed {label}.")))),
                Err(e) => flash.set(Some(Err(e))),
            }
            reload.emit(());
        });
    })
}

#[function_component(ImagesPage)]
pub fn images_page() -> Html {
    let ctx = use_ws();
    let (list, reload) = use_call::<ImagesList>(HostOnly::default());
    let flash: Flash = use_state(|| None);
    let admin = ctx.user().is_some_and(|u| u.role.allows(Role::Admin));
    let remove = remover::<ImagesRemove>(ctx.ws.clone(), flash.clone(), reload.clone());
    let dangling = matches!(&list, Load::Ready(l) if l.images.iter().any(|i| i.dangling));
    let onprune = {
        let (ws, flash, reload) = (ctx.ws.clone(), flash.clone(), reload.clone());
        Callback::from(move |_| {
            if !confirm("Remove every dangling image?") {
                return;
            }
            let (ws, flash, reload) = (ws.clone(), flash.clone(), reload.clone());
            wasm_bindgen_futures::spawn_local(async move {
                match ws.call_m::<ImagesPrune>(HostOnly::default()).await {
                    Ok(p) => flash.set(Some(Ok(format!(
                        "Pruned {} images, {} reclaimed.",
                        p.deleted.len(),
                        size(p.space_reclaimed)
                    )))),
                    Err(e) => flash.set(Some(Err(e))),
                }
                reload.emit(());
            });
        })
    };
    let body = match &list {
        Load::Loading => html! { <p>{ "Loading…" }</p> },
        Load::Failed(e) => error_view(e),
        Load::Ready(l) => html! {
            <table class="grid" id="images-table">
                <thead><tr><th>{ "Tags" }</th><th>{ "Id" }</th><th>{ "Size" }</th><th>{ "Created" }</th><th>{ "Used by" }</th><th></th></tr></thead>
                <tbody>
                { for l.images.iter().map(|i| {
                    let label = i.tags.first().cloned().unwrap_or_else(|| i.id.clone());
                    let p = RemoveImage { host: None, id: i.id.clone(), force: false };
                    let remove = remove.clone();
                    html! {
                    <tr data-id={i.id.clone()}>
                        <td>{ if i.dangling { html!{ <span class="badge">{ "dangling" }</span> } } else { html!{ i.tags.join(", ") } } }</td>
                        <td class="mono">{ i.id.trim_start_matches("sha256:").chars().take(12).collect::<String>() }</td>
                        <td>{ size(i.size) }</td>
                        <td>{ &i.created }</td>
                        <td>{ i.used_by.join(", ") }</td>
                        <td>{ if admin { html!{ <button class="small danger" onclick={Callback::from(move |_| remove.emit((label.clone(), p.clone())))}>{ "Remove" }</button> } } else { html!{} } }</td>
                    </tr>
                    }
                }) }
                </tbody>
            </table>
        },
    };
    html! {
        <section class="page" data-page="images">
            <h1>{ "Images" }</h1>
            if admin {
                <button id="images-prune" disabled={!dangling} onclick={onprune}
                    title={if dangling { "Remove dangling images" } else { "Nothing is dangling" }}>{ "Prune dangling" }</button>
            }
            { flash_view(&flash) }
            { body }
        </section>
    }
}

#[function_component(VolumesPage)]
pub fn volumes_page() -> Html {
    let ctx = use_ws();
    let (list, reload) = use_call::<VolumesList>(HostOnly::default());
    let flash: Flash = use_state(|| None);
    let admin = ctx.user().is_some_and(|u| u.role.allows(Role::Admin));
    let operator = ctx.user().is_some_and(|u| u.role.allows(Role::Operator));
    let remove = remover::<VolumesRemove>(ctx.ws.clone(), flash.clone(), reload.clone());
    let body = match &list {
        Load::Loading => html! { <p>{ "Loading…" }</p> },
        Load::Failed(e) => error_view(e),
        Load::Ready(l) => html! {
            <table class="grid" id="volumes-table">
                <thead><tr><th>{ "Name" }</th><th>{ "Driver" }</th><th>{ "Size" }</th><th>{ "Used by" }</th><th></th></tr></thead>
                <tbody>
                { for l.volumes.iter().map(|v| {
                    let p = RemoveVolume { host: None, name: v.name.clone() };
                    let (remove, label) = (remove.clone(), v.name.clone());
                    html! {
                    <tr data-name={v.name.clone()}>
                        <td class="mono">{ if operator {
                            html! { <Link<Route> to={Route::VolumeFiles { name: v.name.clone() }} classes="browse">{ &v.name }</Link<Route>> }
                        } else { html! { &v.name } } }{ if v.anonymous { html!{ <span class="badge">{ "anonymous" }</span> } } else { html!{} } }</td>
                        <td>{ &v.driver }</td>
                        <td>{ v.size.map(size).unwrap_or_else(|| "—".to_owned()) }</td>
                        <td>{ if v.used_by.is_empty() { html!{ <span class="muted">{ "unused" }</span> } } else { html!{ v.used_by.join(", ") } } }</td>
                        <td>{ if admin && v.used_by.is_empty() { html!{ <button class="small danger" onclick={Callback::from(move |_| remove.emit((label.clone(), p.clone())))}>{ "Remove" }</button> } } else { html!{} } }</td>
                    </tr>
                    }
                }) }
                </tbody>
            </table>
        },
    };
    html! {
        <section class="page" data-page="volumes">
            <h1>{ "Volumes" }</h1>
            { if operator { html! { <p class="muted">{ "Pick a volume to browse its files and download them." }</p> } } else { html! {} } }
            { flash_view(&flash) }
            { body }
        </section>
    }
}

#[function_component(NetworksPage)]
pub fn networks_page() -> Html {
    let ctx = use_ws();
    let (list, reload) = use_call::<NetworksList>(HostOnly::default());
    let flash: Flash = use_state(|| None);
    let admin = ctx.user().is_some_and(|u| u.role.allows(Role::Admin));
    let remove = remover::<NetworkRemove>(ctx.ws.clone(), flash.clone(), reload.clone());
    let operator = ctx.user().is_some_and(|u| u.role.allows(Role::Operator));
    let backup = {
        let (ws, flash) = (ctx.ws.clone(), flash.clone());
        Callback::from(move |name: String| {
            let (ws, flash) = (ws.clone(), flash.clone());
            wasm_bindgen_futures::spawn_local(async move {
                let r = ws
                    .call_m::<NetworkBackup>(NetworkRef {
                        host: None,
                        id: name.clone(),
                    })
                    .await
                    .map(|q| {
                        format!(
                            "Backup of network {name} queued (job {}).",
                            q.jobs.join(", ")
                        )
                    });
                flash.set(Some(r));
            });
        })
    };
    let body = match &list {
        Load::Loading => html! { <p>{ "Loading…" }</p> },
        Load::Failed(e) => error_view(e),
        Load::Ready(l) => html! {
            <table class="grid" id="networks-table">
                <thead><tr><th>{ "Name" }</th><th>{ "Driver" }</th><th>{ "Subnets" }</th><th>{ "Containers" }</th><th></th></tr></thead>
                <tbody>
                { for l.networks.iter().map(|n| {
                    let p = NetworkRef { host: None, id: n.id.clone() };
                    let (remove, label) = (remove.clone(), n.name.clone());
                    let removable = admin && !n.builtin && n.containers.is_empty();
                    html! {
                    <tr data-name={n.name.clone()}>
                        <td>{ &n.name }{ if n.builtin { html!{ <span class="badge">{ "built-in" }</span> } } else { html!{} } }</td>
                        <td>{ &n.driver }</td>
                        <td>{ n.subnets.join(", ") }</td>
                        <td>{ if n.containers.is_empty() { html! { "none" } } else { html! {
                            <details class="attached">
                                <summary>{ format!("{} running, {} stopped", n.containers_running, n.containers_stopped) }</summary>
                                <Link<Route, super::containers::NetworkFilter> to={Route::Containers} classes="show-containers"
                                    query={Some(super::containers::NetworkFilter { network: n.name.clone(), names: n.containers.join(",") })}>
                                    { "Show containers" }</Link<Route, super::containers::NetworkFilter>>
                                <ul class="plain">{ for n.containers.iter().map(|c| html! {
                                    <li><Link<Route> to={Route::Container { id: c.clone() }}>{ c }</Link<Route>></li>
                                }) }</ul>
                            </details>
                        } } }</td>
                        <td>
                            { if operator && !n.builtin { let (b, name) = (backup.clone(), n.name.clone()); html!{
                                <button class="small network-backup" onclick={Callback::from(move |_| b.emit(name.clone()))}>{ "Back up" }</button>
                            } } else { html!{} } }
                            { if removable { html!{ <button class="small danger" onclick={Callback::from(move |_| remove.emit((label.clone(), p.clone())))}>{ "Remove" }</button> } } else { html!{} } }
                        </td>
                    </tr>
                    }
                }) }
                </tbody>
            </table>
        },
    };
    html! {
        <section class="page" data-page="networks">
            <h1>{ "Networks" }</h1>
            { flash_view(&flash) }
            { body }
        </section>
    }
}
