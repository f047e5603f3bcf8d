//! A stack's compose actions (up, down, restart, pull, stop, start) with the CLI's
//! output as it comes, over `stack.output`; leaving the page or Cancel stops it.

use std::cell::RefCell;
use std::rc::Rc;

use berth_protocol::api::stacks::StackAction;
use yew::prelude::*;

use crate::ws::{Closed, SubHandle, use_ws};

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

#[function_component(StackActions)]
pub fn stack_actions(props: &ActionsProps) -> Html {
    let ctx = use_ws();
    let output = use_mut_ref(String::new);
    let sub = use_mut_ref(|| None::<SubHandle>);
    let status = use_state(|| None::<(String, Option<i64>)>);
    let redraw = use_force_update();
    let run = |action: StackAction| {
        let (ws, output, sub, status) =
            (ctx.ws.clone(), output.clone(), sub.clone(), status.clone());
        let (name, done, redraw) = (props.name.clone(), props.done.clone(), redraw.clone());
        Callback::from(move |_| {
            output.borrow_mut().clear();
            status.set(Some((format!("{} running…", action.as_str()), None)));
            let on_bytes = {
                let (output, redraw) = (output.clone(), redraw.clone());
                Callback::from(move |(_, bytes): (u8, Vec<u8>)| {
                    output
                        .borrow_mut()
                        .push_str(&String::from_utf8_lossy(&bytes));
                    redraw.force_update();
                })
            };
            let on_close = ended(action, status.clone(), sub.clone(), done.clone());
            let params = serde_json::json!({"stack": name, "action": action.as_str()});
            *sub.borrow_mut() =
                Some(ws.subscribe_binary("stack.output", params, 65536, on_bytes, on_close));
        })
    };
    let cancel = {
        let sub = sub.clone();
        Callback::from(move |_| drop(sub.borrow_mut().take()))
    };
    let exit = status
        .as_ref()
        .and_then(|s| s.1)
        .map(|c| c.to_string())
        .unwrap_or_default();
    html! {
        <div class="card" id="stack-actions">
            { for ACTIONS.iter().map(|a| html! {
                <button type="button" id={format!("stack-action-{}", a.as_str())} onclick={run(*a)}>{ a.as_str() }</button>
            }) }
            if sub.borrow().is_some() {
                <button type="button" class="danger" id="stack-action-cancel" onclick={cancel}>{ "Cancel" }</button>
            }
            if let Some((text, _)) = &*status {
                <p id="stack-action-status" data-exit={exit}>{ text }</p>
            }
            <pre class="log" id="stack-output">{ output.borrow().clone() }</pre>
        </div>
    }
}

/// What the channel's end means: the exit code, or why it stopped.
fn ended(
    action: StackAction,
    status: UseStateHandle<Option<(String, Option<i64>)>>,
    sub: Rc<RefCell<Option<SubHandle>>>,
    done: Callback<()>,
) -> Callback<Closed> {
    Callback::from(move |c: Closed| {
        let code = c.p.as_ref().and_then(|p| p["exit_code"].as_i64());
        let text = match (&c.error, code) {
            (Some(e), _) => format!("{} failed: {}", action.as_str(), e.message),
            (None, Some(0)) => format!("{} done.", action.as_str()),
            (None, Some(n)) => format!("{} ended with exit code {n}.", action.as_str()),
            (None, None) => format!("{} stopped.", action.as_str()),
        };
        status.set(Some((text, code)));
        sub.borrow_mut().take();
        done.emit(());
    })
}
