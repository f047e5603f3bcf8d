//! An interactive terminal in a container: xterm.js (`components::xterm`) over the
//! binary `exec` channel — keystrokes as stdin frames, output written as it arrives,
//! the terminal's size sent at open and on every resize, the exit code shown when the
//! process ends.

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::prelude::*;
use yew::prelude::*;

use crate::components::xterm::{Term, ensure_xterm, get};
use crate::hooks::on_text;
use crate::ws::{Closed, SubHandle, Ws, use_ws};

#[derive(Debug, Clone, PartialEq)]
enum Status {
    Idle,
    Starting,
    Running,
    Ended(String),
}

#[derive(Debug, PartialEq, Properties)]
pub struct Props {
    pub id: String,
}

type Shared<T> = Rc<RefCell<Option<T>>>;

/// Starts `cmd` in the container behind a terminal drawn into `el`.
async fn start(
    ws: Ws,
    id: String,
    cmd: Vec<String>,
    el: web_sys::Element,
    term_slot: Shared<Term>,
    sub_slot: Shared<SubHandle>,
    status: UseStateHandle<Status>,
) -> Result<(), String> {
    ensure_xterm().await?;
    // Tear down a previous session's terminal before drawing a new one.
    sub_slot.borrow_mut().take();
    term_slot.borrow_mut().take();
    el.set_inner_html("");
    let on_data = {
        let sub_slot = sub_slot.clone();
        move |d: JsValue| {
            if let (Some(s), Some(sub)) = (d.as_string(), sub_slot.borrow().as_ref()) {
                sub.send_input(s.as_bytes());
            }
        }
    };
    let on_resize = {
        let sub_slot = sub_slot.clone();
        move |size: JsValue| {
            let n = |k| get(&size, k).as_f64().unwrap_or(0.0) as u16;
            if let Some(sub) = sub_slot.borrow().as_ref() {
                sub.resize(n("cols"), n("rows"));
            }
        }
    };
    let term = Term::open(&el, on_data, on_resize)?;
    let (cols, rows) = term.size();
    *term_slot.borrow_mut() = Some(term);
    let on_bytes = {
        let term_slot = term_slot.clone();
        Callback::from(move |(_, bytes): (u8, Vec<u8>)| {
            if let Some(t) = term_slot.borrow().as_ref() {
                t.write(&bytes);
            }
        })
    };
    let on_close = {
        let (term_slot, status) = (term_slot.clone(), status.clone());
        Callback::from(move |c: Closed| {
            let why = match (c.error, c.p.as_ref().and_then(|p| p["exit_code"].as_i64())) {
                (Some(e), _) => e.message,
                (None, Some(code)) => format!("The process exited with code {code}."),
                (None, None) => "The session ended.".to_owned(),
            };
            if let Some(t) = term_slot.borrow().as_ref() {
                t.write_str(&format!("\r\n\x1b[2m[{why}]\x1b[0m\r\n"));
            }
            status.set(Status::Ended(why));
        })
    };
    let sub = ws.subscribe_binary(
        "exec",
        serde_json::json!({"container": id, "cmd": cmd, "tty": true, "cols": cols, "rows": rows}),
        256 * 1024,
        on_bytes,
        on_close,
    );
    *sub_slot.borrow_mut() = Some(sub);
    if matches!(*status, Status::Starting) {
        status.set(Status::Running);
    }
    Ok(())
}

#[function_component(TerminalView)]
pub fn terminal_view(props: &Props) -> Html {
    let ctx = use_ws();
    let status = use_state(|| Status::Idle);
    let error = use_state(|| None::<String>);
    let term_slot: Shared<Term> = use_mut_ref(|| None);
    let sub_slot: Shared<SubHandle> = use_mut_ref(|| None);
    let screen = use_node_ref();
    let command = use_state(|| "/bin/sh".to_owned());
    {
        // Leaving the tab ends the session (the process gets its stdin closed).
        let (term_slot, sub_slot) = (term_slot.clone(), sub_slot.clone());
        use_effect_with((), move |()| {
            move || {
                sub_slot.borrow_mut().take();
                term_slot.borrow_mut().take();
            }
        });
    }
    let onconnect = {
        let (ws, id, screen, command) = (
            ctx.ws.clone(),
            props.id.clone(),
            screen.clone(),
            command.clone(),
        );
        let (term_slot, sub_slot, status, error) = (
            term_slot.clone(),
            sub_slot.clone(),
            status.clone(),
            error.clone(),
        );
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let cmd: Vec<String> = command.split_whitespace().map(str::to_owned).collect();
            let cmd = if cmd.is_empty() {
                vec!["/bin/sh".to_owned()]
            } else {
                cmd
            };
            let Some(el) = screen.cast::<web_sys::Element>() else {
                return;
            };
            status.set(Status::Starting);
            error.set(None);
            let (ws, id, term_slot, sub_slot, status, error) = (
                ws.clone(),
                id.clone(),
                term_slot.clone(),
                sub_slot.clone(),
                status.clone(),
                error.clone(),
            );
            wasm_bindgen_futures::spawn_local(async move {
                if let Err(e) = start(ws, id, cmd, el, term_slot, sub_slot, status.clone()).await {
                    error.set(Some(e.clone()));
                    status.set(Status::Ended(e));
                }
            });
        })
    };
    let ondisconnect = {
        let sub_slot = sub_slot.clone();
        Callback::from(move |_| {
            if let Some(s) = sub_slot.borrow().as_ref() {
                s.eof();
            }
        })
    };
    let busy = matches!(*status, Status::Starting | Status::Running);
    html! {
        <div class="terminal" id="terminal" data-status={match &*status {
            Status::Idle => "idle", Status::Starting => "starting", Status::Running => "running", Status::Ended(_) => "ended",
        }}>
            <form class="toolbar" onsubmit={onconnect}>
                <label>{ "Command " }<input type="text" id="terminal-cmd" value={(*command).clone()} oninput={on_text(&command)} disabled={busy} /></label>
                <button type="submit" id="terminal-connect" disabled={busy}>{ if matches!(*status, Status::Ended(_)) { "Reconnect" } else { "Connect" } }</button>
                if busy {
                    <button type="button" class="small" id="terminal-eof" onclick={ondisconnect} title="Close the process's input (Ctrl-D)">{ "End input" }</button>
                }
                { match &*status { Status::Ended(why) => html!{ <span class="muted" id="terminal-ended">{ why }</span> }, _ => html!{} } }
            </form>
            { error.as_ref().map_or(html!{}, |e| html!{ <p class="error" role="alert">{ e }</p> }) }
            <div class="term-screen" id="term-screen" ref={screen}></div>
        </div>
    }
}
