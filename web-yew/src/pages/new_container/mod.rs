//! "New container" (`/containers/new`) and "Duplicate" (`/containers/new/<id>`): a
//! form for `container.create`, started empty or from a container's settings. The
//! image list and the networks come from the host, so a user picks rather than types.

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
    let title = if from.is_empty() {
        "New container".to_owned()
    } else {
        format!("Duplicate {from}")
    };
    let admin = role.allows(Role::Admin);
    let body = if !role.allows(Role::Operator) {
        html! { <p class="notice">{ "Creating containers needs the operator role." }</p> }
    } else if from.is_empty() {
        html! { <form::ContainerForm initial={Draft::new()} {choices} {admin} /> }
    } else {
        html! { <Duplicate key={from.clone()} from={from.clone()} {choices} {admin} /> }
    };
    html! {
        <section class="page" data-page="new-container">
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
}

/// The form once the container to copy has been read.
#[function_component(Duplicate)]
fn duplicate(props: &DuplicateProps) -> Html {
    let (source, _) = use_call::<ContainerInspect>(ContainerRef {
        host: None,
        id: props.from.clone(),
    });
    loaded(&source, |s| {
        let (initial, lost) = Draft::duplicate(&s.inspect).without_redacted();
        html! { <>
            if !lost.is_empty() {
                <p class="notice" id="duplicate-withheld">{ format!(
                    "Values hidden from your role are left out of the {}: fill them in or ask an admin.",
                    lost.join(" and ")) }</p>
            }
            <form::ContainerForm {initial} choices={props.choices.clone()} admin={props.admin} />
        </> }
    })
}
