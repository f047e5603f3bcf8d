//! One page per section. Sections whose features have not landed say so plainly —
//! no fake data.

use yew::prelude::*;

use crate::connection::{Connection, Status};
use crate::route::Route;

pub fn render(route: Route) -> Html {
    match route {
        Route::Dashboard => html! { <Dashboard /> },
        Route::NotFound => html! {
            <section class="page" data-page="not-found">
                <h1>{ "Page not found" }</h1>
                <p>{ "There is no page at this address. Pick a section on the left." }</p>
            </section>
        },
        other => html! { <Upcoming route={other} /> },
    }
}

/// What each section will hold, so a user knows what is coming rather than seeing an
/// empty table.
fn plan(route: Route) -> &'static str {
    match route {
        Route::Containers => {
            "All containers grouped by compose project, with live state, logs, stats, terminals and lifecycle actions."
        }
        Route::Stacks => {
            "Compose stacks: the stacks directory, an editor with validation, and live up/down/pull output."
        }
        Route::Backups => {
            "Backups of containers, volumes, networks and stacks, with verified restore, upload and download."
        }
        Route::Jobs => {
            "The job queue: backups, restores and scheduled actions with live progress and logs."
        }
        Route::Schedules => {
            "Cron schedules for backups and start/stop/restart/pause, with a next-run preview and run history."
        }
        Route::Volumes => "Volumes with sizes, users and a file browser.",
        Route::Images => "Images with tags, sizes and what uses them; remove and prune.",
        Route::Networks => {
            "Networks with their containers; backup and restore of network definitions."
        }
        Route::Plugins => {
            "Storage and notification plugins: install, configure, test, enable and disable."
        }
        Route::Users => "Users, roles (viewer, operator, admin), sessions and API tokens.",
        Route::Audit => "Every change and every login, filterable and exportable.",
        Route::Settings => "Server settings: storage defaults, retention, allowed origins.",
        Route::Dashboard | Route::NotFound => "",
    }
}

#[derive(Debug, PartialEq, Properties)]
struct UpcomingProps {
    route: Route,
}

#[function_component(Upcoming)]
fn upcoming(props: &UpcomingProps) -> Html {
    html! {
        <section class="page" data-page={props.route.slug()}>
            <h1>{ props.route.label() }</h1>
            <p class="notice">{ "Not built yet. " }{ plan(props.route) }</p>
        </section>
    }
}

#[function_component(Dashboard)]
fn dashboard() -> Html {
    let conn = use_context::<Connection>();
    let body = match conn.as_ref().map(|c| &c.status) {
        None | Some(Status::Checking) => html! { <p>{ "Checking the server…" }</p> },
        Some(Status::Unreachable(e)) => {
            html! { <p class="error">{ format!("The server is not reachable: {e}") }</p> }
        }
        Some(Status::Answered(r)) => html! {
            <>
            <p>{ format!("Berth {} — {}", r.version, if r.ready { "ready" } else { "not ready" }) }</p>
            <table class="checks">
                <thead><tr><th>{ "Component" }</th><th>{ "State" }</th><th>{ "Detail" }</th></tr></thead>
                <tbody>
                { for r.checks.iter().map(|c| html! {
                    <tr class={if c.ok { "ok" } else { "failed" }}>
                        <td>{ &c.name }</td>
                        <td>{ if c.ok { "OK" } else { "Failing" } }</td>
                        <td>{ &c.detail }</td>
                    </tr>
                }) }
                </tbody>
            </table>
            </>
        },
    };
    html! {
        <section class="page" data-page="dashboard">
            <h1>{ "Dashboard" }</h1>
            <h2>{ "Server" }</h2>
            { body }
            <p class="notice">{ "Containers, stacks and backups at a glance arrive with those sections." }</p>
        </section>
    }
}
