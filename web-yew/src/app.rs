//! The shell: login gate, top bar, sidebar navigation and the routed page.

use berth_protocol::role::Role;
use yew::prelude::*;
use yew_router::prelude::*;

use crate::connection::ConnectionIndicator;
use crate::login::{LoginPage, logout};
use crate::pages;
use crate::route::Route;
use crate::theme::ThemeToggle;
use crate::ws::{WsProvider, WsState, use_ws};

#[function_component(App)]
pub fn app() -> Html {
    html! {
        <BrowserRouter>
            <WsProvider>
                <Gate />
            </WsProvider>
        </BrowserRouter>
    }
}

/// The login page until the first `welcome`; the shell after (also while reconnecting,
/// so a blip does not throw the user out of what they were doing).
#[function_component(Gate)]
fn gate() -> Html {
    let ctx = use_ws();
    let ever_open = use_state(|| false);
    if matches!(ctx.state, WsState::Open(_)) && !*ever_open {
        ever_open.set(true);
    }
    match &ctx.state {
        WsState::LoggedOut => html! { <LoginPage /> },
        WsState::Connecting | WsState::Down(_) if !*ever_open => html! {
            <main class="login" data-page="connecting">
                <p id="connecting" class="notice">{ "Connecting to Berth…" }</p>
                <ConnectionIndicator />
            </main>
        },
        _ => html! { <PasswordGate /> },
    }
}

/// A generated first password must be replaced before anything else (the server
/// refuses every other method until then): the shell waits behind this form.
#[function_component(PasswordGate)]
fn password_gate() -> Html {
    use berth_protocol::api::Empty;
    use berth_protocol::api::catalogue::AuthWhoami;
    let (me, reload) = crate::hooks::use_call::<AuthWhoami>(Empty {});
    match me {
        crate::hooks::Load::Ready(m) if m.must_change_password => html! {
            <crate::login::ChoosePassword done={reload} />
        },
        _ => html! { <Shell /> },
    }
}

#[function_component(Shell)]
fn shell() -> Html {
    // On a narrow screen the sections fold behind a Menu button (CSS shows it only
    // there); picking a section folds them again.
    let menu_open = use_state(|| false);
    let toggle = {
        let menu_open = menu_open.clone();
        Callback::from(move |_: MouseEvent| menu_open.set(!*menu_open))
    };
    let close = {
        let menu_open = menu_open.clone();
        Callback::from(move |()| menu_open.set(false))
    };
    html! {
        <crate::components::toasts::Toasts>
        <div class="shell">
            <header class="topbar">
                <button id="menu-toggle" type="button" class="icon-button menu-toggle" onclick={toggle}
                    aria-controls="sidebar" aria-expanded={menu_open.to_string()}>{ "☰ Menu" }</button>
                <Link<Route> to={Route::Dashboard} classes="brand">{ "⚓ Berth" }</Link<Route>>
                <div class="topbar-actions">
                    <ConnectionIndicator />
                    <UserMenu />
                    <ThemeToggle />
                </div>
            </header>
            <Sidebar open={*menu_open} {close} />
            <main class="content" id="main">
                <Switch<Route> render={pages::render} />
            </main>
        </div>
        </crate::components::toasts::Toasts>
    }
}

#[function_component(UserMenu)]
fn user_menu() -> Html {
    let ctx = use_ws();
    let Some(user) = ctx.user().cloned() else {
        return html! {};
    };
    let onclick = {
        let ws = ctx.ws.clone();
        Callback::from(move |_| logout(ws.clone()))
    };
    html! {
        <span class="user-menu" id="user-menu" data-role={user.role.as_str()}>
            <Link<Route> to={Route::Profile} classes="nav-profile"><span id="nav-profile">{ format!("{} ({})", user.name, user.role.as_str()) }</span></Link<Route>>
            <button id="logout" type="button" class="icon-button" {onclick}>{ "Log out" }</button>
        </span>
    }
}

#[derive(Properties, PartialEq)]
struct SidebarProps {
    /// Shown on a narrow screen (always shown on a wide one).
    open: bool,
    /// Folds it again once a section is picked.
    close: Callback<()>,
}

#[function_component(Sidebar)]
fn sidebar(props: &SidebarProps) -> Html {
    let current = use_route::<Route>();
    let ctx = use_ws();
    let role = ctx.user().map_or(Role::Viewer, |u| u.role);
    let picked = props.close.reform(|_: MouseEvent| ());
    html! {
        <nav class={classes!("sidebar", props.open.then_some("open"))} id="sidebar" aria-label="Sections" onclick={picked}>
            <ul>
            { for Route::SECTIONS.iter().filter(|r| role >= r.least_role()).map(|r| {
                // A detail page lights up its section.
                let active = current.as_ref().is_some_and(|c| c.label() == r.label());
                let r = r.clone();
                html! {
                    <li>
                        <Link<Route> to={r.clone()} classes={classes!("nav-link", active.then_some("active"))}>
                            <span id={format!("nav-{}", r.slug())}>{ r.label() }</span>
                        </Link<Route>>
                    </li>
                }
            }) }
            </ul>
        </nav>
    }
}
