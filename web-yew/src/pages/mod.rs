//! One page per section, and the pages of one thing in a section (a container, a
//! volume's files, a stack, a job's log).

mod audit;
mod backups;
mod container;
mod containers;
mod dashboard;
mod new_container;
mod plugins;
mod profile;
mod resources;
mod schedules;
mod settings;
mod stacks;
mod stats;
mod tokens;
mod users;

use yew::prelude::*;

use crate::route::Route;

pub fn render(route: Route) -> Html {
    match route {
        Route::Dashboard => html! { <dashboard::Dashboard /> },
        Route::Containers => html! { <containers::ContainersPage /> },
        Route::NewContainer => html! { <new_container::NewContainerPage /> },
        Route::DuplicateContainer { from } => {
            html! { <new_container::NewContainerPage from={Some(from)} /> }
        }
        Route::EditContainer { id } => {
            html! { <new_container::NewContainerPage from={Some(id)} editing=true /> }
        }
        Route::Container { id } => html! { <container::ContainerPage {id} /> },
        Route::ContainerTab { id, tab } => {
            html! { <container::ContainerPage {id} tab={Some(tab)} /> }
        }
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
        Route::Stacks => html! { <stacks::StacksPage /> },
        Route::Stats => html! { <stats::StatsPage /> },
        Route::Stack { name } => {
            html! { <stacks::StackPage key={name.clone()} name={name.clone()} /> }
        }
    }
}
