//! "New volume" and "New network": the forms an admin creates them with. The host
//! validates everything again; these only turn the text fields into the request.

use std::collections::BTreeMap;

use berth_protocol::api::catalogue::{NetworksCreate, VolumesCreate};
use berth_protocol::api::networks::CreateNetwork;
use berth_protocol::api::volumes::CreateVolume;
use yew::prelude::*;

use crate::format::{given, pairs};
use crate::hooks::{Action, on_check, on_text, use_flag, use_text};

#[derive(Properties, PartialEq)]
pub struct CreateProps {
    /// Shows the outcome and reloads the list.
    pub action: Action,
}

#[function_component(VolumeCreateForm)]
pub fn volume_create_form(props: &CreateProps) -> Html {
    let (name, driver, options, labels) = (use_text(), use_text(), use_text(), use_text());
    let onsubmit = {
        let action = props.action.clone();
        let (name, driver, options, labels) = (
            name.clone(),
            driver.clone(),
            options.clone(),
            labels.clone(),
        );
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let request = pairs("options", &options).and_then(|options| {
                Ok(CreateVolume {
                    host: None,
                    name: name.trim().to_owned(),
                    driver: given(driver.trim()),
                    options,
                    labels: pairs("labels", &labels)?,
                })
            });
            let request = match request {
                Ok(r) => r,
                Err(e) => return action.fail(e),
            };
            let name = name.clone();
            action.run(move |ws| async move {
                let v = ws.call_m::<VolumesCreate>(request).await?;
                name.set(String::new());
                Ok(format!("Created volume {} ({}).", v.name, v.driver))
            });
        })
    };
    html! {
        <details class="create" id="volume-create">
            <summary>{ "New volume" }</summary>
            <form class="stacked-form" {onsubmit}>
                <label>{ "Name" }<input id="volume-name" value={(*name).clone()} oninput={on_text(&name)}
                    required=true placeholder="e.g. app-data" /></label>
                <label>{ "Driver" }<input id="volume-driver" value={(*driver).clone()} oninput={on_text(&driver)}
                    placeholder="local" /></label>
                <label>{ "Driver options, one key=value per line" }
                    <textarea id="volume-options" class="mono" rows="2" spellcheck="false"
                        value={(*options).clone()} oninput={on_text(&options)}
                        placeholder="type=nfs&#10;o=addr=10.0.0.5,rw&#10;device=:/exports/app" /></label>
                <label>{ "Labels, one key=value per line" }
                    <textarea id="volume-labels" class="mono" rows="2" spellcheck="false"
                        value={(*labels).clone()} oninput={on_text(&labels)} /></label>
                <button type="submit" class="primary" id="volume-submit"
                    disabled={props.action.busy()}>{ "Create volume" }</button>
            </form>
        </details>
    }
}

#[function_component(NetworkCreateForm)]
pub fn network_create_form(props: &CreateProps) -> Html {
    let (name, driver, subnet, gateway, labels) =
        (use_text(), use_text(), use_text(), use_text(), use_text());
    let (internal, attachable) = (use_flag(false), use_flag(false));
    let onsubmit = {
        let action = props.action.clone();
        let fields = (
            name.clone(),
            driver.clone(),
            subnet.clone(),
            gateway.clone(),
        );
        let (labels, internal, attachable) = (labels.clone(), internal.clone(), attachable.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let (name, driver, subnet, gateway) = &fields;
            let labels = match pairs("labels", &labels) {
                Ok(l) => l,
                Err(e) => return action.fail(e),
            };
            let request = CreateNetwork {
                host: None,
                name: name.trim().to_owned(),
                driver: given(driver.trim()),
                subnet: given(subnet.trim()),
                gateway: given(gateway.trim()),
                internal: *internal,
                attachable: *attachable,
                options: BTreeMap::new(),
                labels,
            };
            let name = name.clone();
            action.run(move |ws| async move {
                let n = ws.call_m::<NetworksCreate>(request).await?;
                name.set(String::new());
                let subnets = n.subnets.join(", ");
                Ok(format!(
                    "Created network {} ({}, {subnets}).",
                    n.name, n.driver
                ))
            });
        })
    };
    html! {
        <details class="create" id="network-create">
            <summary>{ "New network" }</summary>
            <form class="stacked-form" {onsubmit}>
                <label>{ "Name" }<input id="network-name" value={(*name).clone()} oninput={on_text(&name)}
                    required=true placeholder="e.g. backend" /></label>
                <label>{ "Driver" }<input id="network-driver" value={(*driver).clone()} oninput={on_text(&driver)}
                    placeholder="bridge" list="network-drivers" /></label>
                <datalist id="network-drivers">
                    { for ["bridge", "overlay", "macvlan", "ipvlan"].iter().map(|d| html! { <option value={*d} /> }) }
                </datalist>
                <label>{ "Subnet (empty: Docker picks one)" }<input id="network-subnet" value={(*subnet).clone()}
                    oninput={on_text(&subnet)} placeholder="172.30.0.0/24" /></label>
                <label>{ "Gateway (empty: the subnet's first address)" }<input id="network-gateway"
                    value={(*gateway).clone()} oninput={on_text(&gateway)} placeholder="172.30.0.1" /></label>
                <label class="check"><input type="checkbox" id="network-internal" checked={*internal}
                    onchange={on_check(&internal)} />{ "Internal: no route outside, containers reach only each other" }</label>
                <label class="check"><input type="checkbox" id="network-attachable" checked={*attachable}
                    onchange={on_check(&attachable)} />{ "Attachable: standalone containers may join (overlay)" }</label>
                <label>{ "Labels, one key=value per line" }
                    <textarea id="network-labels" class="mono" rows="2" spellcheck="false"
                        value={(*labels).clone()} oninput={on_text(&labels)} /></label>
                <button type="submit" class="primary" id="network-submit"
                    disabled={props.action.busy()}>{ "Create network" }</button>
            </form>
        </details>
    }
}
