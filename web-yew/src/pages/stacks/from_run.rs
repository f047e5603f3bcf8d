//! "From `docker run`": a command line from a README converted on the host
//! (`compose.from_docker_run`) into the new stack's compose file, with what compose
//! cannot say listed under it.

use berth_protocol::api::catalogue::ComposeFromDockerRun;
use berth_protocol::api::stacks::{ConvertRun, ConvertedRun};
use yew::prelude::*;

use crate::hooks::{on_text, use_action};

#[derive(Properties, PartialEq)]
pub struct FromRunProps {
    /// The converted file, for the editor.
    pub converted: Callback<ConvertedRun>,
}

#[function_component(FromRun)]
pub fn from_run(props: &FromRunProps) -> Html {
    let command = use_state(String::new);
    let answer = use_state(|| None::<ConvertedRun>);
    let action = use_action(Callback::noop());
    let convert = {
        let (command, answer, action, converted) = (
            command.clone(),
            answer.clone(),
            action.clone(),
            props.converted.clone(),
        );
        Callback::from(move |_| {
            let (params, answer, converted) = (
                ConvertRun {
                    command: (*command).clone(),
                },
                answer.clone(),
                converted.clone(),
            );
            action.spawn(move |ws, action| async move {
                match ws.call_m::<ComposeFromDockerRun>(params).await {
                    Ok(c) => {
                        converted.emit(c.clone());
                        answer.set(Some(c));
                    }
                    Err(e) => action.fail(e),
                }
            });
        })
    };
    html! {
        <details class="from-run" id="from-run">
            <summary>{ "From a docker run command" }</summary>
            <textarea id="run-command" aria-label="A docker run command line" class="mono code" rows="4" spellcheck="false"
                placeholder="docker run -d --name web -p 8080:80 -v web-data:/data nginx"
                value={(*command).clone()} oninput={on_text(&command)} />
            <button type="button" id="run-convert" onclick={convert}>{ "Convert" }</button>
            { action.view() }
            if let Some(c) = &*answer {
                <p class="ok-note" id="run-converted">{ format!("Converted into service {}.", c.service) }</p>
                if !c.unsupported.is_empty() {
                    <p>{ "Not converted (compose has no key for these):" }</p>
                    <ul id="run-unsupported">{ for c.unsupported.iter().map(|u| html! { <li>{ u }</li> }) }</ul>
                }
                <ul class="muted">{ for c.warnings.iter().map(|w| html! { <li>{ w }</li> }) }</ul>
            }
        </details>
    }
}
