//! The shell: top bar, sidebar navigation and the routed page.

use yew::prelude::*;
use yew_router::prelude::*;

use crate::connection::{ConnectionIndicator, ConnectionProvider};
use crate::pages;
use crate::route::Route;
use crate::theme::ThemeToggle;

#[function_component(App)]
pub fn app() -> Html {
    html! {
        <BrowserRouter>
            <ConnectionProvider>
                <div class="shell">
                    <header class="topbar">
                        <Link<Route> to={Route::Dashboard} classes="brand">{ "⚓ Berth" }</Link<Route>>
                        <div class="topbar-actions">
                            <ConnectionIndicator />
                            <ThemeToggle />
                        </div>
                    </header>
                    <Sidebar />
                    <main class="content" id="main">
                        <Switch<Route> render={pages::render} />
                    </main>
                </div>
            </ConnectionProvider>
        </BrowserRouter>
    }
}

#[function_component(Sidebar)]
fn sidebar() -> Html {
    let current = use_route::<Route>();
    html! {
        <nav class="sidebar" aria-label="Sections">
            <ul>
            { for Route::SECTIONS.iter().map(|&r| {
                let active = current == Some(r);
                html! {
                    <li>
                        <Link<Route> to={r} classes={classes!("nav-link", active.then_some("active"))}>
                            <span id={format!("nav-{}", r.slug())}>{ r.label() }</span>
                        </Link<Route>>
                    </li>
                }
            }) }
            </ul>
        </nav>
    }
}
