//! An interactive terminal in a container: xterm.js (vendored, loaded on first use)
//! over the binary `exec` channel — keystrokes as stdin frames, output written as it
//! arrives, the terminal's size sent at open and on every resize, the exit code shown
//! when the process ends.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Array, Function, Object, Reflect};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use yew::prelude::*;

use crate::hooks::on_text;
use crate::http::js_error;
use crate::ws::{Closed, SubHandle, Ws, use_ws};

fn get(o: &JsValue, key: &str) -> JsValue {
    Reflect::get(o, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

fn call(o: &JsValue, method: &str, args: &[&JsValue]) -> Result<JsValue, String> {
    let f: Function = get(o, method)
        .dyn_into()
        .map_err(|_| format!("xterm.js has no {method}()"))?;
    let a: Array = args.iter().copied().collect();
    f.apply(o, &a).map_err(js_error)
}

/// The hashed asset URL the host put into `index.html` for `name`.
fn asset(name: &str) -> Option<String> {
    web_sys::window()?
        .document()?
        .query_selector(&format!("meta[name=\"berth-asset-{name}\"]"))
        .ok()??
        .get_attribute("content")
}

/// Adds a `<script>` or stylesheet `<link>` and waits until it has loaded.
async fn load(tag: &str, url: &str) -> Result<(), String> {
    let doc = web_sys::window()
        .and_then(|w| w.document())
        .ok_or("no document")?;
    let el = doc.create_element(tag).map_err(js_error)?;
    if tag == "script" {
        el.set_attribute("src", url).map_err(js_error)?;
    } else {
        el.set_attribute("rel", "stylesheet").map_err(js_error)?;
        el.set_attribute("href", url).map_err(js_error)?;
    }
    let done = js_sys::Promise::new(&mut |resolve, reject| {
        let _ = el.add_event_listener_with_callback("load", &resolve);
        let _ = el.add_event_listener_with_callback("error", &reject);
    });
    doc.query_selector("head")
        .ok()
        .flatten()
        .ok_or("no <head>")?
        .append_child(&el)
        .map_err(js_error)?;
    JsFuture::from(done)
        .await
        .map(|_| ())
        .map_err(|_| format!("could not load {url}"))
}

/// Loads xterm.js, its stylesheet and the fit addon once per page load.
async fn ensure_xterm() -> Result<(), String> {
    let global: JsValue = js_sys::global().into();
    if !get(&global, "Terminal").is_undefined() && !get(&global, "FitAddon").is_undefined() {
        return Ok(());
    }
    let missing = || "this build of the UI does not carry xterm.js".to_owned();
    load("link", &asset("xterm-css").ok_or_else(missing)?).await?;
    load("script", &asset("xterm-js").ok_or_else(missing)?).await?;
    load("script", &asset("addon-fit-js").ok_or_else(missing)?).await?;
    Ok(())
}

/// A live xterm.js terminal with its fit addon and the callbacks it holds.
struct Term {
    term: JsValue,
    fit: JsValue,
    _on_data: Closure<dyn FnMut(JsValue)>,
    _on_resize: Closure<dyn FnMut(JsValue)>,
    _on_window: Closure<dyn FnMut()>,
}

impl Term {
    fn open(
        el: &web_sys::Element,
        on_data: impl FnMut(JsValue) + 'static,
        on_resize: impl FnMut(JsValue) + 'static,
    ) -> Result<Self, String> {
        let global: JsValue = js_sys::global().into();
        let ctor: Function = get(&global, "Terminal")
            .dyn_into()
            .map_err(|_| "xterm.js did not load".to_owned())?;
        let opts = Object::new();
        for (k, v) in [
            ("cursorBlink", JsValue::TRUE),
            ("fontSize", JsValue::from_f64(13.0)),
            ("scrollback", JsValue::from_f64(5000.0)),
            (
                "fontFamily",
                JsValue::from_str("ui-monospace, Menlo, Consolas, monospace"),
            ),
        ] {
            let _ = Reflect::set(&opts, &JsValue::from_str(k), &v);
        }
        let term = Reflect::construct(&ctor, &Array::of1(&opts)).map_err(js_error)?;
        let fit_ctor: Function = get(&get(&global, "FitAddon"), "FitAddon")
            .dyn_into()
            .map_err(|_| "the xterm fit addon did not load".to_owned())?;
        let fit = Reflect::construct(&fit_ctor, &Array::new()).map_err(js_error)?;
        call(&term, "loadAddon", &[&fit])?;
        call(&term, "open", &[el.as_ref()])?;
        call(&fit, "fit", &[])?;
        let on_data = Closure::<dyn FnMut(JsValue)>::new(on_data);
        call(&term, "onData", &[on_data.as_ref()])?;
        let on_resize = Closure::<dyn FnMut(JsValue)>::new(on_resize);
        call(&term, "onResize", &[on_resize.as_ref()])?;
        let on_window = {
            let fit = fit.clone();
            Closure::<dyn FnMut()>::new(move || {
                let _ = call(&fit, "fit", &[]);
            })
        };
        if let Some(w) = web_sys::window() {
            let _ =
                w.add_event_listener_with_callback("resize", on_window.as_ref().unchecked_ref());
        }
        let _ = call(&term, "focus", &[]);
        Ok(Self {
            term,
            fit,
            _on_data: on_data,
            _on_resize: on_resize,
            _on_window: on_window,
        })
    }

    fn size(&self) -> (u16, u16) {
        let n = |k| get(&self.term, k).as_f64().unwrap_or(0.0) as u16;
        (n("cols"), n("rows"))
    }

    fn write(&self, bytes: &[u8]) {
        let _ = call(
            &self.term,
            "write",
            &[&js_sys::Uint8Array::from(bytes).into()],
        );
    }

    fn write_str(&self, s: &str) {
        let _ = call(&self.term, "write", &[&JsValue::from_str(s)]);
    }
}

impl Drop for Term {
    fn drop(&mut self) {
        if let Some(w) = web_sys::window() {
            let _ = w.remove_event_listener_with_callback(
                "resize",
                self._on_window.as_ref().unchecked_ref(),
            );
        }
        let _ = call(&self.fit, "dispose", &[]);
        let _ = call(&self.term, "dispose", &[]);
    }
}

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
