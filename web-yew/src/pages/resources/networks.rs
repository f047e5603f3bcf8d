//! Networks with their containers; create (admins), back up and remove.

use berth_protocol::api::catalogue::{NetworkBackup, NetworkRemove, NetworksList};
use berth_protocol::api::hosts::HostOnly;
use berth_protocol::api::networks::{NetworkRef, NetworkSummary};
use berth_protocol::role::Role;
use yew::prelude::*;
use yew_router::prelude::*;

use super::create::NetworkCreateForm;
use super::remove;
use crate::components::loaded;
use crate::hooks::{Action, use_action, use_call};
use crate::pages::containers::NetworkFilter;
use crate::route::Route;
use crate::ws::use_ws;

#[function_component(NetworksPage)]
pub fn networks_page() -> Html {
    let ctx = use_ws();
    let (list, reload) = use_call::<NetworksList>(HostOnly::default());
    let action = use_action(reload);
    let admin = ctx.user().is_some_and(|u| u.role.allows(Role::Admin));
    let operator = ctx.user().is_some_and(|u| u.role.allows(Role::Operator));
    html! {
        <section class="page" data-page="networks">
            <h1>{ "Networks" }</h1>
            { action.view() }
            if admin { <NetworkCreateForm action={action.clone()} /> }
            { loaded(&list, |l| html! {
                <table class="grid" id="networks-table">
                    <thead><tr><th>{ "Name" }</th><th>{ "Driver" }</th><th>{ "Subnets" }</th><th>{ "Containers" }</th><th></th></tr></thead>
                    <tbody>{ for l.networks.iter().map(|n| row(n, &action, operator, admin)) }</tbody>
                </table>
            }) }
        </section>
    }
}

fn row(n: &NetworkSummary, action: &Action, operator: bool, admin: bool) -> Html {
    let onremove = {
        let (action, label) = (action.clone(), n.name.clone());
        let p = NetworkRef {
            host: None,
            id: n.id.clone(),
        };
        Callback::from(move |_| remove::<NetworkRemove>(&action, label.clone(), p.clone()))
    };
    let onbackup = {
        let (action, name) = (action.clone(), n.name.clone());
        Callback::from(move |_| back_up(&action, name.clone()))
    };
    let removable = admin && !n.builtin && n.containers.is_empty();
    html! {
        <tr data-name={n.name.clone()}>
            <td>{ &n.name }if n.builtin { <span class="badge">{ "built-in" }</span> }</td>
            <td>{ &n.driver }</td>
            <td>{ n.subnets.join(", ") }</td>
            <td>{ attached(n) }</td>
            <td>
                if operator && !n.builtin {
                    <button class="small network-backup" onclick={onbackup}>{ "Back up" }</button>
                }
                if removable { <button class="small danger" onclick={onremove}>{ "Remove" }</button> }
            </td>
        </tr>
    }
}

/// The containers on the network, with a link to the containers page filtered to them.
fn attached(n: &NetworkSummary) -> Html {
    if n.containers.is_empty() {
        return html! { "none" };
    }
    let filter = NetworkFilter {
        network: n.name.clone(),
        names: n.containers.join(","),
    };
    html! {
        <details class="attached">
            <summary>{ format!("{} running, {} stopped", n.containers_running, n.containers_stopped) }</summary>
            <Link<Route, NetworkFilter> to={Route::Containers} classes="show-containers" query={Some(filter)}>
                { "Show containers" }</Link<Route, NetworkFilter>>
            <ul class="plain">{ for n.containers.iter().map(|c| html! {
                <li><Link<Route> to={Route::Container { id: c.clone() }}>{ c }</Link<Route>></li>
            }) }</ul>
        </details>
    }
}

fn back_up(action: &Action, name: String) {
    action.run(move |ws| async move {
        let queued = ws
            .call_m::<NetworkBackup>(NetworkRef {
                host: None,
                id: name.clone(),
            })
            .await?;
        Ok(format!(
            "Backup of network {name} queued (job {}).",
            queued.jobs.join(", ")
        ))
    });
}
