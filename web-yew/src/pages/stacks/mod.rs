//! The Stacks page: managed stacks (folders in the stacks directory) beside external
//! compose projects (started, stopped, adopted: `external`), each with its services'
//! states; a new stack (admins), written
//! or converted from a `docker run` line (`from_run`); one
//! stack's page with its compose actions and their output (`actions`), the schedules
//! covering it, its editor (`editor`: the highlighted text with line numbers in
//! `code`, what is unsaved in `unsaved`) and its versions (`versions`).

mod actions;
mod backups;
mod code;
mod editor;
mod external;
mod logs;
mod services;
mod unsaved;
mod versions;

use berth_protocol::api::Empty;
use berth_protocol::api::catalogue::{StacksGet, StacksList};
use berth_protocol::api::stacks::{ServiceState, StackList, StackRef, StackSummary};
use berth_protocol::role::Role;
use yew::prelude::*;
use yew_router::prelude::Link;

use crate::components::{Covered, loaded};
use crate::hooks::{use_call, use_reload_on_job_end};
use crate::route::Route;
use crate::ws::use_ws;

pub fn state_name(s: ServiceState) -> &'static str {
    match s {
        ServiceState::Running => "running",
        ServiceState::Partial => "partial",
        ServiceState::Stopped => "stopped",
        ServiceState::NotCreated => "not created",
    }
}

#[function_component(StacksPage)]
pub fn stacks_page() -> Html {
    let ctx = use_ws();
    let (list, reload) = use_call::<StacksList>(Empty {});
    // A stack action or an external project's start/stop changed states.
    use_reload_on_job_end(reload.clone());
    let admin = ctx.user().is_some_and(|u| u.role.allows(Role::Admin));
    html! {
        <section class="page" data-page="stacks">
            <h1>{ "Stacks" }</h1>
            { loaded(&list, table) }
            if admin {
                <h2>{ "New stack" }</h2>
                <editor::Editor key="new" name={None::<String>} compose={editor::STARTER.to_owned()} env={None::<String>} editable=true saved={reload} />
            }
        </section>
    }
}

fn table(l: &StackList) -> Html {
    let cli = l.compose.as_ref().map_or_else(
        || "No compose CLI found: stacks can be edited, not run.".to_owned(),
        |c| format!("{} {}", c.command, c.version),
    );
    html! { <>
        <p class="muted" id="stacks-dir">{ format!("Stacks directory {} · {cli}", l.stacks_dir) }</p>
        if l.stacks.is_empty() {
            <p class="notice" id="stacks-empty">{ "No stacks yet. Create one on this page from a compose file or a docker run line, or adopt a project Docker already runs." }</p>
        } else {
            <table class="grid" id="stacks-table">
                <thead><tr><th>{ "Stack" }</th><th>{ "State" }</th><th>{ "Services" }</th><th>{ "Folder" }</th><th></th></tr></thead>
                <tbody>{ for l.stacks.iter().map(row) }</tbody>
            </table>
        }
    </> }
}

fn row(s: &StackSummary) -> Html {
    let services: Vec<String> = s
        .services
        .iter()
        .map(|x| format!("{} {}/{}", x.name, x.running, x.containers))
        .collect();
    html! {
        <tr data-stack={s.name.clone()} data-state={state_name(s.state)} data-managed={s.managed.to_string()}>
            <td>if s.managed {
                    <Link<Route> to={Route::Stack { name: s.name.clone() }} classes="stack-open">{ &s.name }</Link<Route>>
                } else {
                    { &s.name }<span class="badge">{ " external" }</span>
                }
                if s.draft { <span class="badge warn">{ " draft" }</span> }</td>
            <td class={classes!("state", state_name(s.state).replace(' ', "-"))}>{ state_name(s.state) }</td>
            <td>{ services.join(", ") }{ s.error.as_deref().map(|e| html! { <div class="error">{ e }</div> }).unwrap_or_default() }</td>
            <td class="mono muted">{ s.dir.clone().unwrap_or_default() }</td>
            <td>if !s.managed { <external::ExternalActions name={s.name.clone()} /> }</td>
        </tr>
    }
}

#[derive(Properties, PartialEq)]
pub struct StackProps {
    pub name: String,
}

/// One stack: its actions, services and combined logs, its backups, the schedules
/// covering it,
/// its files in the editor (admins save), its versions.
#[function_component(StackPage)]
pub fn stack_page(props: &StackProps) -> Html {
    let ctx = use_ws();
    let (detail, reload) = use_call::<StacksGet>(StackRef {
        name: props.name.clone(),
    });
    let admin = ctx.user().is_some_and(|u| u.role.allows(Role::Admin));
    let operator = ctx.user().is_some_and(|u| u.role.allows(Role::Operator));
    html! {
        <section class="page" data-page="stack">
            <h1>{ format!("Stack {}", props.name) }</h1>
            <p><Link<Route> to={Route::Stacks}>{ "All stacks" }</Link<Route>></p>
            if operator { <actions::StackActions name={props.name.clone()} done={Callback::noop()} /> }
            <services::StackServices name={props.name.clone()} />
            <backups::StackBackups name={props.name.clone()} />
            <div class="card" id="stack-schedules">
                <h2>{ "Schedules covering it" }</h2>
                <crate::components::NextRuns only={Some(Covered { project: Some(props.name.clone()), ..Covered::default() })} />
            </div>
            { loaded(&detail, |d| html! { <>
                <p class="muted mono" id="stack-dir">{ format!("{}/{}", d.dir, d.compose_file) }</p>
                <editor::Editor key={format!("{}-{}", d.name, d.versions)} name={Some(d.name.clone())} compose={d.compose.clone()}
                    env={d.env.clone()} editable={admin} saved={reload.clone()} />
                if admin { <versions::Versions key={d.versions.to_string()} name={d.name.clone()} count={d.versions} current={d.compose.clone()} restored={reload.clone()} /> }
            </> }) }
        </section>
    }
}
