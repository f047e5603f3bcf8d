//! The form itself: every field kept in one [`Draft`] in component state, sent as
//! `container.create`; on success the new container's page opens.

use std::rc::Rc;

use berth_protocol::api::catalogue::{ContainerCreate, ContainerEdit};
use berth_protocol::api::containers::{CreateContainer, EditContainer};
use berth_protocol::api::stacks::ConvertedRun;
use yew::prelude::*;
use yew_router::prelude::*;

use super::{Choices, Draft};
use crate::components::from_run::{FromRun, RunInto};
use crate::components::{Question, after_confirm};
use crate::hooks::{Action, picked, typed, use_action};
use crate::route::Route;

/// One field of the draft changed.
enum Edit {
    Text(fn(&mut Draft) -> &mut String, String),
    Start(bool),
    /// A `docker run` line replaced the whole form.
    Replace(Draft),
}

#[derive(Debug, Clone, PartialEq)]
struct State(Draft);

impl Reducible for State {
    type Action = Edit;

    fn reduce(self: Rc<Self>, edit: Edit) -> Rc<Self> {
        let mut draft = self.0.clone();
        match edit {
            Edit::Text(field, value) => *field(&mut draft) = value,
            Edit::Start(start) => draft.start = start,
            Edit::Replace(new) => draft = new,
        }
        Rc::new(State(draft))
    }
}

#[derive(Debug, PartialEq, Properties)]
pub struct FormProps {
    pub initial: Draft,
    pub choices: Choices,
    /// Admins may mount host paths and use the host network.
    pub admin: bool,
    /// The id of the container the form edits (recreates); none: it creates one.
    #[prop_or_default]
    pub editing: Option<String>,
}

#[function_component(ContainerForm)]
pub fn container_form(props: &FormProps) -> Html {
    let state = {
        let initial = props.initial.clone();
        use_reducer(move || State(initial))
    };
    let action = use_action(Callback::noop());
    let navigator = use_navigator();
    let on_typed = |field: fn(&mut Draft) -> &mut String| {
        let state = state.dispatcher();
        Callback::from(move |e: InputEvent| state.dispatch(Edit::Text(field, typed(&e))))
    };
    let chosen = |field: fn(&mut Draft) -> &mut String| {
        let state = state.dispatcher();
        Callback::from(move |e: Event| state.dispatch(Edit::Text(field, picked(&e))))
    };
    let onstart = {
        let state = state.dispatcher();
        Callback::from(move |e: Event| {
            let on = e
                .target_dyn_into::<web_sys::HtmlInputElement>()
                .is_some_and(|i| i.checked());
            state.dispatch(Edit::Start(on));
        })
    };
    let converted = {
        let state = state.dispatcher();
        Callback::from(move |c: ConvertedRun| {
            state.dispatch(Edit::Replace(Draft::from_run(&c.form)))
        })
    };
    let onsubmit = {
        let (action, draft, editing) = (action.clone(), state.0.clone(), props.editing.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let request = match draft.request() {
                Ok(r) => r,
                Err(e) => return action.fail(e),
            };
            let (action, navigator) = (action.clone(), navigator.clone());
            match editing.clone() {
                None => submit(&action, navigator, request, None),
                Some(id) => after_confirm(
                    Question::new(format!("Recreate {}?", draft.name), "Recreate")
                        .detail(EDIT_DETAIL),
                    move || submit(&action, navigator, request, Some(id)),
                ),
            }
        })
    };
    let d = &state.0;
    let editing = props.editing.is_some();
    let area = |id: &'static str, value: &str, rows: &'static str, hint: &'static str, oninput| {
        html! { <textarea {id} class="mono" {rows} spellcheck="false" value={value.to_owned()} {oninput} placeholder={hint} /> }
    };
    let mounts_hint = if props.admin {
        "data:/data\n/srv/app/config:/config:ro"
    } else {
        "data:/data\nconfig:/config:ro"
    };
    html! {
        <form class="stacked-form" id="new-container" {onsubmit}>
            if editing {
                <p class="notice" id="edit-notice">{ EDIT_DETAIL }</p>
            } else {
                <FromRun target={RunInto::Container} {converted} />
            }
            <label>{ "Image (on this host; pull new ones on the Images page)" }
                <input id="new-image" required=true list="new-images" value={d.image.clone()}
                    oninput={on_typed(|d| &mut d.image)} placeholder="e.g. nginx:1.27" /></label>
            <datalist id="new-images">
                { for props.choices.images.iter().map(|i| html! { <option value={i.clone()} /> }) }
            </datalist>
            <label>{ "Name (empty: Docker picks one)" }
                <input id="new-name" value={d.name.clone()} readonly={editing} oninput={on_typed(|d| &mut d.name)} placeholder="e.g. web" /></label>
            <label>{ "Command (empty: the image's)" }
                <input id="new-command" class="mono" value={d.command.clone()} oninput={on_typed(|d| &mut d.command)}
                    placeholder="sh -c 'echo hello; sleep 3600'" /></label>
            <label>{ "Ports, one per line (host:container[/udp])" }
                { area("new-ports", &d.ports, "2", "8080:80\n127.0.0.1:5353:53/udp", on_typed(|d| &mut d.ports)) }</label>
            <label>{ if props.admin { "Volumes, one per line (volume or host path:container path[:ro])" } else { "Volumes, one per line (volume:container path[:ro])" } }
                { area("new-mounts", &d.mounts, "2", mounts_hint, on_typed(|d| &mut d.mounts)) }</label>
            <label>{ "Environment, one KEY=value per line" }
                { area("new-env", &d.env, "3", "TZ=Europe/Berlin", on_typed(|d| &mut d.env)) }</label>
            <label>{ "Restart policy" }
                <select id="new-restart" onchange={chosen(|d| &mut d.restart)}>
                    { for [("", "no"), ("always", "always"), ("unless-stopped", "unless stopped"), ("on-failure", "on failure")]
                        .into_iter().map(|(v, l)| html! { <option value={v} selected={d.restart == v}>{ l }</option> }) }
                </select></label>
            <label>{ "Network" }
                <select id="new-network" onchange={chosen(|d| &mut d.network)}>
                    <option value="" selected={d.network.is_empty()}>{ "default bridge" }</option>
                    if !d.network.is_empty() && !props.choices.networks.contains(&d.network) {
                        <option value={d.network.clone()} selected=true>{ format!("{} (not on this host)", d.network) }</option>
                    }
                    { for props.choices.networks.iter().filter(|n| props.admin || n.as_str() != "host").map(|n| html! {
                        <option value={n.clone()} selected={&d.network == n}>{ n }</option> }) }
                </select></label>
            <label>{ "Labels, one key=value per line" }
                { area("new-labels", &d.labels, "2", "team=infra", on_typed(|d| &mut d.labels)) }</label>
            <label class="check"><input type="checkbox" id="new-start" checked={d.start} onchange={onstart} />
                { "Start it once created" }</label>
            <button type="submit" class="primary" id="new-submit" disabled={action.busy()}>
                { match (action.busy(), editing) {
                    (true, false) => "Creating…",
                    (false, false) => "Create container",
                    (true, true) => "Recreating…",
                    (false, true) => "Save and recreate",
                } }</button>
            { action.view() }
        </form>
    }
}

/// What saving an edit does, said on the form and in its confirmation.
const EDIT_DETAIL: &str = "Saving stops the container, recreates it under its name with these settings and starts it. Its volumes are kept (anonymous ones too), and so are settings this form does not show (limits, health check, user). Files written outside volumes are lost. If anything fails, the old container is put back.";

/// Sends the request (`container.create`, or `container.edit` of `editing`) and opens
/// the container's page.
fn submit(
    action: &Action,
    navigator: Option<Navigator>,
    request: CreateContainer,
    editing: Option<String>,
) {
    let done = if editing.is_some() {
        "Recreated"
    } else {
        "Created"
    };
    action.run(move |ws| async move {
        let made = match editing {
            None => ws.call_m::<ContainerCreate>(request).await?,
            Some(id) => {
                ws.call_m::<ContainerEdit>(EditContainer {
                    id,
                    settings: request,
                })
                .await?
            }
        };
        if let Some(n) = navigator {
            n.push(&Route::Container {
                id: made.id.clone(),
            });
        }
        let warned = made.warnings.join(" ");
        Ok(format!(
            "{done} container {} ({}). {warned}",
            made.name, made.state
        ))
    });
}
