//! Images with their tags, sizes and users; remove and prune.

use berth_protocol::api::catalogue::{ImagesList, ImagesPrune, ImagesRemove};
use berth_protocol::api::hosts::HostOnly;
use berth_protocol::api::images::{ImageSummary, RemoveImage};
use berth_protocol::role::Role;
use yew::prelude::*;

use super::remove;
use crate::components::{confirm, loaded};
use crate::format::signed_bytes;
use crate::hooks::{Action, use_action, use_call};
use crate::ws::use_ws;

#[function_component(ImagesPage)]
pub fn images_page() -> Html {
    let ctx = use_ws();
    let (list, reload) = use_call::<ImagesList>(HostOnly::default());
    let action = use_action(reload);
    let admin = ctx.user().is_some_and(|u| u.role.allows(Role::Admin));
    let dangling = list
        .ready()
        .is_some_and(|l| l.images.iter().any(|i| i.dangling));
    let onprune = {
        let action = action.clone();
        Callback::from(move |_| prune(&action))
    };
    html! {
        <section class="page" data-page="images">
            <h1>{ "Images" }</h1>
            if admin {
                <button id="images-prune" disabled={!dangling} onclick={onprune}
                    title={if dangling { "Remove dangling images" } else { "Nothing is dangling" }}>{ "Prune dangling" }</button>
            }
            { action.view() }
            { loaded(&list, |l| html! {
                <table class="grid" id="images-table">
                    <thead><tr><th>{ "Tags" }</th><th>{ "Id" }</th><th>{ "Size" }</th><th>{ "Created" }</th><th>{ "Used by" }</th><th></th></tr></thead>
                    <tbody>{ for l.images.iter().map(|i| row(i, &action, admin)) }</tbody>
                </table>
            }) }
        </section>
    }
}

fn row(i: &ImageSummary, action: &Action, admin: bool) -> Html {
    let onremove = {
        let action = action.clone();
        let label = i.tags.first().cloned().unwrap_or_else(|| i.id.clone());
        let p = RemoveImage {
            host: None,
            id: i.id.clone(),
            force: false,
        };
        Callback::from(move |_| remove::<ImagesRemove>(&action, label.clone(), p.clone()))
    };
    html! {
        <tr data-id={i.id.clone()}>
            <td>if i.dangling { <span class="badge">{ "dangling" }</span> } else { { i.tags.join(", ") } }</td>
            <td class="mono">{ i.id.trim_start_matches("sha256:").chars().take(12).collect::<String>() }</td>
            <td>{ signed_bytes(i.size) }</td>
            <td>{ &i.created }</td>
            <td>{ i.used_by.join(", ") }</td>
            <td>if admin { <button class="small danger" onclick={onremove}>{ "Remove" }</button> }</td>
        </tr>
    }
}

fn prune(action: &Action) {
    if !confirm("Remove every dangling image?") {
        return;
    }
    action.run(move |ws| async move {
        let p = ws.call_m::<ImagesPrune>(HostOnly::default()).await?;
        Ok(format!(
            "Pruned {} images, {} reclaimed.",
            p.deleted.len(),
            signed_bytes(p.space_reclaimed)
        ))
    });
}
