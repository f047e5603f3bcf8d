//! The configured plugin instances and the form that adds or edits one.

use berth_protocol::api::Empty;
use berth_protocol::api::catalogue::{PluginsInstances, PluginsUnconfigure};
use berth_protocol::api::plugins::{InstanceList, InstanceRef, PluginInfo, PluginInstance};
use berth_protocol::error::ErrorBody;
use serde_json::Value;
use yew::prelude::*;

use super::instance_form::InstanceForm;
use super::kind;
use crate::components::{Question, loaded, run_confirmed};
use crate::hooks::{Action, use_action, use_call};

#[derive(Properties, PartialEq)]
pub struct InstancesProps {
    pub plugins: Vec<PluginInfo>,
    pub onchange: Callback<()>,
}

#[function_component(Instances)]
pub fn instances(props: &InstancesProps) -> Html {
    let (list, reload) = use_call::<PluginsInstances>(Empty {});
    let after = {
        let onchange = props.onchange.clone();
        Callback::from(move |()| {
            reload.emit(());
            onchange.emit(());
        })
    };
    let action = use_action(after);
    // The plugin the form is for, and the instance being edited (if any).
    let chosen = use_state(|| None::<String>);
    let editing = use_state(|| None::<PluginInstance>);
    let onchoose = {
        let (chosen, editing) = (chosen.clone(), editing.clone());
        Callback::from(move |e: Event| {
            let v: web_sys::HtmlSelectElement = e.target_unchecked_into();
            editing.set(None);
            chosen.set(Some(v.value()).filter(|v| !v.is_empty()));
        })
    };
    let onedit = {
        let (chosen, editing) = (chosen.clone(), editing.clone());
        Callback::from(move |i: PluginInstance| {
            chosen.set(Some(i.plugin.clone()));
            editing.set(Some(i));
        })
    };
    let onsaved = {
        let (action, editing, chosen) = (action.clone(), editing.clone(), chosen.clone());
        Callback::from(move |r: Result<PluginInstance, ErrorBody>| {
            action.show(r.map(|i| {
                editing.set(None);
                chosen.set(None);
                format!("Saved {}.", i.name)
            }));
            action.reload();
        })
    };
    let form = (*chosen)
        .as_ref()
        .and_then(|id| props.plugins.iter().find(|p| &p.id == id))
        .map(|p| {
            let key = format!("{}:{}", p.id, editing.as_ref().map_or("", |e| e.name.as_str()));
            html! { <InstanceForm {key} plugin={p.clone()} editing={(*editing).clone()} {onsaved} /> }
        });
    html! {
        <>
            <h2>{ "Instances" }</h2>
            <div id="instances-result">{ action.view() }</div>
            { loaded(&list, |l| table(l, &action, &onedit)) }
            <div class="toolbar">
                <label>{ "Add an instance of " }
                    <select id="instance-plugin" onchange={onchoose}>
                        <option value="" selected={chosen.is_none()}>{ "— choose a plugin —" }</option>
                        { for props.plugins.iter().map(|p| html!{
                            <option value={p.id.clone()} selected={chosen.as_deref() == Some(p.id.as_str())}>
                                { format!("{} ({})", p.manifest.as_ref().map_or(p.id.as_str(), |m| m.name.as_str()), kind(p.kind)) }
                            </option>
                        }) }
                    </select>
                </label>
            </div>
            { form.unwrap_or_default() }
        </>
    }
}

fn table(l: &InstanceList, action: &Action, onedit: &Callback<PluginInstance>) -> Html {
    if l.instances.is_empty() {
        return html! { <p class="muted">{ "No configured instances." }</p> };
    }
    html! {
        <table class="grid" id="instances-table">
            <thead><tr><th>{ "Instance" }</th><th>{ "Plugin" }</th><th>{ "Settings" }</th><th>{ "Secrets" }</th><th>{ "May reach" }</th><th></th></tr></thead>
            <tbody>{ for l.instances.iter().map(|i| row(i, action, onedit)) }</tbody>
        </table>
    }
}

fn row(i: &PluginInstance, action: &Action, onedit: &Callback<PluginInstance>) -> Html {
    let settings = match &i.config {
        Value::Object(m) if !m.is_empty() => m
            .iter()
            .map(|(k, v)| {
                format!(
                    "{k}: {}",
                    v.as_str().map_or_else(|| v.to_string(), str::to_owned)
                )
            })
            .collect::<Vec<_>>()
            .join(", "),
        _ => i.path.clone().unwrap_or_default(),
    };
    let edit = {
        let (onedit, i) = (onedit.clone(), i.clone());
        Callback::from(move |_| onedit.emit(i.clone()))
    };
    let remove = {
        let (action, name) = (action.clone(), i.name.clone());
        Callback::from(move |_| remove(&action, name.clone()))
    };
    html! {
        <tr data-name={i.name.clone()}>
            <td>{ &i.name }</td>
            <td>{ &i.plugin }</td>
            <td class="mono">{ settings }</td>
            <td>{ if i.secrets_set.is_empty() { "—".to_owned() } else { format!("{} (set)", i.secrets_set.join(", ")) } }</td>
            <td class="mono">{ i.egress.join(", ") }{ if i.allow_private { " + private networks" } else { "" } }</td>
            <td>
                <button class="small instance-edit" onclick={edit}>{ "Edit" }</button>
                <button class="small danger instance-remove" onclick={remove}>{ "Remove" }</button>
            </td>
        </tr>
    }
}

fn remove(action: &Action, name: String) {
    let question = Question::new(format!("Remove the instance {name}?"), "Remove")
        .detail("Its settings and sealed secrets are deleted; what it stored stays where it is.")
        .danger();
    run_confirmed(action, question, move |ws| async move {
        ws.call_m::<PluginsUnconfigure>(InstanceRef { name: name.clone() })
            .await?;
        Ok(format!("Removed {name}."))
    });
}
