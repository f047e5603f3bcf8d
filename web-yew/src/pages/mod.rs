//! One page per section. Sections whose features have not landed say so plainly —
//! no fake data.

mod audit;
mod backups;
mod container;
mod containers;
mod dashboard;
mod plugins;
mod profile;
mod resources;
mod schedules;
mod settings;
mod tokens;
mod users;

use yew::prelude::*;

use crate::route::Route;

pub fn render(route: Route) -> Html {
    match route {
        Route::Dashboard => html! { <dashboard::Dashboard /> },
        Route::Containers => html! { <containers::ContainersPage /> },
        Route::Container { id } => html! { <container::ContainerPage {id} /> },
        Route::VolumeFiles { name } => html! { <resources::VolumeFilesPage {name} /> },
        Route::Images => html! { <resources::ImagesPage /> },
        Route::Volumes => html! { <resources::VolumesPage /> },
        Route::Networks => html! { <resources::NetworksPage /> },
        Route::Users => html! { <users::UsersPage /> },
        Route::Tokens => html! { <tokens::TokensPage /> },
        Route::Audit => html! { <audit::AuditPage /> },
        Route::Plugins => html! { <plugins::PluginsPage /> },
        Route::Settings => html! { <settings::SettingsPage /> },
        Route::Backups => html! { <backups::BackupsPage /> },
        Route::Jobs => html! { <backups::JobsPage /> },
        Route::Job { id } => {
            html! { <backups::JobsPage key={id.clone()} open={Some(id.clone())} /> }
        }
        Route::Schedules => html! { <schedules::SchedulesPage /> },
        Route::Profile => html! { <profile::ProfilePage /> },
        Route::NotFound => html! {
            <section class="page" data-page="not-found">
                <h1>{ "Page not found" }</h1>
                <p>{ "There is no page at this address. Pick a section on the left." }</p>
            </section>
        },
        other @ Route::Stacks => html! { <Upcoming route={other} /> },
    }
}

/// What each section will hold, so a user knows what is coming rather than seeing an
/// empty table.
fn plan(route: &Route) -> &'static str {
    match route {
        Route::Stacks => {
            "Compose stacks: the stacks directory, an editor with validation, and live up/down/pull output."
        }
        _ => "",
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
            <p class="notice">{ "Not built yet. " }{ plan(&props.route) }</p>
        </section>
    }
}
