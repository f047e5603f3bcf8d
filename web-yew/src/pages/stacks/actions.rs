//! A stack's compose actions (up, down, restart, pull, stop, start) with the CLI's
//! output drawn as it comes into an xterm.js terminal (the host runs it in a
//! terminal, so colours and progress bars render), over `stack.output`; each action
//! is a job, linked when it ends. Leaving the page or Cancel stops it.

use std::cell::RefCell;
use std::rc::Rc;

use berth_protocol::api::stacks::StackAction;
use yew::prelude::*;
use yew_router::prelude::Link;

use crate::components::xterm::{Term, ensure_xterm};
use crate::route::Route;
use crate::ws::{Closed, SubHandle, Ws, use_ws};

const ACTIONS: [StackAction; 6] = [
    StackAction::Up,
    StackAction::Pull,
    StackAction::Restart,
    StackAction::Stop,
    StackAction::Start,
    StackAction::Down,
];

#[derive(Properties, PartialEq)]
pub struct ActionsProps {
    pub name: String,
    /// After an action ended (the page reloads the stack's state).
    pub done: Callback<()>,
}

/// What the panel says: the action's state, its exit code and its job.
#[derive(Debug, Clone, PartialEq, Default)]
struct Status {
    text: String,
    exit: Option<i64>,
    job: Option<String>,
    /// The action runs: the buttons wait for it (a second one would queue behind it
    /// with nothing on screen to say so).
    running: bool,
}

type Shared<T> = Rc<RefCell<Option<T>>>;

#[function_component(StackActions)]
pub fn stack_actions(props: &ActionsProps) -> Html {
    let ctx = use_ws();
    let term: Shared<Term> = use_mut_ref(|| None);
    let sub: Shared<SubHandle> = use_mut_ref(|| None);
    let status = use_state(|| None::<Status>);
    let screen = use_node_ref();
    let run = |action: StackAction| {
        let (ws, term, sub, status, screen) = (
            ctx.ws.clone(),
            term.clone(),
            sub.clone(),
            status.clone(),
            screen.clone(),
        );
        let (name, done) = (props.name.clone(), props.done.clone());
        Callback::from(move |_| {
            let Some(el) = screen.cast::<web_sys::Element>() else {
                return;
            };
            status.set(Some(Status {
                text: format!("{} running…", action.as_str()),
                running: true,
                ..Status::default()
            }));
            let (ws, term, sub, status, done, name) = (
                ws.clone(),
                term.clone(),
                sub.clone(),
                status.clone(),
                done.clone(),
                name.clone(),
            );
            wasm_bindgen_futures::spawn_local(async move {
                let ended = ended(action, status.clone(), sub.clone(), done);
                if let Err(e) = start(ws, name, action, el, term, sub, ended).await {
                    status.set(Some(Status {
                        text: e,
                        ..Status::default()
                    }));
                }
            });
        })
    };
    let cancel = {
        let sub = sub.clone();
        Callback::from(move |_| drop(sub.borrow_mut().take()))
    };
    let running = status.as_ref().is_some_and(|s| s.running);
    html! {
        <div class="card" id="stack-actions">
            { for ACTIONS.iter().map(|a| html! {
                <button type="button" id={format!("stack-action-{}", a.as_str())} disabled={running} onclick={run(*a)}>{ a.as_str() }</button>
            }) }
            if sub.borrow().is_some() {
                <button type="button" class="danger" id="stack-action-cancel" onclick={cancel}>{ "Cancel" }</button>
            }
            if let Some(s) = &*status {
                <p id="stack-action-status" role="status" data-exit={s.exit.map(|c| c.to_string()).unwrap_or_default()}>
                    { &s.text }
                    if let Some(job) = &s.job {
                        { " " }<Link<Route> to={Route::Job { id: job.clone() }} classes="stack-job">{ "See the job" }</Link<Route>>
                    }
                </p>
            }
            // Drawn once an action runs (an empty black box says nothing).
            <div class={classes!("term-screen", "output", status.is_none().then_some("idle"))} id="stack-output" ref={screen}></div>
        </div>
    }
}

/// Opens the channel for `action`, its output drawn into a terminal in `el` (made
/// once, emptied for each action).
async fn start(
    ws: Ws,
    name: String,
    action: StackAction,
    el: web_sys::Element,
    term: Shared<Term>,
    sub: Shared<SubHandle>,
    on_close: Callback<Closed>,
) -> Result<(), String> {
    ensure_xterm().await?;
    // Shown before the terminal measures it (the render that shows it may not have
    // happened yet when xterm.js was loaded already).
    el.set_class_name("term-screen output");
    sub.borrow_mut().take();
    if term.borrow().is_none() {
        el.set_inner_html("");
        *term.borrow_mut() = Some(Term::open_output(&el)?);
    }
    if let Some(t) = term.borrow().as_ref() {
        t.reset();
    }
    let on_bytes = {
        let term = term.clone();
        Callback::from(move |(_, bytes): (u8, Vec<u8>)| {
            if let Some(t) = term.borrow().as_ref() {
                t.write(&bytes);
            }
        })
    };
    let params = serde_json::json!({"stack": name, "action": action.as_str()});
    *sub.borrow_mut() =
        Some(ws.subscribe_binary("stack.output", params, 256 * 1024, on_bytes, on_close));
    Ok(())
}

/// What the channel's end means: the exit code and the job, or why it stopped.
fn ended(
    action: StackAction,
    status: UseStateHandle<Option<Status>>,
    sub: Shared<SubHandle>,
    done: Callback<()>,
) -> Callback<Closed> {
    Callback::from(move |c: Closed| {
        let code = c.p.as_ref().and_then(|p| p["exit_code"].as_i64());
        let job =
            c.p.as_ref()
                .and_then(|p| p["job"].as_str().map(str::to_owned));
        let text = match (&c.error, code) {
            (Some(e), _) => format!("{} failed: {}", action.as_str(), e.message),
            (None, Some(0)) => format!("{} done.", action.as_str()),
            (None, Some(n)) => format!("{} ended with exit code {n}.", action.as_str()),
            (None, None) => format!("{} stopped.", action.as_str()),
        };
        status.set(Some(Status {
            text,
            exit: code,
            job,
            running: false,
        }));
        sub.borrow_mut().take();
        done.emit(());
    })
}
