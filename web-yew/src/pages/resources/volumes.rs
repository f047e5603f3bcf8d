//! Volumes with sizes and users; browse (operators), create and remove (admins, unused
//! only).

use berth_protocol::api::catalogue::{VolumesList, VolumesRemove};
use berth_protocol::api::hosts::HostOnly;
use berth_protocol::api::volumes::{RemoveVolume, VolumeSummary};
use berth_protocol::role::Role;
use yew::prelude::*;
use yew_router::prelude::*;

use super::create::VolumeCreateForm;
use super::remove;
use crate::components::loaded;
use crate::format::signed_bytes;
use crate::hooks::{Action, use_action, use_call};
use crate::route::Route;
use crate::ws::use_ws;

#[function_component(VolumesPage)]
pub fn volumes_page() -> Html {
    let ctx = use_ws();
    let (list, reload) = use_call::<VolumesList>(HostOnly::default());
    let action = use_action(reload);
    let admin = ctx.user().is_some_and(|u| u.role.allows(Role::Admin));
    let operator = ctx.user().is_some_and(|u| u.role.allows(Role::Operator));
    html! {
        <section class="page" data-page="volumes">
            <h1>{ "Volumes" }</h1>
            if operator { <p class="muted">{ "Pick a volume to browse its files and download them." }</p> }
            { action.view() }
            if admin { <VolumeCreateForm action={action.clone()} /> }
            { loaded(&list, |l| html! {
                <table class="grid" id="volumes-table">
                    <thead><tr><th>{ "Name" }</th><th>{ "Driver" }</th><th>{ "Size" }</th><th>{ "Used by" }</th><th></th></tr></thead>
                    <tbody>{ for l.volumes.iter().map(|v| row(v, &action, operator, admin)) }</tbody>
                </table>
            }) }
        </section>
    }
}

fn row(v: &VolumeSummary, action: &Action, operator: bool, admin: bool) -> Html {
    let onremove = {
        let (action, label) = (action.clone(), v.name.clone());
        let p = RemoveVolume {
            host: None,
            name: v.name.clone(),
        };
        Callback::from(move |_| remove::<VolumesRemove>(&action, label.clone(), p.clone()))
    };
    html! {
        <tr data-name={v.name.clone()}>
            <td class="mono">
                if operator {
                    <Link<Route> to={Route::VolumeFiles { name: v.name.clone() }} classes="browse">{ &v.name }</Link<Route>>
                } else { { &v.name } }
                if v.anonymous { <span class="badge">{ "anonymous" }</span> }</td>
            <td>{ &v.driver }</td>
            <td>{ v.size.map_or_else(|| "—".to_owned(), signed_bytes) }</td>
            <td>if v.used_by.is_empty() { <span class="muted">{ "unused" }</span> } else { { v.used_by.join(", ") } }</td>
            <td>if admin && v.used_by.is_empty() { <button class="small danger" onclick={onremove}>{ "Remove" }</button> }</td>
        </tr>
    }
}
