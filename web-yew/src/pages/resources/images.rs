//! Images with their tags, sizes and users; pull (with each layer's progress), tag,
//! remove (forced where Docker would refuse, after saying why) and prune.

use berth_protocol::api::catalogue::{ImagesList, ImagesPrune, ImagesRemove, ImagesTag};
use berth_protocol::api::hosts::HostOnly;
use berth_protocol::api::images::{ImageSummary, PruneImages, RemoveImage, TagImage};
use berth_protocol::role::Role;
use yew::prelude::*;

use super::{Removed, remove};
use crate::components::{
    Question, after_confirm, after_prompt, loaded, moment_text, run_confirmed,
};
use crate::format::signed_bytes;
use crate::hooks::{Action, BusyRows, busy_badge, use_action, use_busy_rows, use_call};
use crate::ws::use_ws;

#[function_component(ImagesPage)]
pub fn images_page() -> Html {
    let ctx = use_ws();
    let (list, reload) = use_call::<ImagesList>(HostOnly::default());
    let action = use_action(reload);
    let busy = use_busy_rows();
    let admin = ctx.user().is_some_and(|u| u.role.allows(Role::Admin));
    let dangling = list
        .ready()
        .is_some_and(|l| l.images.iter().any(|i| i.dangling));
    let onprune = {
        let action = action.clone();
        Callback::from(move |_| prune(&action, false))
    };
    let onprune_unused = {
        let action = action.clone();
        Callback::from(move |_| prune(&action, true))
    };
    html! {
        <section class="page" data-page="images">
            <h1>{ "Images" }</h1>
            if admin { <super::pull::PullForm action={action.clone()} /> }
            if admin {
                <button id="images-prune" disabled={!dangling} onclick={onprune}
                    title={if dangling { "Remove dangling images" } else { "Nothing is dangling" }}>{ "Prune dangling" }</button>
                <button id="images-prune-unused" onclick={onprune_unused}
                    title="Remove every image no container uses, tagged or not">{ "Prune unused…" }</button>
            }
            { action.view() }
            { loaded(&list, |l| html! {
                <table class="grid" id="images-table">
                    <thead><tr><th>{ "Tags" }</th><th>{ "Id" }</th><th>{ "Size" }</th><th>{ "Created" }</th><th>{ "Used by" }</th><th></th></tr></thead>
                    <tbody>{ for l.images.iter().map(|i| row(i, (&action, &busy), admin)) }</tbody>
                </table>
            }) }
        </section>
    }
}

fn row(i: &ImageSummary, (action, busy): (&Action, &BusyRows), admin: bool) -> Html {
    let label = i.tags.first().cloned().unwrap_or_else(|| i.id.clone());
    let onremove = {
        let (action, busy) = (action.clone(), busy.clone());
        let (label, why) = (label.clone(), force_reason(i));
        let p = RemoveImage {
            host: None,
            id: i.id.clone(),
            force: false,
        };
        Callback::from(move |_| match &why {
            None => {
                let removed = Removed {
                    busy: busy.clone(),
                    key: p.id.clone(),
                    label: label.clone(),
                };
                remove::<ImagesRemove>(&action, removed, p.clone());
            }
            Some(why) => {
                let question = Question::new(format!("Remove {label} anyway?"), "Remove (force)")
                    .detail(format!("It {why}; Docker removes it only when forced."))
                    .danger();
                let p = RemoveImage {
                    force: true,
                    ..p.clone()
                };
                let (action, busy, label) = (action.clone(), busy.clone(), label.clone());
                after_confirm(question, move || {
                    action.run(move |ws| async move {
                        let keys = [p.id.clone()];
                        busy.during(&keys, "removing", ws.call_m::<ImagesRemove>(p))
                            .await?;
                        Ok(format!("Removed {label}."))
                    });
                });
            }
        })
    };
    let ontag = {
        let (action, busy, id) = (action.clone(), busy.clone(), i.id.clone());
        Callback::from(move |_| tag((&action, &busy), &id, &label))
    };
    html! {
        <tr data-id={i.id.clone()}>
            <td>if i.dangling { <span class="badge">{ "dangling" }</span> } else { { i.tags.join(", ") } }</td>
            <td class="mono">{ i.id.trim_start_matches("sha256:").chars().take(12).collect::<String>() }</td>
            <td>{ signed_bytes(i.size) }</td>
            <td>{ moment_text(&i.created) }</td>
            <td>{ i.used_by.join(", ") }</td>
            <td>if let Some(doing) = busy.of(&i.id) { { busy_badge(doing) } } else if admin {
                <button class="small image-tag" onclick={ontag}>{ "Tag" }</button>
                <button class="small danger image-remove" onclick={onremove}>{ "Remove" }</button>
            }</td>
        </tr>
    }
}

/// Why Docker would refuse to remove `i` without force, said before asking.
fn force_reason(i: &ImageSummary) -> Option<String> {
    if !i.used_by.is_empty() {
        return Some(format!("is used by {}", i.used_by.join(", ")));
    }
    (i.tags.len() > 1).then(|| format!("has {} names: {}", i.tags.len(), i.tags.join(", ")))
}

/// Asks for `repo[:tag]` and names the image `id` with it.
fn tag((action, busy): (&Action, &BusyRows), id: &str, label: &str) {
    let question = Question::new(format!("Tag {label}"), "Tag")
        .detail("The image gets another name; its other names stay.")
        .field("New name (repository:tag)", "");
    let (action, busy, id) = (action.clone(), busy.clone(), id.to_owned());
    after_prompt(question, move |name| tag_as((&action, &busy), id, &name));
}

/// Names the image `id` `name` (`repo[:tag]`).
fn tag_as((action, busy): (&Action, &BusyRows), id: String, name: &str) {
    let name = name.trim().to_owned();
    // The tag follows the last ':' unless that ':' is a registry's port.
    let (repo, tag) = match name.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => (repo.to_owned(), Some(tag.to_owned())),
        _ => (name.clone(), None),
    };
    let keys = [id.clone()];
    let p = TagImage {
        host: None,
        id,
        repo,
        tag,
    };
    let busy = busy.clone();
    action.run(move |ws| async move {
        let t = busy
            .during(&keys, "tagging", ws.call_m::<ImagesTag>(p))
            .await?;
        Ok(format!("Tagged {}.", t.reference))
    });
}

/// Asks the server what a prune would remove, shows it with the space it frees, and
/// prunes on confirmation.
fn prune(action: &Action, unused: bool) {
    let action_done = action.clone();
    action.spawn(move |ws, _| async move {
        let preview = PruneImages {
            host: None,
            unused,
            dry_run: true,
        };
        let would = match ws.call_m::<ImagesPrune>(preview).await {
            Ok(would) => would,
            Err(e) => return action_done.fail(e),
        };
        if would.deleted.is_empty() {
            return action_done.show(Ok("Nothing to prune.".to_owned()));
        }
        let shown = 10;
        let mut listed = would.deleted.iter().take(shown).cloned().collect::<Vec<_>>().join(", ");
        if would.deleted.len() > shown {
            listed.push_str(&format!(" and {} more", would.deleted.len() - shown));
        }
        let what = if unused { "unused" } else { "dangling" };
        let question = Question::new(
            format!("Remove {} {what} images?", would.deleted.len()),
            "Prune",
        )
        .detail(format!(
            "{listed}. Frees up to {} (layers shared with images that stay are kept). No container uses them; pulling them again needs their registry.",
            signed_bytes(would.space_reclaimed)
        ))
        .danger();
        run_confirmed(&action_done, question, move |ws| async move {
            let done = PruneImages {
                host: None,
                unused,
                dry_run: false,
            };
            let p = ws.call_m::<ImagesPrune>(done).await?;
            Ok(format!(
                "Pruned {} images, {} reclaimed.",
                p.deleted.len(),
                signed_bytes(p.space_reclaimed)
            ))
        });
    });
}
