//! Unsaved edits of a stack's compose file are not lost: while the editor differs
//! from the saved file, the page shows what changed (a diff, before Save), leaving
//! or reloading the tab asks first, and moving to another page of the UI keeps the
//! edit in the tab's session storage — offered again, with a way to drop it, when
//! the stack is opened next.

use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::Closure;
use yew::prelude::*;

use crate::components::diff::DiffView;

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.session_storage().ok()?
}

fn key(name: &str) -> String {
    format!("berth.stack-draft.{name}")
}

/// The edit kept for stack `name`, if any.
pub fn kept(name: &str) -> Option<String> {
    storage()?.get_item(&key(name)).ok()?
}

fn keep(name: &str, text: Option<&str>) {
    if let Some(s) = storage() {
        let _ = match text {
            Some(t) => s.set_item(&key(name), t),
            None => s.remove_item(&key(name)),
        };
    }
}

/// While `dirty`, the browser asks before the tab is left or reloaded.
#[hook]
fn use_leave_guard(dirty: bool) {
    use_effect_with(dirty, |dirty| {
        let listener = dirty.then(|| {
            let closure = Closure::<dyn FnMut(Event)>::new(|e: Event| {
                e.prevent_default();
            });
            if let Some(w) = web_sys::window() {
                let _ = w.add_event_listener_with_callback(
                    "beforeunload",
                    closure.as_ref().unchecked_ref(),
                );
            }
            closure
        });
        move || {
            if let (Some(c), Some(w)) = (listener, web_sys::window()) {
                let _ = w.remove_event_listener_with_callback(
                    "beforeunload",
                    c.as_ref().unchecked_ref(),
                );
            }
        }
    });
}

#[derive(Properties, PartialEq)]
pub struct UnsavedProps {
    pub name: String,
    /// The file as saved.
    pub saved: String,
    /// The editor's text.
    pub compose: UseStateHandle<String>,
}

/// "Unsaved changes" with the diff against the saved file, or nothing.
#[function_component(Unsaved)]
pub fn unsaved(props: &UnsavedProps) -> Html {
    let dirty = *props.compose != props.saved;
    use_leave_guard(dirty);
    {
        // Kept as it changes, so it is there whatever takes the page away.
        let (name, saved) = (props.name.clone(), props.saved.clone());
        use_effect_with((*props.compose).clone(), move |now| {
            keep(&name, (*now != saved).then_some(now.as_str()));
        });
    }
    let discard = {
        let (compose, saved) = (props.compose.clone(), props.saved.clone());
        Callback::from(move |_| compose.set(saved.clone()))
    };
    if !dirty {
        return html! {};
    }
    html! {
        <div class="unsaved" id="stack-unsaved">
            <p class="warn-note">{ "Unsaved changes — kept in this tab until saved or dropped:" }
                { " " }<button type="button" class="small" id="stack-discard" onclick={discard}>{ "Drop them" }</button></p>
            <DiffView id="stack-diff" old={props.saved.clone()} new={(*props.compose).clone()} />
        </div>
    }
}
