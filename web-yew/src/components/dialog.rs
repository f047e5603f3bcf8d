//! In-app dialogs instead of the browser's `confirm` and `prompt`: a modal `<dialog>`
//! that says what will happen and names the button after it ("Remove", not "OK");
//! Escape or Cancel declines. A destructive action on several objects can ask the
//! user to type a word first.
//!
//! Built on the DOM directly rather than Yew state, so that any handler can await an
//! answer without every page threading a context through: the element lives only
//! while the question is open and is removed once answered.

use berth_protocol::error::ErrorBody;
use futures_channel::oneshot;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{Event, HtmlButtonElement, HtmlDialogElement, HtmlInputElement};

use crate::hooks::Action;
use crate::ws::Ws;

/// What to ask.
#[derive(Debug, Clone, Default)]
pub struct Question {
    /// The question itself: "Remove container web?"
    pub title: String,
    /// What answering yes will do, in a sentence or two (may be empty).
    pub detail: String,
    /// The confirming button's label: the verb ("Remove", "Stop").
    pub verb: String,
    /// The action cannot be undone (the button is styled as such).
    pub danger: bool,
    /// A text field: its label and the value it starts with.
    pub field: Option<(String, String)>,
    /// The field holds a secret (a passphrase): typed unseen.
    pub secret: bool,
    /// The word the user must type before the button enables.
    pub type_to_confirm: Option<String>,
}

impl Question {
    pub fn new(title: impl Into<String>, verb: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            verb: verb.into(),
            ..Self::default()
        }
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = detail.into();
        self
    }

    pub fn danger(mut self) -> Self {
        self.danger = true;
        self
    }

    pub fn field(mut self, label: impl Into<String>, value: impl Into<String>) -> Self {
        self.field = Some((label.into(), value.into()));
        self
    }

    /// A field for a secret, starting empty.
    pub fn secret_field(mut self, label: impl Into<String>) -> Self {
        self.field = Some((label.into(), String::new()));
        self.secret = true;
        self
    }

    pub fn type_to_confirm(mut self, word: impl Into<String>) -> Self {
        self.type_to_confirm = Some(word.into());
        self
    }
}

/// Asks a yes/no question; `true` only when the user pressed the verb's button.
pub async fn confirm(question: Question) -> bool {
    ask(question).await.is_some()
}

/// Asks for a line of text; `None` when declined.
pub async fn prompt(question: Question) -> Option<String> {
    ask(question).await
}

/// Runs `then` once the user confirmed `question` (nothing when declined).
pub fn after_confirm(question: Question, then: impl FnOnce() + 'static) {
    wasm_bindgen_futures::spawn_local(async move {
        if confirm(question).await {
            then();
        }
    });
}

/// Runs `call` as `action` once the user confirmed `question`: the usual shape of a
/// destructive button.
pub fn run_confirmed<F, Fut>(action: &Action, question: Question, call: F)
where
    F: FnOnce(Ws) -> Fut + 'static,
    Fut: Future<Output = Result<String, ErrorBody>> + 'static,
{
    let action = action.clone();
    after_confirm(question, move || action.run(call));
}

/// Runs `then` with the text the user gave for `question` (nothing when declined).
pub fn after_prompt(question: Question, then: impl FnOnce(String) + 'static) {
    wasm_bindgen_futures::spawn_local(async move {
        if let Some(text) = prompt(question).await {
            then(text);
        }
    });
}

/// Text as HTML text (the dialog is built from markup).
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn markup(q: &Question) -> String {
    let mut html = format!(
        r#"<form method="dialog"><h2 id="ask-title">{}</h2>"#,
        escape(&q.title)
    );
    if !q.detail.is_empty() {
        html += &format!(r#"<p class="ask-detail">{}</p>"#, escape(&q.detail));
    }
    if let Some((label, value)) = &q.field {
        html += &format!(
            r#"<label>{}<input id="ask-input" type="{}" autocomplete="off" value="{}"></label>"#,
            escape(label),
            if q.secret { "password" } else { "text" },
            escape(value)
        );
    }
    if let Some(word) = &q.type_to_confirm {
        html += &format!(
            r#"<label>Type <b>{}</b> to confirm<input id="ask-input" autocomplete="off"></label>"#,
            escape(word)
        );
    }
    html += &format!(
        r#"<div class="ask-buttons"><button type="button" id="ask-cancel">Cancel</button><button type="submit" id="ask-confirm" value="yes" class="{}">{}</button></div></form>"#,
        if q.danger { "danger" } else { "primary" },
        escape(&q.verb)
    );
    html
}

fn by_id<T: JsCast>(id: &str) -> Option<T> {
    web_sys::window()?
        .document()?
        .get_element_by_id(id)?
        .dyn_into()
        .ok()
}

/// Opens the dialog and waits: the field's text (empty without a field) when
/// confirmed, `None` when declined.
async fn ask(q: Question) -> Option<String> {
    let document = web_sys::window()?.document()?;
    let dialog: HtmlDialogElement = document.create_element("dialog").ok()?.dyn_into().ok()?;
    dialog.set_id("ask-dialog");
    dialog.set_class_name("ask");
    let _ = dialog.set_attribute("aria-labelledby", "ask-title");
    dialog.set_inner_html(&markup(&q));
    document.body()?.append_child(&dialog).ok()?;
    let input: Option<HtmlInputElement> = by_id("ask-input");
    let confirm_button: Option<HtmlButtonElement> = by_id("ask-confirm");
    let cancel_button: Option<HtmlButtonElement> = by_id("ask-cancel");

    let (done, answered) = oneshot::channel::<bool>();
    let done = std::cell::RefCell::new(Some(done));
    let on_close = {
        let dialog = dialog.clone();
        Closure::<dyn Fn()>::new(move || {
            if let Some(tx) = done.borrow_mut().take() {
                let _ = tx.send(dialog.return_value() == "yes");
            }
        })
    };
    let _ = dialog.add_event_listener_with_callback("close", on_close.as_ref().unchecked_ref());
    let on_cancel = {
        let dialog = dialog.clone();
        Closure::<dyn Fn()>::new(move || dialog.close_with_return_value("no"))
    };
    if let Some(b) = &cancel_button {
        b.set_onclick(Some(on_cancel.as_ref().unchecked_ref()));
    }
    // Typing the word enables the button; until then Enter submits nothing either.
    let on_input = q.type_to_confirm.clone().map(|word| {
        let (input, button) = (input.clone(), confirm_button.clone());
        Closure::<dyn Fn(Event)>::new(move |_| {
            if let (Some(i), Some(b)) = (&input, &button) {
                b.set_disabled(i.value().trim() != word);
            }
        })
    });
    if let (Some(closure), Some(i), Some(b)) = (&on_input, &input, &confirm_button) {
        b.set_disabled(true);
        i.set_oninput(Some(closure.as_ref().unchecked_ref()));
    }
    dialog.set_return_value("");
    let _ = dialog.show_modal();
    match (&input, &confirm_button) {
        (Some(i), _) => {
            let _ = i.focus();
            i.select();
        }
        (None, Some(b)) => {
            let _ = b.focus();
        }
        _ => {}
    }
    let yes = answered.await.unwrap_or(false);
    let text = input
        .as_ref()
        .map(HtmlInputElement::value)
        .unwrap_or_default();
    dialog.remove();
    drop((on_close, on_cancel, on_input));
    yes.then_some(text)
}
