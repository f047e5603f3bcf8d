//! Toasts: short notes in a corner saying how an action or a job ended, whatever page
//! the user is on, that go by themselves (failures stay longer) or on a click.
//!
//! Every [`crate::hooks::Action`] outcome becomes one, and so does every job's end and
//! every plugin turning unhealthy, from Berth's events — so a backup started on one
//! page reports its end on whichever page the user went on to.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use berth_protocol::api::events::Event;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use yew::prelude::*;
use yew_router::prelude::*;

use crate::route::Route;
use crate::ws::use_ws;

/// How long a toast stays: long enough to read a sentence; a failure twice that.
const SHOWN_MS: i32 = 6_000;
/// At most this many at once; the oldest goes first.
const MOST: usize = 5;

#[derive(Debug, Clone, PartialEq)]
struct Toast {
    id: u32,
    ok: bool,
    text: String,
    link: ToastLink,
    /// What puts the action's effect back (a stopped container started again),
    /// offered for as long as the toast is shown.
    undo: Option<Callback<()>>,
}

/// Puts toasts up; cheap to clone, shared through a context.
#[derive(Clone)]
pub struct Toaster {
    shown: Rc<RefCell<Vec<Toast>>>,
    next: Rc<Cell<u32>>,
    redraw: Callback<()>,
}

impl PartialEq for Toaster {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.shown, &other.shown)
    }
}

impl Toaster {
    /// Shows `text` as a success or a failure.
    pub fn show(&self, ok: bool, text: impl Into<String>) {
        self.show_with_link(ok, text, None);
    }

    /// Shows `text` with a link to where the details are (a job's log).
    pub fn show_with_link(&self, ok: bool, text: impl Into<String>, link: ToastLink) {
        self.put(ok, text.into(), link, None);
    }

    /// Shows a success that can be undone from its toast.
    pub fn show_with_undo(&self, text: impl Into<String>, undo: Callback<()>) {
        self.put(true, text.into(), None, Some(undo));
    }

    fn put(&self, ok: bool, text: String, link: ToastLink, undo: Option<Callback<()>>) {
        let id = self.next.get();
        self.next.set(id.wrapping_add(1));
        {
            let mut shown = self.shown.borrow_mut();
            shown.push(Toast {
                id,
                ok,
                text,
                link,
                undo,
            });
            let excess = shown.len().saturating_sub(MOST);
            shown.drain(..excess);
        }
        self.redraw.emit(());
        let this = self.clone();
        let dismiss = Closure::once_into_js(move || this.dismiss(id));
        if let Some(window) = web_sys::window() {
            let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(
                dismiss.unchecked_ref(),
                if ok { SHOWN_MS } else { 2 * SHOWN_MS },
            );
        }
    }

    fn dismiss(&self, id: u32) {
        self.shown.borrow_mut().retain(|t| t.id != id);
        self.redraw.emit(());
    }
}

/// The toaster of the shell, if there is one (there is none on the login page).
#[hook]
pub fn use_toaster() -> Option<Toaster> {
    use_context::<Toaster>()
}

#[derive(Debug, PartialEq, Properties)]
pub struct ToastsProps {
    pub children: Html,
}

/// Provides the toaster to `children` and shows its toasts, with those of Berth's
/// events.
#[function_component(Toasts)]
pub fn toasts(props: &ToastsProps) -> Html {
    let redraw = use_force_update();
    let toaster = use_memo((), |()| Toaster {
        shown: Rc::default(),
        next: Rc::new(Cell::new(1)),
        redraw: Callback::from(move |()| redraw.force_update()),
    });
    let toaster = (*toaster).clone();
    use_event_toasts(&toaster);
    let shown = toaster.shown.borrow().clone();
    html! {
        <ContextProvider<Toaster> context={toaster.clone()}>
            { props.children.clone() }
            <div class="toasts" id="toasts" role="status" aria-live="polite">
            { for shown.into_iter().map(|t| toast_view(&toaster, t)) }
            </div>
        </ContextProvider<Toaster>>
    }
}

fn toast_view(toaster: &Toaster, t: Toast) -> Html {
    let close = {
        let toaster = toaster.clone();
        let id = t.id;
        Callback::from(move |_: MouseEvent| toaster.dismiss(id))
    };
    html! {
        <div class={classes!("toast", if t.ok { "ok" } else { "failed" })} data-toast={t.id.to_string()}>
            <span class="toast-text">{ t.text }</span>
            if let Some((route, label)) = t.link {
                <Link<Route> to={route} classes="toast-link">{ label }</Link<Route>>
            }
            if let Some(undo) = t.undo {
                <button class="toast-undo small" onclick={undone(toaster, t.id, undo)}>{ "Undo" }</button>
            }
            <button class="toast-close" aria-label="Dismiss" onclick={close}>{ "×" }</button>
        </div>
    }
}

/// The toast goes (an undo is offered once) and the undo runs.
fn undone(toaster: &Toaster, id: u32, run: Callback<()>) -> Callback<MouseEvent> {
    let toaster = toaster.clone();
    Callback::from(move |_: MouseEvent| {
        toaster.dismiss(id);
        run.emit(());
    })
}

/// A job's end and a plugin turning unhealthy, as toasts.
#[hook]
fn use_event_toasts(toaster: &Toaster) {
    let ctx = use_ws();
    let toaster = toaster.clone();
    use_effect_with((), move |()| {
        let on_data = Callback::from(move |v| {
            let Ok(e) = serde_json::from_value::<Event>(v) else {
                return;
            };
            if let Some((ok, text, link)) = event_toast(&e) {
                toaster.show_with_link(ok, text, link);
            }
        });
        let sub = ctx.ws.subscribe(
            "events",
            serde_json::json!({"filters": {"types": ["job", "plugin"]}}),
            64,
            on_data,
            Callback::noop(),
        );
        move || drop(sub)
    });
}

/// Where a toast's details are: the page, and the link's words.
type ToastLink = Option<(Route, &'static str)>;

/// What a toast says of an event (success, text, link), if it says anything.
fn event_toast(e: &Event) -> Option<(bool, String, ToastLink)> {
    let name = e.name.clone().unwrap_or_else(|| e.id.clone());
    match (e.typ.as_str(), e.action.as_str()) {
        ("job", "finished") => {
            let state = e.state.as_deref().unwrap_or("finished");
            let ok = state == "complete";
            let text = match (&e.message, ok) {
                (Some(m), false) => format!("{name}: {state} — {m}"),
                _ => format!("{name}: {state}"),
            };
            Some((ok, text, Some((Route::Job { id: e.id.clone() }, "Log"))))
        }
        ("plugin", "unhealthy") => Some((
            false,
            format!(
                "Plugin {name} is unhealthy: {}",
                e.message.as_deref().unwrap_or("its calls fail")
            ),
            Some((Route::Plugins, "Plugins")),
        )),
        _ => None,
    }
}
