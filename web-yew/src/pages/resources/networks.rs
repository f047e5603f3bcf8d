//! Networks with their containers; create (admins), connect and disconnect
//! containers, back up (operators) and remove.

use berth_protocol::api::catalogue::{
    ContainersList, NetworkBackup, NetworkConnect, NetworkDisconnect, NetworkRemove, NetworksList,
};
use berth_protocol::api::hosts::HostOnly;
use berth_protocol::api::networks::{
    ConnectContainer, DisconnectContainer, NetworkRef, NetworkSummary,
};
use berth_protocol::role::Role;
use yew::prelude::*;
use yew_router::prelude::*;

use super::create::NetworkCreateForm;
use super::{Removed, remove};
use crate::components::{Question, loaded, run_confirmed};
use crate::format::given;
use crate::hooks::{Action, BusyRows, busy_badge, use_action, use_busy_rows, use_call};
use crate::pages::containers::NetworkFilter;
use crate::route::Route;
use crate::ws::use_ws;

#[function_component(NetworksPage)]
pub fn networks_page() -> Html {
    let ctx = use_ws();
    let (list, reload) = use_call::<NetworksList>(HostOnly::default());
    let (containers, _) = use_call::<ContainersList>(HostOnly::default());
    let action = use_action(reload);
    let busy = use_busy_rows();
    let names: Vec<String> = containers
        .ready()
        .map(|l| {
            // Berth's own container and its helpers are not for users to rewire.
            let mut names: Vec<String> = l
                .groups
                .iter()
                .flat_map(|g| g.containers.iter())
                .filter(|c| !c.protected && !c.labels.contains_key("dev.berth.helper"))
                .map(|c| c.name.clone())
                .collect();
            names.sort();
            names
        })
        .unwrap_or_default();
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
                    <tbody>{ for l.networks.iter().map(|n| row(n, (&action, &busy), &names, operator, admin)) }</tbody>
                </table>
            }) }
        </section>
    }
}

fn row(
    n: &NetworkSummary,
    (action, busy): (&Action, &BusyRows),
    names: &[String],
    operator: bool,
    admin: bool,
) -> Html {
    let onremove = {
        let (action, busy, label) = (action.clone(), busy.clone(), n.name.clone());
        let p = NetworkRef {
            host: None,
            id: n.id.clone(),
        };
        Callback::from(move |_| {
            let removed = Removed {
                busy: busy.clone(),
                key: p.id.clone(),
                label: label.clone(),
            };
            remove::<NetworkRemove>(&action, removed, p.clone());
        })
    };
    let doing = busy.of(&n.id);
    let onbackup = {
        let (action, name) = (action.clone(), n.name.clone());
        Callback::from(move |_| back_up(&action, name.clone()))
    };
    let removable = admin && !n.builtin && n.containers.is_empty();
    html! {
        <tr key={n.id.clone()} data-name={n.name.clone()}>
            <td>{ &n.name }if n.builtin { <span class="badge">{ "built-in" }</span> }</td>
            <td>{ &n.driver }</td>
            <td>{ n.subnets.join(", ") }</td>
            <td>{ attached(n, (action, busy), operator && n.name != "host" && n.name != "none" && doing.is_none()) }
                if operator && n.name != "host" && n.name != "none" && doing.is_none() {
                    <ConnectForm network={n.name.clone()} candidates={names.iter().filter(|c| !n.containers.contains(c)).cloned().collect::<Vec<_>>()} action={action.clone()} />
                }</td>
            <td>if let Some(doing) = doing { { busy_badge(doing) } } else {
                if operator && !n.builtin {
                    <button class="small network-backup" onclick={onbackup}>{ "Back up" }</button>
                }
                if removable { <button class="small danger" onclick={onremove}>{ "Remove" }</button> }
            }</td>
        </tr>
    }
}

/// The containers on the network, with a link to the containers page filtered to them
/// and, for operators, a way to detach each.
fn attached(n: &NetworkSummary, on: (&Action, &BusyRows), may_change: bool) -> Html {
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
                <li data-container={c.clone()}><Link<Route> to={Route::Container { id: c.clone() }}>{ c }</Link<Route>>
                    if may_change {
                        { " " }<button class="small network-disconnect" onclick={disconnect(on, (&n.id, &n.name), c)}>{ "Disconnect" }</button>
                    }
                </li>
            }) }</ul>
        </details>
    }
}

/// Detaches `container` from the network (id, name), the network's row saying
/// "disconnecting…" until the engine answers.
fn disconnect(
    (action, busy): (&Action, &BusyRows),
    (id, network): (&str, &str),
    container: &str,
) -> Callback<MouseEvent> {
    let (action, busy) = (action.clone(), busy.clone());
    let (id, network, container) = (id.to_owned(), network.to_owned(), container.to_owned());
    Callback::from(move |_| {
        let question = Question::new(
            format!("Disconnect {container} from {network}?"),
            "Disconnect",
        )
        .detail(
            "It loses its address and name on this network at once; it keeps its other networks.",
        );
        let (network, container) = (network.clone(), container.clone());
        let (busy, keys) = (busy.clone(), [id.clone()]);
        run_confirmed(&action, question, move |ws| async move {
            let request = DisconnectContainer {
                host: None,
                network: network.clone(),
                container: container.clone(),
            };
            let call = ws.call_m::<NetworkDisconnect>(request);
            busy.during(&keys, "disconnecting", call).await?;
            Ok(format!("Disconnected {container} from {network}."))
        });
    })
}

#[derive(Properties, PartialEq)]
struct ConnectProps {
    network: String,
    /// Containers not on the network yet.
    candidates: Vec<String>,
    action: Action,
}

/// Attaches a container, with an optional alias on this network.
#[function_component(ConnectForm)]
fn connect_form(props: &ConnectProps) -> Html {
    let onsubmit = {
        let (action, network) = (props.action.clone(), props.network.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            // What the form shows when it is sent: the list of candidates changes under
            // it as containers come and go, and a choice kept in component state went
            // stale once in a busy run (the first candidate was sent instead).
            let Some((container, alias)) = submitted(&e) else {
                return;
            };
            let request = ConnectContainer {
                host: None,
                network: network.clone(),
                container: container.clone(),
                aliases: given(alias.trim()).into_iter().collect(),
            };
            let network = network.clone();
            action.run(move |ws| async move {
                ws.call_m::<NetworkConnect>(request).await?;
                Ok(format!("Connected {container} to {network}."))
            });
        })
    };
    if props.candidates.is_empty() {
        return html! {};
    }
    html! {
        <form class="network-connect" {onsubmit}>
            <select name="container" class="network-connect-container" aria-label="Container to connect">
            { for props.candidates.iter().map(|c| html! { <option value={c.clone()}>{ c }</option> }) }
            </select>
            <input name="alias" class="network-connect-alias" placeholder="alias (optional)" aria-label="Alias on this network" />
            <button type="submit" class="small" disabled={props.action.busy()}>{ "Connect" }</button>
        </form>
    }
}

/// The container and alias of a submitted connect form.
fn submitted(e: &SubmitEvent) -> Option<(String, String)> {
    let form: web_sys::HtmlFormElement = e.target_dyn_into()?;
    let data = web_sys::FormData::new_with_form(&form).ok()?;
    let field = |name| data.get(name).as_string().unwrap_or_default();
    let container = field("container");
    (!container.is_empty()).then(|| (container, field("alias")))
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
