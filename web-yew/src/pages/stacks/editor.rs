//! A stack's compose file and `.env` in text areas: validate (problems at their line
//! and column), save (or keep as a draft), for a new stack or an existing one.

use berth_protocol::api::catalogue::{StacksCreate, StacksSave, StacksValidate};
use berth_protocol::api::stacks::{ConvertedRun, StackFiles, Validation};
use yew::prelude::*;
use yew_router::prelude::*;

use crate::components::from_run::{FromRun, RunInto};
use crate::hooks::{on_check, on_text, use_action, use_flag};
use crate::route::Route;

/// What a new stack's editor starts with.
pub const STARTER: &str = "services:\n  app:\n    image: nginx:alpine\n    restart: unless-stopped\n    ports:\n      - \"8080:80\"\n";

#[derive(Properties, PartialEq)]
pub struct EditorProps {
    /// `None`: a new stack (its name is asked for).
    pub name: Option<String>,
    pub compose: String,
    pub env: Option<String>,
    pub editable: bool,
    /// After a save.
    pub saved: Callback<()>,
}

#[function_component(Editor)]
pub fn editor(props: &EditorProps) -> Html {
    let name = use_state(|| props.name.clone().unwrap_or_default());
    // An edit left unsaved when the page was last left comes back.
    let compose = use_state(|| {
        props
            .name
            .as_deref()
            .and_then(super::unsaved::kept)
            .unwrap_or_else(|| props.compose.clone())
    });
    let env = use_state(|| props.env.clone().unwrap_or_default());
    let draft = use_flag(false);
    let checked = use_state(|| None::<Validation>);
    let action = use_action(props.saved.clone());
    let navigator = use_navigator();
    let files = {
        let (name, compose, env, draft) =
            (name.clone(), compose.clone(), env.clone(), draft.clone());
        move || StackFiles {
            name: name.trim().to_owned(),
            compose: (*compose).clone(),
            env: Some((*env).clone()),
            draft: *draft,
        }
    };
    let validate = {
        let (action, checked, files) = (action.clone(), checked.clone(), files.clone());
        Callback::from(move |_| {
            let (checked, files) = (checked.clone(), files());
            action.spawn(move |ws, action| async move {
                match ws.call_m::<StacksValidate>(files).await {
                    Ok(v) => checked.set(Some(v)),
                    Err(e) => action.fail(e),
                }
            });
        })
    };
    let save = {
        let (action, files, new) = (action.clone(), files.clone(), props.name.is_none());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let (files, navigator) = (files(), navigator.clone());
            action.run(move |ws| async move {
                let d = if new {
                    ws.call_m::<StacksCreate>(files).await?
                } else {
                    ws.call_m::<StacksSave>(files).await?
                };
                if new && let Some(n) = navigator {
                    n.push(&Route::Stack {
                        name: d.name.clone(),
                    });
                }
                Ok(format!(
                    "Saved {}{}.",
                    d.name,
                    if d.draft { " as a draft" } else { "" }
                ))
            });
        })
    };
    let converted = {
        let (compose, name) = (compose.clone(), name.clone());
        Callback::from(move |c: ConvertedRun| {
            compose.set(c.compose);
            if name.trim().is_empty() {
                name.set(c.service);
            }
        })
    };
    html! {
        <form class="stacked-form stack-editor" id="stack-editor" onsubmit={save}>
            if props.name.is_none() {
                <FromRun target={RunInto::Stack} converted={converted} />
                <label>{ "Name " }<input id="stack-name" value={(*name).clone()} oninput={on_text(&name)} placeholder="media" required=true /></label>
            }
            <label for="stack-compose">{ "compose.yaml" }</label>
            <super::code::CodeArea id="stack-compose" value={compose.clone()} readonly={!props.editable} problems={problem_lines(checked.as_ref())} />
            if let Some(name) = &props.name {
                <super::unsaved::Unsaved name={name.clone()} saved={props.compose.clone()} compose={compose.clone()} />
            }
            <label>{ ".env" }<textarea id="stack-env" class="mono code" rows="4" spellcheck="false"
                value={(*env).clone()} oninput={on_text(&env)} readonly={!props.editable} /></label>
            { problems_view(checked.as_ref()) }
            <div class="form-row">
                <button type="button" id="stack-validate" onclick={validate}>{ "Validate" }</button>
                if props.editable {
                    <label><input type="checkbox" id="stack-draft" checked={*draft} onchange={on_check(&draft)} />{ " save even if it does not validate (draft)" }</label>
                    <button type="submit" class="primary" id="stack-save">{ "Save" }</button>
                }
            </div>
            <div id="stack-result">{ action.view() }</div>
        </form>
    }
}

/// The lines a validation found problems on, for the editor's gutter.
fn problem_lines(v: Option<&Validation>) -> Vec<(u32, String)> {
    v.map(|v| {
        v.problems
            .iter()
            .filter_map(|p| p.line.map(|l| (l, p.message.clone())))
            .collect()
    })
    .unwrap_or_default()
}

fn problems_view(v: Option<&Validation>) -> Html {
    let Some(v) = v else { return html! {} };
    html! {
        <div id="stack-validation" data-valid={v.valid.to_string()}>
            if v.valid { <p class="ok-note">{ "Valid." }</p> }
            <ul id="stack-problems">{ for v.problems.iter().map(|p| html! {
                <li data-line={p.line.map(|l| l.to_string()).unwrap_or_default()}>
                    { p.line.map(|l| format!("line {l}, column {}: ", p.column.unwrap_or(1))).unwrap_or_default() }{ &p.message }
                </li>
            }) }</ul>
            <ul class="muted">{ for v.warnings.iter().map(|w| html! { <li>{ w }</li> }) }</ul>
        </div>
    }
}
