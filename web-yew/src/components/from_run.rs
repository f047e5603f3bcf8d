//! "From `docker run`": a command line from a README converted on the host
//! (`compose.from_docker_run`) into a new stack's compose file or the New container
//! form, with what the target cannot say listed under it.

use berth_protocol::api::catalogue::ComposeFromDockerRun;
use berth_protocol::api::stacks::{ConvertRun, ConvertedRun};
use yew::prelude::*;

use crate::hooks::{on_text, use_action};

/// What the command becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunInto {
    /// A compose file: what compose has no key for is listed.
    Stack,
    /// The New container form: the flags it has no field for are listed.
    Container,
}

#[derive(Properties, PartialEq)]
pub struct FromRunProps {
    pub target: RunInto,
    /// The converted command, for the editor or the form.
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
                { outcome(c, props.target) }
            }
        </details>
    }
}

/// What became of the command, and what did not fit the target.
fn outcome(c: &ConvertedRun, into: RunInto) -> Html {
    let (done, heading, missing) = match into {
        RunInto::Stack => (
            format!("Converted into service {}.", c.service),
            "Not converted (compose has no key for these):",
            &c.unsupported,
        ),
        RunInto::Container => (
            "The form below is filled in from the command.".to_owned(),
            "Not in this form (a stack from the same command keeps them):",
            &c.form.left_out,
        ),
    };
    html! { <>
        <p class="ok-note" id="run-converted">{ done }</p>
        if !missing.is_empty() {
            <p>{ heading }</p>
            <ul id="run-unsupported">{ for missing.iter().map(|u| html! { <li>{ u }</li> }) }</ul>
        }
        if into == RunInto::Stack {
            <ul class="muted">{ for c.warnings.iter().map(|w| html! { <li>{ w }</li> }) }</ul>
        }
    </> }
}
