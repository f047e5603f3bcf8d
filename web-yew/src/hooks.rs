//! The hooks every page uses: a call that loads with the page (`use_call`), an action
//! whose outcome shows in one line (`use_action`), form fields kept in component state
//! (`use_text`, `use_flag`) and live job progress (`use_job_progress`).

use std::future::Future;

use berth_protocol::api::catalogue::Method;
use berth_protocol::api::jobs::JobProgress;
use berth_protocol::error::{ErrorBody, ErrorCode};
use yew::prelude::*;

use crate::components::error_view;
use crate::ws::{Ws, WsState, describe, use_ws};

/// The state of a call a page made.
#[derive(Debug, Clone, PartialEq)]
pub enum Load<T> {
    Loading,
    Ready(T),
    Failed(ErrorBody),
}

impl<T> Load<T> {
    /// The result, once it arrived.
    pub fn ready(&self) -> Option<&T> {
        match self {
            Load::Ready(t) => Some(t),
            _ => None,
        }
    }
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
    // The last call made: answers may arrive out of order (a preview typed "UT" then
    // "UTC"), and only the answer to the newest call may be shown.
    let latest = use_mut_ref(|| 0u64);
    {
        let state = state.clone();
        let ws = ctx.ws.clone();
        use_effect_with((params, open, *tick), move |(params, open, _)| {
            if *open {
                let params = params.clone();
                let call = {
                    let mut last = latest.borrow_mut();
                    *last = last.wrapping_add(1);
                    *last
                };
                wasm_bindgen_futures::spawn_local(async move {
                    let answer = ws.call_m::<M>(params).await;
                    if *latest.borrow() == call {
                        state.set(match answer {
                            Ok(r) => Load::Ready(r),
                            Err(e) => Load::Failed(e),
                        });
                    }
                });
            }
        });
    }
    // Counted outside the state handle: a `reload` kept by a long-lived callback (a
    // channel's) holds an old handle whose value never moves on, and would set the
    // same tick again — reloading once only.
    let count = use_mut_ref(|| 0u32);
    let reload = {
        let tick = tick.clone();
        Callback::from(move |()| {
            let next = count.borrow().wrapping_add(1);
            *count.borrow_mut() = next;
            tick.set(next);
        })
    };
    ((*state).clone(), reload)
}

/// What a user did and how it went: one line under the form or table, a busy flag
/// while a call is in flight, and what to reload afterwards.
#[derive(Clone)]
pub struct Action {
    ws: Ws,
    /// Where every outcome is also told, so it is seen wherever the user looks.
    toaster: Option<crate::components::toasts::Toaster>,
    outcome: UseStateHandle<Option<Result<String, ErrorBody>>>,
    busy: UseStateHandle<bool>,
    after: Callback<()>,
    /// Offered on the next success's toast (see [`Action::offer_undo`]).
    undo: std::rc::Rc<std::cell::RefCell<Option<Callback<()>>>>,
}

impl PartialEq for Action {
    fn eq(&self, other: &Self) -> bool {
        self.outcome == other.outcome && self.busy == other.busy && self.after == other.after
    }
}

impl std::fmt::Debug for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Action")
            .field("outcome", &*self.outcome)
            .field("busy", &*self.busy)
            .finish()
    }
}

impl Action {
    /// Runs `call` on the connection, shows the sentence it returns (or its error),
    /// then reloads what the page asked for.
    pub fn run<F, Fut>(&self, call: F)
    where
        F: FnOnce(Ws) -> Fut + 'static,
        Fut: Future<Output = Result<String, ErrorBody>> + 'static,
    {
        let this = self.clone();
        self.busy.set(true);
        wasm_bindgen_futures::spawn_local(async move {
            let outcome = call(this.ws.clone()).await;
            this.busy.set(false);
            this.show(outcome);
            this.after.emit(());
        });
    }

    /// Runs `call` and hands its result to `done` without showing or reloading
    /// anything unless `done` does (a download, a dialog that opens).
    pub fn spawn<F, Fut>(&self, call: F)
    where
        F: FnOnce(Ws, Action) -> Fut + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        let this = self.clone();
        self.busy.set(true);
        wasm_bindgen_futures::spawn_local(async move {
            call(this.ws.clone(), this.clone()).await;
            this.busy.set(false);
        });
    }

    /// Offers `run` as the undo of the call under way: its success's toast gets an
    /// "Undo" button (a failure drops the offer).
    pub fn offer_undo(&self, run: Callback<()>) {
        *self.undo.borrow_mut() = Some(run);
    }

    /// Shows an outcome, under the form and as a toast.
    pub fn show(&self, outcome: Result<String, ErrorBody>) {
        let undo = self.undo.borrow_mut().take();
        if let Some(toaster) = &self.toaster {
            match (&outcome, undo) {
                (Ok(m), Some(undo)) => toaster.show_with_undo(m.clone(), undo),
                (Ok(m), None) if !m.is_empty() => toaster.show(true, m.clone()),
                (Ok(_), None) => {}
                (Err(e), _) => toaster.show(false, describe(e)),
            }
        }
        self.outcome.set(Some(outcome));
    }

    /// Shows an error.
    pub fn fail(&self, error: ErrorBody) {
        self.show(Err(error));
    }

    /// Shows a failure of the browser itself (a download that could not start).
    pub fn fail_local(&self, message: impl Into<String>) {
        self.fail(ErrorBody::new(ErrorCode::Internal, message.into()));
    }

    /// Forgets the last outcome.
    pub fn clear(&self) {
        self.outcome.set(None);
    }

    /// Reloads what the page asked for.
    pub fn reload(&self) {
        self.after.emit(());
    }

    /// True while a call runs.
    pub fn busy(&self) -> bool {
        *self.busy
    }

    /// The outcome line: an error, or what just happened.
    pub fn view(&self) -> Html {
        match &*self.outcome {
            None => html! {},
            Some(Ok(m)) => html! { <p class="ok-note" role="status">{ m }</p> },
            Some(Err(e)) => error_view(e),
        }
    }
}

/// An action whose outcome this component shows; `after` runs once each call ended
/// (a list's reload, or `Callback::noop()`).
#[hook]
pub fn use_action(after: Callback<()>) -> Action {
    let ctx = use_ws();
    Action {
        ws: ctx.ws,
        toaster: crate::components::toasts::use_toaster(),
        outcome: use_state(|| None),
        busy: use_state(|| false),
        after,
        undo: use_mut_ref(|| None),
    }
}

/// A text field's value, kept in component state as the user types.
#[hook]
pub fn use_text() -> UseStateHandle<String> {
    use_state(String::new)
}

/// A checkbox's state.
#[hook]
pub fn use_flag(initial: bool) -> UseStateHandle<bool> {
    use_state(move || initial)
}

/// Keeps `field` equal to what an `<input>` or `<textarea>` holds.
pub fn on_text(field: &UseStateHandle<String>) -> Callback<InputEvent> {
    let field = field.clone();
    Callback::from(move |e: InputEvent| field.set(typed(&e)))
}

/// What an `<input>` or `<textarea>` holds after an `input` event.
pub fn typed(e: &InputEvent) -> String {
    e.target_dyn_into::<web_sys::HtmlInputElement>()
        .map(|i| i.value())
        .or_else(|| {
            e.target_dyn_into::<web_sys::HtmlTextAreaElement>()
                .map(|t| t.value())
        })
        .unwrap_or_default()
}

/// Keeps `field` equal to what a `<select>` picked.
pub fn on_pick(field: &UseStateHandle<String>) -> Callback<Event> {
    let field = field.clone();
    Callback::from(move |e: Event| field.set(picked(&e)))
}

/// Keeps `flag` equal to a checkbox.
pub fn on_check(flag: &UseStateHandle<bool>) -> Callback<Event> {
    let flag = flag.clone();
    Callback::from(move |e: Event| {
        if let Some(i) = e.target_dyn_into::<web_sys::HtmlInputElement>() {
            flag.set(i.checked());
        }
    })
}

/// The value a `<select>`'s (or an `<input>`'s) `change` event picked.
pub fn picked(e: &Event) -> String {
    e.target_dyn_into::<web_sys::HtmlSelectElement>()
        .map(|s| s.value())
        .or_else(|| {
            e.target_dyn_into::<web_sys::HtmlInputElement>()
                .map(|i| i.value())
        })
        .unwrap_or_default()
}

/// Every job's progress (`job.progress` for all jobs) while the component lives.
#[hook]
pub fn use_job_progress(on: Callback<JobProgress>) {
    let ctx = use_ws();
    use_effect_with((), move |()| {
        let on_data = Callback::from(move |v| {
            if let Ok(p) = serde_json::from_value::<JobProgress>(v) {
                on.emit(p);
            }
        });
        let sub = ctx.ws.subscribe(
            "job.progress",
            serde_json::json!({}),
            64,
            on_data,
            Callback::noop(),
        );
        move || drop(sub)
    });
}

/// Calls `on_end` once job `job` has ended (at once if it already has); nothing
/// while `job` is `None`. Watches only that job.
#[hook]
pub fn use_job_end(job: Option<String>, on_end: Callback<JobProgress>) {
    let ctx = use_ws();
    use_effect_with(job, move |job| {
        let sub = job.clone().map(|id| {
            let on_data = Callback::from(move |v| {
                if let Ok(p) = serde_json::from_value::<JobProgress>(v)
                    && p.state.is_terminal()
                {
                    on_end.emit(p);
                }
            });
            ctx.ws.subscribe(
                "job.progress",
                serde_json::json!({ "job": id }),
                8,
                on_data,
                Callback::noop(),
            )
        });
        move || drop(sub)
    });
}

/// Calls `reload` each time a job ends: what a page lists may have changed with it
/// (a stack action, a backup, a project started).
#[hook]
pub fn use_reload_on_job_end(reload: Callback<()>) {
    use_job_progress(Callback::from(move |p: JobProgress| {
        if p.state.is_terminal() {
            reload.emit(());
        }
    }));
}

/// `callback`, called at most once per `ms`: the first call starts the wait, the ones
/// during it are folded into the call at its end (a burst of events, one reload).
pub fn coalesced(callback: Callback<()>, ms: i32) -> Callback<()> {
    use wasm_bindgen::JsCast;
    let pending = std::rc::Rc::new(std::cell::Cell::new(false));
    Callback::from(move |()| {
        if pending.replace(true) {
            return;
        }
        let (pending, callback) = (pending.clone(), callback.clone());
        let fire = wasm_bindgen::closure::Closure::once_into_js(move || {
            pending.set(false);
            callback.emit(());
        });
        if let Some(window) = web_sys::window() {
            let _ = window
                .set_timeout_with_callback_and_timeout_and_arguments_0(fire.unchecked_ref(), ms);
        }
    })
}

/// The rows an action is under way on, each with what it is doing ("removing"): the
/// row says so and offers no other action until the call answers, whatever the
/// engine's pace (a stop may take its whole timeout, a removal a large image's
/// layers). Kept outside component state so that a callback made by an earlier
/// render marks and clears the same rows.
#[derive(Clone)]
pub struct BusyRows {
    rows: std::rc::Rc<std::cell::RefCell<std::collections::BTreeMap<String, &'static str>>>,
    redraw: Callback<()>,
}

impl BusyRows {
    /// Marks `keys` as `doing` (a present participle: "removing").
    fn mark(&self, keys: &[String], doing: &'static str) {
        {
            let mut rows = self.rows.borrow_mut();
            for key in keys {
                rows.insert(key.clone(), doing);
            }
        }
        self.redraw.emit(());
    }

    /// The call on `keys` answered.
    fn clear(&self, keys: &[String]) {
        {
            let mut rows = self.rows.borrow_mut();
            for key in keys {
                rows.remove(key);
            }
        }
        self.redraw.emit(());
    }

    /// What is under way on `key`.
    pub fn of(&self, key: &str) -> Option<&'static str> {
        self.rows.borrow().get(key).copied()
    }

    /// `call` with `keys` marked `doing` until it answers.
    pub async fn during<T>(
        &self,
        keys: &[String],
        doing: &'static str,
        call: impl Future<Output = T>,
    ) -> T {
        self.mark(keys, doing);
        let answered = call.await;
        self.clear(keys);
        answered
    }
}

/// The rows an action is under way on, for the page that lists them.
#[hook]
pub fn use_busy_rows() -> BusyRows {
    let redraw = use_force_update();
    BusyRows {
        rows: use_mut_ref(std::collections::BTreeMap::new),
        redraw: Callback::from(move |()| redraw.force_update()),
    }
}

/// What a busy row shows in place of its state or actions.
pub fn busy_badge(doing: &str) -> Html {
    html! { <span class="state pending" aria-busy="true">{ format!("{doing}…") }</span> }
}
