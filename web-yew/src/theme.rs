//! Light/dark theme: follows the OS until the user picks one, then remembers the pick.
//!
//! The choice is the `data-theme` attribute on `<html>`; the stylesheet does the rest.

use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use yew::prelude::*;

const STORAGE_KEY: &str = "berth.theme";
const DARK_QUERY: &str = "(prefers-color-scheme: dark)";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Theme {
    Light,
    Dark,
}

impl Theme {
    fn as_str(self) -> &'static str {
        match self {
            Theme::Light => "light",
            Theme::Dark => "dark",
        }
    }

    fn other(self) -> Self {
        match self {
            Theme::Light => Theme::Dark,
            Theme::Dark => Theme::Light,
        }
    }
}

fn stored() -> Option<Theme> {
    let storage = web_sys::window()?.local_storage().ok()??;
    match storage.get_item(STORAGE_KEY).ok()??.as_str() {
        "light" => Some(Theme::Light),
        "dark" => Some(Theme::Dark),
        _ => None,
    }
}

fn os_prefers_dark() -> bool {
    web_sys::window()
        .and_then(|w| w.match_media(DARK_QUERY).ok().flatten())
        .is_some_and(|m| m.matches())
}

fn apply(theme: Theme) {
    if let Some(root) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.document_element())
    {
        let _ = root.set_attribute("data-theme", theme.as_str());
    }
}

fn initial() -> Theme {
    stored().unwrap_or(if os_prefers_dark() {
        Theme::Dark
    } else {
        Theme::Light
    })
}

/// The toggle button in the top bar.
#[function_component(ThemeToggle)]
pub fn theme_toggle() -> Html {
    let theme = use_state(initial);
    {
        let theme = theme.clone();
        use_effect_with((), move |_| {
            apply(*theme);
            // Follow OS changes while the user has not chosen explicitly.
            let listener = web_sys::window()
                .and_then(|w| w.match_media(DARK_QUERY).ok().flatten())
                .map(|mql| {
                    let on_change = Closure::<dyn Fn(web_sys::MediaQueryListEvent)>::new(
                        move |e: web_sys::MediaQueryListEvent| {
                            if stored().is_none() {
                                let t = if e.matches() {
                                    Theme::Dark
                                } else {
                                    Theme::Light
                                };
                                apply(t);
                                theme.set(t);
                            }
                        },
                    );
                    let _ = mql.add_event_listener_with_callback(
                        "change",
                        on_change.as_ref().unchecked_ref(),
                    );
                    (mql, on_change)
                });
            move || {
                if let Some((mql, cb)) = listener {
                    let _ = mql
                        .remove_event_listener_with_callback("change", cb.as_ref().unchecked_ref());
                }
            }
        });
    }
    let onclick = {
        let theme = theme.clone();
        Callback::from(move |_| {
            let next = theme.other();
            apply(next);
            if let Some(storage) = web_sys::window().and_then(|w| w.local_storage().ok().flatten())
            {
                let _ = storage.set_item(STORAGE_KEY, next.as_str());
            }
            theme.set(next);
        })
    };
    let label = match *theme {
        Theme::Light => "Dark theme",
        Theme::Dark => "Light theme",
    };
    html! {
        <button id="theme-toggle" class="icon-button" type="button" {onclick}
                title={label} aria-label={label} data-theme-current={theme.as_str()}>
            { if *theme == Theme::Dark { "☀" } else { "☾" } }
        </button>
    }
}
