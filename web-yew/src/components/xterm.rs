//! xterm.js (vendored, loaded on first use) as a Rust value: a terminal drawn into an
//! element, fitted to it, written to as output arrives — interactive for a container's
//! shell, read-only for a command's output (a stack's compose action).

use js_sys::{Array, Function, Object, Reflect};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::http::js_error;

pub(crate) fn get(o: &JsValue, key: &str) -> JsValue {
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
pub(crate) async fn ensure_xterm() -> Result<(), String> {
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
pub(crate) struct Term {
    term: JsValue,
    fit: JsValue,
    _on_data: Closure<dyn FnMut(JsValue)>,
    _on_resize: Closure<dyn FnMut(JsValue)>,
    _on_window: Closure<dyn FnMut()>,
}

impl Term {
    /// A terminal for output only: no cursor, no keyboard input.
    pub(crate) fn open_output(el: &web_sys::Element) -> Result<Self, String> {
        Self::open_with(el, false, |_| {}, |_| {})
    }

    /// An interactive terminal: keystrokes go to `on_data`, new sizes to `on_resize`.
    pub(crate) fn open(
        el: &web_sys::Element,
        on_data: impl FnMut(JsValue) + 'static,
        on_resize: impl FnMut(JsValue) + 'static,
    ) -> Result<Self, String> {
        Self::open_with(el, true, on_data, on_resize)
    }

    fn open_with(
        el: &web_sys::Element,
        interactive: bool,
        on_data: impl FnMut(JsValue) + 'static,
        on_resize: impl FnMut(JsValue) + 'static,
    ) -> Result<Self, String> {
        let global: JsValue = js_sys::global().into();
        let ctor: Function = get(&global, "Terminal")
            .dyn_into()
            .map_err(|_| "xterm.js did not load".to_owned())?;
        let opts = Object::new();
        for (k, v) in [
            ("cursorBlink", JsValue::from_bool(interactive)),
            ("disableStdin", JsValue::from_bool(!interactive)),
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
        if interactive {
            let _ = call(&term, "focus", &[]);
        }
        Ok(Self {
            term,
            fit,
            _on_data: on_data,
            _on_resize: on_resize,
            _on_window: on_window,
        })
    }

    pub(crate) fn size(&self) -> (u16, u16) {
        let n = |k| get(&self.term, k).as_f64().unwrap_or(0.0) as u16;
        (n("cols"), n("rows"))
    }

    pub(crate) fn write(&self, bytes: &[u8]) {
        let _ = call(
            &self.term,
            "write",
            &[&js_sys::Uint8Array::from(bytes).into()],
        );
    }

    pub(crate) fn write_str(&self, s: &str) {
        let _ = call(&self.term, "write", &[&JsValue::from_str(s)]);
    }

    /// Empties the screen and the scrollback.
    pub(crate) fn reset(&self) {
        let _ = call(&self.term, "reset", &[]);
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
