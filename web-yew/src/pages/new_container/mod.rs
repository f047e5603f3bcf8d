//! "New container" (`/containers/new`), "Duplicate" (`/containers/new/<id>`) and
//! "Edit" (`/containers/edit/<id>`): a form for `container.create` (or
//! `container.edit`), started empty or from a container's settings. The image list
//! and the networks come from the host, so a user picks rather than types.

mod draft;
mod form;

use berth_protocol::api::catalogue::{ContainerInspect, ImagesList, NetworksList};
use berth_protocol::api::containers::ContainerRef;
use berth_protocol::api::hosts::HostOnly;
use berth_protocol::role::Role;
use yew::prelude::*;

use crate::components::loaded;
use crate::hooks::use_call;
use crate::ws::use_ws;

pub use draft::Draft;

#[derive(Debug, PartialEq, Properties)]
pub struct NewContainerProps {
    /// The container to copy the settings of.
    #[prop_or_default]
    pub from: Option<String>,
    /// `from` is recreated with the form's settings rather than copied.
    #[prop_or_default]
    pub editing: bool,
}

/// What the form offers to pick from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Choices {
    /// Every tagged image on the host.
    pub images: Vec<String>,
    /// Every network but `none` (`bridge` is the default).
    pub networks: Vec<String>,
}

#[function_component(NewContainerPage)]
pub fn new_container_page(props: &NewContainerProps) -> Html {
    let ctx = use_ws();
    let (images, _) = use_call::<ImagesList>(HostOnly::default());
    let (networks, _) = use_call::<NetworksList>(HostOnly::default());
    let from = props.from.clone().unwrap_or_default();
    let role = ctx.user().map_or(Role::Viewer, |u| u.role);
    let choices = Choices {
        images: images
            .ready()
            .map(|l| l.images.iter().flat_map(|i| i.tags.clone()).collect())
            .unwrap_or_default(),
        networks: networks
            .ready()
            .map(|l| {
                l.networks
                    .iter()
                    .map(|n| n.name.clone())
                    .filter(|n| n != "none" && n != "bridge")
                    .collect()
            })
            .unwrap_or_default(),
    };
    let title = match (from.is_empty(), props.editing) {
        (true, _) => "New container".to_owned(),
        (false, false) => format!("Duplicate {from}"),
        (false, true) => format!("Edit {from}"),
    };
    let admin = role.allows(Role::Admin);
    let body = if !role.allows(Role::Operator) {
        html! { <p class="notice">{ "Creating containers needs the operator role." }</p> }
    } else if from.is_empty() {
        html! { <form::ContainerForm initial={Draft::new()} {choices} {admin} /> }
    } else {
        html! { <Duplicate key={from.clone()} from={from.clone()} {choices} {admin} editing={props.editing} /> }
    };
    let page = if props.editing {
        "edit-container"
    } else {
        "new-container"
    };
    html! {
        <section class="page" data-page={page}>
            <h1>{ title }</h1>
            { body }
        </section>
    }
}

#[derive(Debug, PartialEq, Properties)]
struct DuplicateProps {
    from: String,
    choices: Choices,
    admin: bool,
    editing: bool,
}

/// The form once the container to copy (or edit) has been read. An edit of values
/// hidden from the caller's role is not offered: saving would erase them.
#[function_component(Duplicate)]
fn duplicate(props: &DuplicateProps) -> Html {
    let (source, _) = use_call::<ContainerInspect>(ContainerRef {
        host: None,
        id: props.from.clone(),
    });
    loaded(&source, |s| {
        let draft = if props.editing {
            Draft::edit(&s.inspect)
        } else {
            Draft::duplicate(&s.inspect)
        };
        let (initial, lost) = draft.without_redacted();
        let id = s.inspect["Id"].as_str().unwrap_or_default().to_owned();
        if props.editing && !lost.is_empty() {
            return html! { <p class="notice" id="edit-withheld">{ format!(
            "Its {} hold values hidden from your role; saving an edit would erase them. Ask an admin to edit it.",
            lost.join(" and ")) }</p> };
        }
        let editing = props.editing.then_some(id);
        html! { <>
            if !lost.is_empty() {
                <p class="notice" id="duplicate-withheld">{ format!(
                    "Values hidden from your role are left out of the {}: fill them in or ask an admin.",
                    lost.join(" and ")) }</p>
            }
            <form::ContainerForm {initial} choices={props.choices.clone()} admin={props.admin} {editing} />
        </> }
    })
}
