//! A stack's services and their containers — state, status, ports, with links to
//! each container's logs and terminal — refreshed as jobs end (an action changes
//! them), and the stack's combined logs (`logs`).

use berth_protocol::api::catalogue::ContainersList;
use berth_protocol::api::containers::{ContainerList, ContainerSummary};
use berth_protocol::api::hosts::HostOnly;
use berth_protocol::role::Role;
use yew::prelude::*;
use yew_router::prelude::Link;

use crate::components::loaded;
use crate::hooks::{use_call, use_reload_on_job_end};
use crate::route::Route;
use crate::ws::use_ws;

#[derive(Properties, PartialEq)]
pub struct ServicesProps {
    pub name: String,
}

/// The stack's containers, by service.
fn of_stack(list: &ContainerList, name: &str) -> Vec<ContainerSummary> {
    let mut found: Vec<ContainerSummary> = list
        .groups
        .iter()
        .filter(|g| g.stack.as_deref() == Some(name))
        .flat_map(|g| g.containers.iter().cloned())
        .collect();
    found.sort_by(|a, b| (&a.service, &a.name).cmp(&(&b.service, &b.name)));
    found
}

#[function_component(StackServices)]
pub fn stack_services(props: &ServicesProps) -> Html {
    let ctx = use_ws();
    let operator = ctx.user().is_some_and(|u| u.role.allows(Role::Operator));
    let (list, reload) = use_call::<ContainersList>(HostOnly::default());
    use_reload_on_job_end(reload);
    let name = props.name.clone();
    html! {
        <div id="stack-services">
            <h2>{ "Services" }</h2>
            { loaded(&list, |l| {
                let containers = of_stack(l, &name);
                if containers.is_empty() {
                    return html! { <p class="muted" id="stack-no-containers">{ "No containers: up creates them." }</p> };
                }
                let logs: Vec<(String, String)> = containers
                    .iter()
                    .map(|c| (c.service.clone().unwrap_or_else(|| c.name.clone()), c.id.clone()))
                    .collect();
                html! { <>
                    <table class="grid">
                        <thead><tr><th>{ "Service" }</th><th>{ "Container" }</th><th>{ "State" }</th><th>{ "Ports" }</th><th></th></tr></thead>
                        <tbody>{ for containers.iter().map(|c| row(c, operator)) }</tbody>
                    </table>
                    <super::logs::StackLogs containers={logs} />
                </> }
            }) }
        </div>
    }
}

fn row(c: &ContainerSummary, operator: bool) -> Html {
    let ports: Vec<String> = c
        .ports
        .iter()
        .map(|p| match p.public {
            Some(public) => format!("{public}→{}", p.private),
            None => p.private.to_string(),
        })
        .collect();
    let tab = |tab: &str| Route::ContainerTab {
        id: c.id.clone(),
        tab: tab.to_owned(),
    };
    html! {
        <tr data-service={c.service.clone().unwrap_or_default()} data-state={c.state.clone()}>
            <td>{ c.service.clone().unwrap_or_default() }</td>
            <td><Link<Route> to={Route::Container { id: c.id.clone() }}>{ &c.name }</Link<Route>></td>
            <td class={classes!("state", c.state.clone())} title={c.status.clone()}>{ &c.state }</td>
            <td class="mono">{ ports.join(", ") }</td>
            <td>
                <Link<Route> to={tab("logs")} classes="small service-logs">{ "Logs" }</Link<Route>>{ " " }
                if operator && c.state == "running" {
                    <Link<Route> to={tab("terminal")} classes="small service-terminal">{ "Terminal" }</Link<Route>>
                }
            </td>
        </tr>
    }
}
