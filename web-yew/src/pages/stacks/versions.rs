//! A stack's earlier versions (each save keeps the files it replaced), each with who
//! saved over it, what changed since (a diff against the current file) and a button
//! to make it current again.

use berth_protocol::api::catalogue::{StacksHistory, StacksRestoreVersion};
use berth_protocol::api::stacks::{StackHistory, StackRef, VersionRef};
use yew::prelude::*;

use crate::components::diff::DiffView;
use crate::components::loaded;
use crate::components::moment;
use crate::hooks::{Action, use_action, use_call};

#[derive(Properties, PartialEq)]
pub struct VersionsProps {
    pub name: String,
    /// How many there are (a change reloads the list).
    pub count: u32,
    /// The compose file now, to show what each version differs in.
    pub current: String,
    pub restored: Callback<()>,
}

#[function_component(Versions)]
pub fn versions(props: &VersionsProps) -> Html {
    let (list, _) = use_call::<StacksHistory>(StackRef {
        name: props.name.clone(),
    });
    let action = use_action(props.restored.clone());
    html! {
        <div id="stack-versions">
            <h2>{ format!("Earlier versions ({})", props.count) }</h2>
            <div id="stack-versions-result">{ action.view() }</div>
            { loaded(&list, |h| table(h, &props.name, &props.current, &action)) }
        </div>
    }
}

fn table(h: &StackHistory, name: &str, current: &str, action: &Action) -> Html {
    if h.versions.is_empty() {
        return html! { <p class="muted">{ "None yet: each save keeps the files it replaces." }</p> };
    }
    html! {
        <table class="grid">
            <thead><tr><th>{ "Replaced" }</th><th>{ "By" }</th><th>{ "Compose file" }</th><th></th></tr></thead>
            <tbody>{ for h.versions.iter().map(|v| {
                let restore = {
                    let (action, name, id) = (action.clone(), name.to_owned(), v.id.clone());
                    Callback::from(move |_| {
                        let (name, id) = (name.clone(), id.clone());
                        action.run(move |ws| async move {
                            ws.call_m::<StacksRestoreVersion>(VersionRef { name, id }).await?;
                            Ok("Restored; the files it replaced are a version now.".to_owned())
                        });
                    })
                };
                html! {
                    <tr data-version={v.id.clone()}>
                        <td>{ moment(v.replaced_ms) }</td><td>{ &v.by }</td>
                        <td><details class="version-diff"><summary>{ format!("{} lines — changes since", v.compose.lines().count()) }</summary>
                            <DiffView old={v.compose.clone()} new={current.to_owned()} /></details></td>
                        <td><button type="button" class="small stack-restore" onclick={restore}>{ "Restore" }</button></td>
                    </tr>
                }
            }) }</tbody>
        </table>
    }
}
