//! Widgets more than one page uses: error lines, in-app dialogs, toasts, loading
//! states, the "Back up now" panel, the recent-jobs table, the schedules' next runs,
//! xterm.js, line diffs, time charts and the outcome of a bulk call.

mod back_up_now;
pub(crate) mod chart;
pub(crate) mod dialog;
pub(crate) mod diff;
pub(crate) mod from_run;
mod next_runs;
mod recent_jobs;
pub(crate) mod sort;
pub(crate) mod toasts;
pub(crate) mod xterm;

pub use back_up_now::{BackUpNow, Choices, ProjectBackup, use_choices, use_storages};
use berth_protocol::error::{ErrorBody, ErrorCode};
pub use dialog::{Question, after_confirm, after_prompt, run_confirmed};
pub use next_runs::{Covered, NextRuns};
pub use recent_jobs::RecentJobs;
use yew::prelude::*;

use crate::hooks::Load;
use crate::ws::describe;

/// A moment (ms since the epoch) as people read it: how long ago or until, with the
/// exact local date and time on hover.
pub fn moment(ms: u64) -> Html {
    let exact = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms as f64))
        .to_locale_string("default", &wasm_bindgen::JsValue::UNDEFINED);
    let now = js_sys::Date::now().max(0.0) as u64;
    html! {
        <time datetime={berth_protocol::api::rfc3339(ms)} title={String::from(exact)}>
            { crate::format::relative(ms, now) }</time>
    }
}

/// [`moment`] of an RFC 3339 text (Docker's timestamps); the text itself if it does
/// not parse.
pub fn moment_text(text: &str) -> Html {
    let ms = js_sys::Date::parse(text);
    if ms.is_finite() && ms > 0.0 {
        moment(ms as u64)
    } else {
        html! { { text } }
    }
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

/// "Loading…", the error, or what `ready` makes of the result.
pub fn loaded<T>(load: &Load<T>, ready: impl FnOnce(&T) -> Html) -> Html {
    match load {
        Load::Loading => html! { <p>{ "Loading…" }</p> },
        Load::Failed(e) => error_view(e),
        Load::Ready(t) => ready(t),
    }
}

/// Starts a browser download of `url` or shows why it could not start.
pub fn start_download(action: &crate::hooks::Action, filename: &str, url: &str) {
    if let Err(e) = crate::http::download_url(filename, url) {
        action.fail_local(e);
    }
}

/// The outcome of a bulk call on `names` (in the order sent): `done` when every one
/// succeeded, else a conflict naming each that did not, with the server's reason.
pub fn bulk_outcome(
    r: &berth_protocol::api::containers::BulkResult,
    names: &[String],
    done: String,
) -> Result<String, ErrorBody> {
    let failed: Vec<String> = r
        .results
        .iter()
        .zip(names)
        .filter(|(x, _)| !x.ok)
        .map(|(x, n)| {
            format!(
                "{n}: {}",
                x.error.as_ref().map_or("failed", |e| e.message.as_str())
            )
        })
        .collect();
    if failed.is_empty() {
        Ok(done)
    } else {
        Err(ErrorBody::new(ErrorCode::Conflict, failed.join("; ")))
    }
}
