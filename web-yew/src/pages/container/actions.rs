//! The container page's toolbar: the lifecycle actions its state allows, rename,
//! redeploy, edit and duplicate, and (admins) remove — so nobody goes back to the
//! list to act on the container they are looking at. Buttons are disabled while an
//! action runs; the page's `events` subscription brings the new state; a lifecycle
//! action or a rename can be undone from its toast.

use berth_protocol::api::catalogue::{ContainerRedeploy, ContainerRename, ContainersBulk};
use berth_protocol::api::containers::{BulkAction, BulkVerb, ContainerRef, RenameContainer};
use berth_protocol::error::{ErrorBody, ErrorCode};
use berth_protocol::role::Role;
use yew::prelude::*;
use yew_router::prelude::*;

use crate::components::{Question, after_confirm, after_prompt};
use crate::hooks::{Action, use_action};
use crate::pages::containers::{actions_for, inverse, verb_label, verb_progressive, verb_slug};
use crate::route::Route;
use crate::ws::use_ws;

#[derive(Debug, PartialEq, Properties)]
pub struct ActionsProps {
    pub id: String,
    pub name: String,
    /// Docker's state: `running`, `paused`, `exited`, …
    pub state: String,
    /// Part of a compose project (edited through its compose file, not here).
    pub compose: bool,
    /// Refetches the page's inspect document.
    pub reload: Callback<()>,
}

#[function_component(ContainerActions)]
pub fn container_actions(props: &ActionsProps) -> Html {
    let ctx = use_ws();
    let role = ctx.user().map_or(Role::Viewer, |u| u.role);
    // What the running action is doing, said beside the disabled buttons until the
    // call ends (set on click: a declined question leaves nothing running).
    let doing = use_state(|| "working");
    let action = {
        let (reload, doing) = (props.reload.clone(), doing.clone());
        use_action(Callback::from(move |()| {
            doing.set("working");
            reload.emit(());
        }))
    };
    let navigator = use_navigator();
    if !role.allows(Role::Operator) {
        return html! {};
    }
    let busy = action.busy();
    let mut verbs = actions_for(&props.state).to_vec();
    if role.allows(Role::Admin) {
        verbs.push(BulkVerb::Remove);
    }
    let button = |verb: BulkVerb| {
        let (action, id, name) = (action.clone(), props.id.clone(), props.name.clone());
        let (navigator, doing) = (navigator.clone(), doing.clone());
        let onclick = Callback::from(move |_| {
            doing.set(verb_progressive(verb));
            lifecycle(&action, verb, &id, &name, navigator.clone());
        });
        let class = classes!(
            "small",
            format!("page-{}", verb_slug(verb)),
            (verb == BulkVerb::Remove).then_some("danger")
        );
        html! { <button type="button" {class} disabled={busy} {onclick}>{ verb_label(verb) }</button> }
    };
    let onrename = {
        let (action, id, name) = (action.clone(), props.id.clone(), props.name.clone());
        let doing = doing.clone();
        Callback::from(move |_| {
            doing.set("renaming");
            rename(&action, &id, &name);
        })
    };
    let onredeploy = {
        let (action, id, name) = (action.clone(), props.id.clone(), props.name.clone());
        let (navigator, doing) = (navigator.clone(), doing.clone());
        Callback::from(move |_| {
            doing.set("redeploying");
            redeploy(&action, &id, &name, navigator.clone());
        })
    };
    html! {
        <div class="toolbar" id="container-actions">
            { for verbs.into_iter().map(button) }
            <button type="button" class="small" id="container-rename" disabled={busy} onclick={onrename}>{ "Rename" }</button>
            <button type="button" class="small" id="container-redeploy" disabled={busy} onclick={onredeploy}>{ "Redeploy" }</button>
            if role.allows(Role::Operator) && !props.compose {
                <Link<Route> to={Route::EditContainer { id: props.name.clone() }} classes="button small"><span id="container-edit">{ "Edit" }</span></Link<Route>>
            }
            <Link<Route> to={Route::DuplicateContainer { from: props.name.clone() }} classes="button small"><span id="container-duplicate">{ "Duplicate" }</span></Link<Route>>
            if busy { <span class="pending" role="status" id="container-pending">{ format!("{}…", *doing) }</span> }
            { action.view() }
        </div>
    }
}

/// One lifecycle verb on this container, confirmed first when it stops or removes;
/// after a removal the page has nothing left to show and goes to the list.
fn lifecycle(action: &Action, verb: BulkVerb, id: &str, name: &str, navigator: Option<Navigator>) {
    let run = {
        let (action, id, name) = (action.clone(), id.to_owned(), name.to_owned());
        move || run_lifecycle(&action, verb, id, name, navigator)
    };
    match super::super::containers::verb_consequence(verb) {
        Some(detail) => {
            let question = Question::new(format!("{} {name}?", verb_label(verb)), verb_label(verb))
                .detail(detail)
                .danger();
            after_confirm(question, run);
        }
        None => run(),
    }
}

fn run_lifecycle(
    action: &Action,
    verb: BulkVerb,
    id: String,
    name: String,
    navigator: Option<Navigator>,
) {
    let p = BulkAction {
        host: None,
        action: verb,
        ids: vec![id],
        timeout_s: None,
        force: verb == BulkVerb::Remove,
    };
    let undo = inverse(verb).map(|back| {
        let (action, id, name) = (action.clone(), p.ids[0].clone(), name.clone());
        Callback::from(move |()| run_lifecycle(&action, back, id.clone(), name.clone(), None))
    });
    let this = action.clone();
    action.run(move |ws| async move {
        let r = ws.call_m::<ContainersBulk>(p).await?;
        if let Some(error) = r.results.into_iter().find(|x| !x.ok).map(|x| x.error) {
            return Err(error.unwrap_or_else(|| {
                ErrorBody::new(ErrorCode::Internal, format!("{name}: failed"))
            }));
        }
        if let (BulkVerb::Remove, Some(n)) = (verb, navigator) {
            n.push(&Route::Containers);
        }
        if let Some(undo) = undo {
            this.offer_undo(undo);
        }
        Ok(format!("{} {name}: done.", verb_label(verb)))
    });
}

fn rename(action: &Action, id: &str, name: &str) {
    let question = Question::new(format!("Rename {name}"), "Rename").field("New name", name);
    let (action, id, old_name) = (action.clone(), id.to_owned(), name.to_owned());
    after_prompt(question, move |new_name| {
        let p = RenameContainer {
            host: None,
            id,
            name: new_name.trim().to_owned(),
        };
        let back = RenameContainer {
            host: None,
            id: p.id.clone(),
            name: old_name,
        };
        let this = action.clone();
        action.run(move |ws| async move {
            let new_name = p.name.clone();
            ws.call_m::<ContainerRename>(p).await?;
            let again = this.clone();
            this.offer_undo(Callback::from(move |()| rename_to(&again, back.clone())));
            Ok(format!("Renamed to {new_name}."))
        });
    });
}

/// Renames back (the undo of a rename).
fn rename_to(action: &Action, p: RenameContainer) {
    action.run(move |ws| async move {
        let name = p.name.clone();
        ws.call_m::<ContainerRename>(p).await?;
        Ok(format!("Renamed back to {name}."))
    });
}

/// Recreates the container from its image; it gets a new id, so the page follows it.
fn redeploy(action: &Action, id: &str, name: &str, navigator: Option<Navigator>) {
    let question = Question::new(format!("Redeploy {name}?"), "Redeploy").detail(
        "It is recreated from its image (pulled again if a registry answers) with the same settings and volumes; it gets a new id.",
    );
    let (action, id, name) = (action.clone(), id.to_owned(), name.to_owned());
    after_confirm(question, move || run_redeploy(&action, id, name, navigator));
}

fn run_redeploy(action: &Action, id: String, name: String, navigator: Option<Navigator>) {
    let p = ContainerRef { host: None, id };
    action.run(move |ws| async move {
        let r = ws.call_m::<ContainerRedeploy>(p).await?;
        if let Some(n) = navigator {
            n.push(&Route::Container { id: r.id.clone() });
        }
        let image = match (r.pulled, r.pull_error) {
            (true, _) => "with a freshly pulled image".to_owned(),
            (false, Some(e)) => format!("with the local image (pull failed: {e})"),
            (false, None) => "with the local image".to_owned(),
        };
        Ok(format!("Redeployed {name} {image}; it is {}.", r.state))
    });
}
