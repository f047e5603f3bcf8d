//! One page per section. Sections whose features have not landed say so plainly —
//! no fake data.

mod audit;
mod backups;
mod container;
mod containers;
mod dashboard;
mod logs;
mod plugin_install;
mod plugins;
mod profile;
mod resources;
mod settings;
mod stats;
mod terminal;
mod tokens;
mod users;
mod volume_files;

use berth_protocol::api::catalogue::Method;
use berth_protocol::error::{ErrorBody, ErrorCode};
use yew::prelude::*;

use crate::route::Route;
use crate::ws::{WsState, describe, use_ws};

pub fn render(route: Route) -> Html {
    match route {
        Route::Dashboard => html! { <dashboard::Dashboard /> },
        Route::Containers => html! { <containers::ContainersPage /> },
        Route::Container { id } => html! { <container::ContainerPage {id} /> },
        Route::VolumeFiles { name } => html! { <volume_files::VolumeFilesPage {name} /> },
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
        Route::Profile => html! { <profile::ProfilePage /> },
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
fn plan(route: &Route) -> &'static str {
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

/// The state of a call a page made.
#[derive(Debug, Clone, PartialEq)]
pub enum Load<T> {
    Loading,
    Ready(T),
    Failed(ErrorBody),
}

/// Calls `M` when the page mounts, when the connection (re)opens and on `reload`.
#[hook]
pub fn use_call<M>(params: M::Params) -> (Load<M::Result>, Callback<()>)
where
    M: Method,
    M::Params: Clone + PartialEq,
    M::Result: Clone + PartialEq,
{
    let ctx = use_ws();
    let state = use_state(|| Load::Loading);
    let tick = use_state(|| 0u32);
    let open = matches!(ctx.state, WsState::Open(_));
    {
        let state = state.clone();
        let ws = ctx.ws.clone();
        use_effect_with((params, open, *tick), move |(params, open, _)| {
            if *open {
                let params = params.clone();
                wasm_bindgen_futures::spawn_local(async move {
                    state.set(match ws.call_m::<M>(params).await {
                        Ok(r) => Load::Ready(r),
                        Err(e) => Load::Failed(e),
                    });
                });
            }
        });
    }
    let reload = {
        let tick = tick.clone();
        Callback::from(move |()| tick.set(tick.wrapping_add(1)))
    };
    ((*state).clone(), reload)
}

/// An error paragraph; a role refusal is marked so tests and users can tell.
pub fn error_view(e: &ErrorBody) -> Html {
    let class = if e.code == ErrorCode::Forbidden {
        "error forbidden"
    } else {
        "error"
    };
    html! { <p class={class} role="alert">{ describe(e) }</p> }
}

/// Reads an input's value by its node ref.
pub fn value_of(r: &NodeRef) -> String {
    r.cast::<web_sys::HtmlInputElement>()
        .map(|i| i.value())
        .or_else(|| r.cast::<web_sys::HtmlSelectElement>().map(|s| s.value()))
        .unwrap_or_default()
}

/// The value a `<select>`'s `change` event picked.
pub fn picked(e: &Event) -> String {
    e.target_dyn_into::<web_sys::HtmlSelectElement>()
        .map(|s| s.value())
        .unwrap_or_default()
}

/// Clears an input.
pub fn clear(r: &NodeRef) {
    if let Some(i) = r.cast::<web_sys::HtmlInputElement>() {
        i.set_value("");
    }
}

/// A one-line outcome under a form: an error, or what just happened.
pub type Flash = UseStateHandle<Option<Result<String, ErrorBody>>>;

pub fn flash_view(f: &Flash) -> Html {
    match &**f {
        None => html! {},
        Some(Ok(m)) => html! { <p class="ok-note" role="status">{ m }</p> },
        Some(Err(e)) => error_view(e),
    }
}

/// Asks the user to confirm a destructive action (the browser's own dialog).
pub fn confirm(text: &str) -> bool {
    web_sys::window()
        .and_then(|w| w.confirm_with_message(text).ok())
        .unwrap_or(false)
}

/// A byte count for people: GiB, MiB or KiB.
pub fn bytes(n: u64) -> String {
    let n = n as f64;
    if n >= (1u64 << 30) as f64 {
        format!("{:.1} GiB", n / (1u64 << 30) as f64)
    } else if n >= (1u64 << 20) as f64 {
        format!("{:.1} MiB", n / (1u64 << 20) as f64)
    } else {
        format!("{:.0} KiB", n / 1024.0)
    }
}
