//! "Pull an image": a reference typed in, then each layer's progress live from the
//! `image.pull` channel, the list reloaded when it is done. Cancel closes the channel,
//! which stops the pull.

use std::collections::BTreeMap;

use berth_protocol::api::images::PullProgress;
use yew::prelude::*;

use crate::hooks::{Action, on_text, use_text};
use crate::ws::{SubHandle, use_ws};

/// The pull in progress: the layers in the order Docker named them, and its own line.
#[derive(Default)]
struct Pulling {
    layers: BTreeMap<String, (usize, PullProgress)>,
    status: String,
}

#[derive(Properties, PartialEq)]
pub struct PullProps {
    /// Reports the outcome and reloads the list.
    pub action: Action,
}

#[function_component(PullForm)]
pub fn pull_form(props: &PullProps) -> Html {
    let ctx = use_ws();
    let reference = use_text();
    let pulling = use_mut_ref(Pulling::default);
    let running = use_mut_ref(|| None::<SubHandle>);
    let redraw = use_force_update();
    let onsubmit = {
        let (ws, reference, action) = (ctx.ws.clone(), reference.clone(), props.action.clone());
        let (pulling, running, redraw) = (pulling.clone(), running.clone(), redraw.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let image = reference.trim().to_owned();
            if image.is_empty() {
                action.fail_local("Name the image to pull, e.g. registry.lan:5000/team/app:1.2");
                return;
            }
            *pulling.borrow_mut() = Pulling::default();
            let on_data = {
                let (pulling, redraw) = (pulling.clone(), redraw.clone());
                Callback::from(move |v| {
                    if let Ok(p) = serde_json::from_value::<PullProgress>(v) {
                        record(&mut pulling.borrow_mut(), p);
                        redraw.force_update();
                    }
                })
            };
            let on_close = {
                let (action, running, redraw) = (action.clone(), running.clone(), redraw.clone());
                let image = image.clone();
                Callback::from(move |error: Option<berth_protocol::error::ErrorBody>| {
                    running.borrow_mut().take();
                    action.show(error.map_or_else(|| Ok(format!("Pulled {image}.")), Err));
                    action.reload();
                    redraw.force_update();
                })
            };
            let sub = ws.subscribe(
                "image.pull",
                serde_json::json!({"image": image}),
                64,
                on_data,
                on_close,
            );
            *running.borrow_mut() = Some(sub);
            redraw.force_update();
        })
    };
    let cancel = {
        let (running, action, redraw) = (running.clone(), props.action.clone(), redraw.clone());
        Callback::from(move |_: MouseEvent| {
            if running.borrow_mut().take().is_some() {
                action.fail_local("Pull cancelled.");
                redraw.force_update();
            }
        })
    };
    let busy = running.borrow().is_some();
    html! {
        <form class="toolbar" id="image-pull-form" {onsubmit}>
            <label>{ "Pull " }
                <input id="image-pull-ref" placeholder="registry.lan:5000/team/app:1.2" size="40"
                    value={(*reference).clone()} oninput={on_text(&reference)} disabled={busy} />
            </label>
            <button type="submit" id="image-pull-start" disabled={busy}>{ if busy { "Pulling…" } else { "Pull" } }</button>
            if busy { <button type="button" id="image-pull-cancel" onclick={cancel}>{ "Cancel" }</button> }
            { progress_view(&pulling.borrow()) }
        </form>
    }
}

fn record(pulling: &mut Pulling, p: PullProgress) {
    if p.layer.is_empty() {
        pulling.status = p.status;
        return;
    }
    let next = pulling.layers.len();
    let order = pulling
        .layers
        .get(&p.layer)
        .map_or(next, |(order, _)| *order);
    pulling.layers.insert(p.layer.clone(), (order, p));
}

fn progress_view(pulling: &Pulling) -> Html {
    if pulling.layers.is_empty() && pulling.status.is_empty() {
        return html! {};
    }
    let mut layers: Vec<&(usize, PullProgress)> = pulling.layers.values().collect();
    layers.sort_by_key(|(order, _)| *order);
    html! {
        <div class="pull-progress" id="image-pull-progress">
            <p class="muted" id="image-pull-status">{ &pulling.status }</p>
            <ul class="layers">
            { for layers.into_iter().map(|(_, p)| html! {
                <li data-layer={p.layer.clone()} data-status={p.status.clone()}>
                    <span class="mono">{ &p.layer }</span>{ " " }{ &p.status }
                    if let (Some(done), Some(total)) = (p.current, p.total.filter(|t| *t > 0)) {
                        { " " }<progress max={total.to_string()} value={done.min(total).to_string()}></progress>
                        <span class="muted">{ format!(" {} / {}", crate::format::bytes(done), crate::format::bytes(total)) }</span>
                    }
                </li>
            }) }
            </ul>
        </div>
    }
}
