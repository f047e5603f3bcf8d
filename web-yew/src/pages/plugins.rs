//! Plugins: every plugin with its kind, health and what it may touch (admins enable
//! and disable them); the storage instances (test, make default); the notifiers
//! (test); and, for admins, the configured instances with a form per plugin rendered
//! from the plugin's configuration schema.

use std::collections::BTreeMap;

use berth_protocol::api::Empty;
use berth_protocol::api::catalogue::{
    NotificationsList, NotificationsTest, PluginsConfigure, PluginsDisable, PluginsEnable,
    PluginsInstances, PluginsList, PluginsUnconfigure, PluginsUninstall, StorageList,
    StorageSetDefault, StorageTest,
};
use berth_protocol::api::plugins::{
    ConfigureInstance, InstanceRef, PluginHealth, PluginInfo, PluginInstance, PluginKind,
    PluginRef, StorageRef,
};
use berth_protocol::error::ErrorBody;
use berth_protocol::role::Role;
use serde_json::{Map, Value};
use yew::prelude::*;

use super::{Flash, Load, confirm, error_view, flash_view, use_call};
use crate::ws::use_ws;

fn kind(k: Option<PluginKind>) -> &'static str {
    match k {
        Some(PluginKind::Storage) => "storage",
        Some(PluginKind::Notifier) => "notifier",
        Some(PluginKind::Base) => "self-test",
        None => "not loaded",
    }
}

fn health(h: PluginHealth) -> Html {
    let (class, text) = match h {
        PluginHealth::Healthy => ("badge ok", "healthy"),
        PluginHealth::Degraded => ("badge warn", "degraded"),
        PluginHealth::Unhealthy => ("badge bad", "unhealthy"),
    };
    html! { <span class={class}>{ text }</span> }
}

/// Runs `f` (a protocol call) and shows its outcome in `flash`, then reloads.
fn act<F, Fut>(flash: &Flash, reloads: Vec<Callback<()>>, f: F)
where
    F: FnOnce() -> Fut + 'static,
    Fut: Future<Output = Result<String, ErrorBody>> + 'static,
{
    let flash = flash.clone();
    wasm_bindgen_futures::spawn_local(async move {
        flash.set(Some(f().await));
        for r in reloads {
            r.emit(());
        }
    });
}

#[function_component(PluginsPage)]
pub fn plugins_page() -> Html {
    let ctx = use_ws();
    let admin = ctx.user().is_some_and(|u| u.role.allows(Role::Admin));
    let (plugins, reload) = use_call::<PluginsList>(Empty {});
    let (storage, reload_storage) = use_call::<StorageList>(Empty {});
    let (notifiers, reload_notifiers) = use_call::<NotificationsList>(Empty {});
    let flash: Flash = use_state(|| None);
    // Notifier tests report under their own table.
    let nflash: Flash = use_state(|| None);
    let busy = use_state(|| false);
    let reload_all = {
        let (a, b, c) = (
            reload.clone(),
            reload_storage.clone(),
            reload_notifiers.clone(),
        );
        Callback::from(move |()| {
            a.emit(());
            b.emit(());
            c.emit(());
        })
    };

    let ontest = {
        let (ws, flash, busy, reload) =
            (ctx.ws.clone(), flash.clone(), busy.clone(), reload.clone());
        Callback::from(move |name: String| {
            let (ws, busy2) = (ws.clone(), busy.clone());
            busy.set(true);
            act(&flash, vec![reload.clone()], move || async move {
                let r = ws
                    .call_m::<StorageTest>(StorageRef { name: Some(name) })
                    .await;
                busy2.set(false);
                r.map(|r| {
                    format!(
                        "Storage {} works: {} KiB written in {:.1} ms, read back in {:.1} ms ({:.1} ms in all).",
                        r.name,
                        r.bytes / 1024,
                        r.write_ms,
                        r.read_ms,
                        r.total_ms
                    )
                })
            });
        })
    };
    let onnotify = {
        let (ws, flash, busy, reload) = (
            ctx.ws.clone(),
            nflash.clone(),
            busy.clone(),
            reload_notifiers.clone(),
        );
        Callback::from(move |name: String| {
            let (ws, busy2) = (ws.clone(), busy.clone());
            busy.set(true);
            act(&flash, vec![reload.clone()], move || async move {
                let r = ws.call_m::<NotificationsTest>(InstanceRef { name }).await;
                busy2.set(false);
                r.map(|r| {
                    let tries = if r.attempts == 1 {
                        String::new()
                    } else {
                        format!(" after {} attempts", r.attempts)
                    };
                    format!(
                        "Test notification sent through {}{tries} ({:.0} ms).",
                        r.name, r.total_ms
                    )
                })
            });
        })
    };
    let ondefault = {
        let (ws, flash, reload) = (ctx.ws.clone(), flash.clone(), reload_storage.clone());
        Callback::from(move |name: String| {
            let ws = ws.clone();
            act(&flash, vec![reload.clone()], move || async move {
                ws.call_m::<StorageSetDefault>(InstanceRef { name: name.clone() })
                    .await
                    .map(|_| format!("Backups now go to {name} by default."))
            });
        })
    };
    let ontoggle = {
        let (ws, flash, reload_all) = (ctx.ws.clone(), flash.clone(), reload_all.clone());
        Callback::from(move |(id, enable): (String, bool)| {
            let ws = ws.clone();
            act(&flash, vec![reload_all.clone()], move || async move {
                let p = PluginRef { id: id.clone() };
                let r = if enable {
                    ws.call_m::<PluginsEnable>(p).await
                } else {
                    ws.call_m::<PluginsDisable>(p).await
                };
                r.map(|_| {
                    format!(
                        "Plugin {id} {}.",
                        if enable { "enabled" } else { "disabled" }
                    )
                })
            });
        })
    };

    let onuninstall = {
        let (ws, flash, reload_all) = (ctx.ws.clone(), flash.clone(), reload_all.clone());
        Callback::from(move |id: String| {
            if !confirm(&format!(
                "Uninstall the plugin {id}? Its files are deleted."
            )) {
                return;
            }
            let ws = ws.clone();
            act(&flash, vec![reload_all.clone()], move || async move {
                ws.call_m::<PluginsUninstall>(PluginRef { id: id.clone() })
                    .await
                    .map(|_| format!("Plugin {id} uninstalled."))
            });
        })
    };

    let plugin_table = match &plugins {
        Load::Loading => html! { <p>{ "Loading…" }</p> },
        Load::Failed(e) => error_view(e),
        Load::Ready(l) => html! {
            <table class="grid" id="plugins-table">
                <thead><tr><th>{ "Plugin" }</th><th>{ "Kind" }</th><th>{ "Health" }</th><th>{ "May touch" }</th><th>{ "sha256" }</th><th></th></tr></thead>
                <tbody>
                { for l.plugins.iter().map(|p| {
                    let toggle = {
                        let (ontoggle, id, enable) = (ontoggle.clone(), p.id.clone(), !p.enabled);
                        Callback::from(move |_| ontoggle.emit((id.clone(), enable)))
                    };
                    let title = p.manifest.as_ref().map(|m| format!("{} {}", m.name, m.version));
                    let uninstall = {
                        let (onuninstall, id) = (onuninstall.clone(), p.id.clone());
                        Callback::from(move |_| onuninstall.emit(id.clone()))
                    };
                    html! {
                    <tr data-id={p.id.clone()}>
                        <td>{ &p.id }{ if p.builtin { html!{ <span class="muted">{ " (built in)" }</span> } } else { html!{} } }
                            { title.map_or_else(|| html!{}, |t| html!{ <div class="muted">{ t }</div> }) }
                            { if p.enabled { html!{} } else { html!{ <span class="badge warn">{ "disabled" }</span> } } }</td>
                        <td>{ kind(p.kind) }</td>
                        <td class="health">{ health(p.health) }
                            { p.message.as_ref().map_or_else(|| html!{}, |m| html!{ <div class="muted">{ m }</div> }) }</td>
                        <td>{ p.capabilities.join("; ") }</td>
                        <td class="mono">{ p.sha256.as_deref().map(|s| s.chars().take(12).collect::<String>()).unwrap_or_default() }</td>
                        <td>{ if admin && p.kind != Some(PluginKind::Base) { html!{
                            <button class="small plugin-toggle" onclick={toggle}>{ if p.enabled { "Disable" } else { "Enable" } }</button>
                        } } else { html!{} } }
                        { if admin && !p.builtin { html!{
                            <button class="small danger plugin-uninstall" onclick={uninstall}>{ "Uninstall" }</button>
                        } } else { html!{} } }</td>
                    </tr>
                    }
                }) }
                </tbody>
            </table>
        },
    };
    let storage_table = match &storage {
        Load::Loading => html! { <p>{ "Loading…" }</p> },
        Load::Failed(e) => error_view(e),
        Load::Ready(l) => html! {
            <table class="grid" id="storage-table">
                <thead><tr><th>{ "Instance" }</th><th>{ "Plugin" }</th><th>{ "Where" }</th><th></th></tr></thead>
                <tbody>
                { for l.storage.iter().map(|s| {
                    let (ontest, ondefault) = (ontest.clone(), ondefault.clone());
                    let (name, name2) = (s.name.clone(), s.name.clone());
                    html! {
                    <tr data-name={s.name.clone()}>
                        <td>{ &s.name }{ if s.default { html!{ <span class="badge">{ "default" }</span> } } else { html!{} } }</td>
                        <td>{ &s.plugin }</td>
                        <td class="mono">{ &s.location }</td>
                        <td>{ if admin { html!{ <>
                            <button class="small storage-test" disabled={*busy}
                                onclick={Callback::from(move |_| ontest.emit(name.clone()))}>{ "Test" }</button>
                            { if s.default { html!{} } else { html!{
                                <button class="small storage-default"
                                    onclick={Callback::from(move |_| ondefault.emit(name2.clone()))}>{ "Make default" }</button>
                            } } }
                        </> } } else { html!{} } }</td>
                    </tr>
                    }
                }) }
                </tbody>
            </table>
        },
    };
    let notifier_table = match &notifiers {
        Load::Loading => html! { <p>{ "Loading…" }</p> },
        Load::Failed(e) => error_view(e),
        Load::Ready(l) if l.notifiers.is_empty() => html! {
            <p class="muted" id="notifiers-empty">{ "No notifiers yet. An admin adds one below (webhook, ntfy, Discord, Slack, Gotify)." }</p>
        },
        Load::Ready(l) => html! {
            <table class="grid" id="notifiers-table">
                <thead><tr><th>{ "Instance" }</th><th>{ "Plugin" }</th><th>{ "Health" }</th><th></th></tr></thead>
                <tbody>
                { for l.notifiers.iter().map(|n| {
                    let onnotify = onnotify.clone();
                    let name = n.name.clone();
                    html! {
                    <tr data-name={n.name.clone()}>
                        <td>{ &n.name }{ if n.enabled { html!{} } else { html!{ <span class="badge warn">{ "disabled" }</span> } } }</td>
                        <td>{ &n.plugin }</td>
                        <td>{ health(n.health) }</td>
                        <td>{ if admin { html!{
                            <button class="small notifier-test" disabled={*busy}
                                onclick={Callback::from(move |_| onnotify.emit(name.clone()))}>{ "Send test" }</button>
                        } } else { html!{} } }</td>
                    </tr>
                    }
                }) }
                </tbody>
            </table>
        },
    };
    let configurable: Vec<PluginInfo> = match &plugins {
        Load::Ready(l) => l
            .plugins
            .iter()
            .filter(|p| matches!(p.kind, Some(PluginKind::Storage | PluginKind::Notifier)))
            .cloned()
            .collect(),
        _ => Vec::new(),
    };
    html! {
        <section class="page" data-page="plugins">
            <h1>{ "Plugins" }</h1>
            <p class="muted">{ "Plugins run as sandboxed WebAssembly: each gets only what is listed under “May touch”." }</p>
            <div id="storage-test-result">{ flash_view(&flash) }</div>
            { plugin_table }
            { if admin { html!{ <super::plugin_install::InstallPanel onchange={reload_all.clone()} /> } } else { html!{} } }
            <h2>{ "Storage" }</h2>
            { storage_table }
            <h2>{ "Notifications" }</h2>
            <div id="notify-test-result">{ flash_view(&nflash) }</div>
            { notifier_table }
            { if admin { html!{ <Instances plugins={configurable} onchange={reload_all} /> } } else { html!{} } }
        </section>
    }
}

#[derive(Properties, PartialEq)]
struct InstancesProps {
    plugins: Vec<PluginInfo>,
    onchange: Callback<()>,
}

/// The configured instances and the form that adds or edits one.
#[function_component(Instances)]
fn instances(props: &InstancesProps) -> Html {
    let ctx = use_ws();
    let (list, reload) = use_call::<PluginsInstances>(Empty {});
    let flash: Flash = use_state(|| None);
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
    let onremove = {
        let (ws, flash, reload, onchange) = (
            ctx.ws.clone(),
            flash.clone(),
            reload.clone(),
            props.onchange.clone(),
        );
        Callback::from(move |name: String| {
            if !confirm(&format!(
                "Remove the instance {name}? Its settings and secrets are deleted."
            )) {
                return;
            }
            let ws = ws.clone();
            act(
                &flash,
                vec![reload.clone(), onchange.clone()],
                move || async move {
                    ws.call_m::<PluginsUnconfigure>(InstanceRef { name: name.clone() })
                        .await
                        .map(|_| format!("Removed {name}."))
                },
            );
        })
    };
    let onsaved = {
        let (flash, reload, onchange, editing, chosen) = (
            flash.clone(),
            reload.clone(),
            props.onchange.clone(),
            editing.clone(),
            chosen.clone(),
        );
        Callback::from(move |r: Result<PluginInstance, ErrorBody>| {
            flash.set(Some(r.map(|i| {
                editing.set(None);
                chosen.set(None);
                format!("Saved {}.", i.name)
            })));
            reload.emit(());
            onchange.emit(());
        })
    };
    let table = match &list {
        Load::Loading => html! { <p>{ "Loading…" }</p> },
        Load::Failed(e) => error_view(e),
        Load::Ready(l) if l.instances.is_empty() => {
            html! { <p class="muted">{ "No configured instances." }</p> }
        }
        Load::Ready(l) => html! {
            <table class="grid" id="instances-table">
                <thead><tr><th>{ "Instance" }</th><th>{ "Plugin" }</th><th>{ "Settings" }</th><th>{ "Secrets" }</th><th>{ "May reach" }</th><th></th></tr></thead>
                <tbody>
                { for l.instances.iter().map(|i| {
                    let (onedit, onremove) = (onedit.clone(), onremove.clone());
                    let (inst, name) = (i.clone(), i.name.clone());
                    let settings = match &i.config {
                        Value::Object(m) if !m.is_empty() => m.iter().map(|(k, v)| format!("{k}: {}", v.as_str().map_or_else(|| v.to_string(), str::to_owned))).collect::<Vec<_>>().join(", "),
                        _ => i.path.clone().unwrap_or_default(),
                    };
                    html! {
                    <tr data-name={i.name.clone()}>
                        <td>{ &i.name }</td>
                        <td>{ &i.plugin }</td>
                        <td class="mono">{ settings }</td>
                        <td>{ if i.secrets_set.is_empty() { "—".to_owned() } else { format!("{} (set)", i.secrets_set.join(", ")) } }</td>
                        <td class="mono">{ i.egress.join(", ") }{ if i.allow_private { " + private networks" } else { "" } }</td>
                        <td>
                            <button class="small instance-edit" onclick={Callback::from(move |_| onedit.emit(inst.clone()))}>{ "Edit" }</button>
                            <button class="small danger instance-remove" onclick={Callback::from(move |_| onremove.emit(name.clone()))}>{ "Remove" }</button>
                        </td>
                    </tr>
                    }
                }) }
                </tbody>
            </table>
        },
    };
    let form = (*chosen)
        .as_ref()
        .and_then(|id| props.plugins.iter().find(|p| &p.id == id))
        .map_or_else(
            || html! {},
            |p| {
                let key = format!("{}:{}", p.id, editing.as_ref().map_or("", |e| e.name.as_str()));
                html! { <InstanceForm {key} plugin={p.clone()} editing={(*editing).clone()} onsaved={onsaved.clone()} /> }
            },
        );
    html! {
        <>
            <h2>{ "Instances" }</h2>
            <div id="instances-result">{ flash_view(&flash) }</div>
            { table }
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
            { form }
        </>
    }
}

#[derive(Properties, PartialEq)]
struct FormProps {
    plugin: PluginInfo,
    editing: Option<PluginInstance>,
    onsaved: Callback<Result<PluginInstance, ErrorBody>>,
}

/// Reads a named field of a form.
fn form_value(form: &web_sys::HtmlFormElement, name: &str) -> Option<String> {
    web_sys::FormData::new_with_form(form)
        .ok()
        .and_then(|d| d.get(name).as_string())
}

/// Turns the text of an input into the JSON the schema asks for.
fn typed(schema: &Value, text: &str) -> Result<Option<Value>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    Ok(Some(match schema.get("type").and_then(Value::as_str) {
        Some("integer") => Value::from(
            text.parse::<i64>()
                .map_err(|_| format!("{text:?} is not a whole number"))?,
        ),
        Some("number") => Value::from(
            text.parse::<f64>()
                .map_err(|_| format!("{text:?} is not a number"))?,
        ),
        Some("boolean") => Value::Bool(text == "on" || text == "true"),
        _ => Value::String(text.to_owned()),
    }))
}

/// A form rendered from the plugin's configuration schema.
#[function_component(InstanceForm)]
fn instance_form(props: &FormProps) -> Html {
    let ctx = use_ws();
    let form = use_node_ref();
    let error = use_state(|| None::<String>);
    let m = props.plugin.manifest.clone().unwrap_or_default();
    let props_schema: Map<String, Value> = m
        .config_schema
        .as_ref()
        .and_then(|s| s.get("properties"))
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let required: Vec<String> = m
        .config_schema
        .as_ref()
        .and_then(|s| s.get("required"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let editing = props.editing.clone();
    let onsubmit = {
        let (ws, form, error, onsaved, plugin) = (
            ctx.ws.clone(),
            form.clone(),
            error.clone(),
            props.onsaved.clone(),
            props.plugin.clone(),
        );
        let (props_schema, secrets, editing) =
            (props_schema.clone(), m.secrets.clone(), editing.clone());
        let has_http = !m.http.is_empty();
        let storage_dir = m.storage_dir;
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let Some(f) = form.cast::<web_sys::HtmlFormElement>() else {
                return;
            };
            let name = editing
                .as_ref()
                .map(|i| i.name.clone())
                .or_else(|| form_value(&f, "name"))
                .unwrap_or_default();
            let mut config = Map::new();
            let mut secret_values = BTreeMap::new();
            for (field, s) in &props_schema {
                let text = form_value(&f, &format!("cfg.{field}")).unwrap_or_default();
                let v = match typed(s, &text) {
                    Ok(v) => v,
                    Err(msg) => {
                        error.set(Some(format!("{field}: {msg}")));
                        return;
                    }
                };
                let v = match (v, s.get("type").and_then(Value::as_str)) {
                    (None, Some("boolean")) => Some(Value::Bool(false)),
                    (v, _) => v,
                };
                match v {
                    // An empty secret keeps the stored one.
                    Some(Value::String(t)) if secrets.contains(field) => {
                        secret_values.insert(field.clone(), Some(t));
                    }
                    Some(v) => {
                        config.insert(field.clone(), v);
                    }
                    None => {}
                }
            }
            let egress: Vec<String> = if has_http {
                form_value(&f, "egress")
                    .unwrap_or_default()
                    .split([',', ' ', '\n'])
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            } else {
                Vec::new()
            };
            let p = ConfigureInstance {
                plugin: plugin.id.clone(),
                name,
                config: Value::Object(config),
                secrets: secret_values,
                egress,
                allow_private: has_http && form_value(&f, "allow_private").is_some(),
                path: if storage_dir {
                    form_value(&f, "path")
                        .map(|s| s.trim().to_owned())
                        .filter(|s| !s.is_empty())
                } else {
                    None
                },
            };
            error.set(None);
            let (ws, onsaved) = (ws.clone(), onsaved.clone());
            wasm_bindgen_futures::spawn_local(async move {
                onsaved.emit(ws.call_m::<PluginsConfigure>(p).await);
            });
        })
    };
    let field = |(name, s): (&String, &Value)| {
        let title = s
            .get("title")
            .and_then(Value::as_str)
            .unwrap_or(name)
            .to_owned();
        let help = s
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let current = editing
            .as_ref()
            .and_then(|i| i.config.get(name))
            .cloned()
            .or_else(|| s.get("default").cloned());
        let current_text = current
            .as_ref()
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
            .unwrap_or_default();
        let input_name = format!("cfg.{name}");
        let is_secret = m.secrets.contains(name);
        let secret_set = editing
            .as_ref()
            .is_some_and(|i| i.secrets_set.contains(name));
        let req = required.contains(name);
        let input = if let Some(options) = s.get("enum").and_then(Value::as_array) {
            html! {
                <select name={input_name}>
                    { for options.iter().map(|o| {
                        let t = o.as_str().map_or_else(|| o.to_string(), str::to_owned);
                        html!{ <option value={t.clone()} selected={t == current_text}>{ t.clone() }</option> }
                    }) }
                </select>
            }
        } else if s.get("type").and_then(Value::as_str) == Some("boolean") {
            html! { <input type="checkbox" name={input_name} checked={current == Some(Value::Bool(true))} /> }
        } else if is_secret {
            // Never filled back: the server does not send secrets.
            let placeholder = if secret_set {
                "set — leave empty to keep"
            } else {
                ""
            };
            html! { <input type="password" name={input_name} autocomplete="off" {placeholder} /> }
        } else {
            let kind = match s.get("type").and_then(Value::as_str) {
                Some("integer" | "number") => "number",
                _ if s.get("format").and_then(Value::as_str) == Some("uri") => "url",
                _ => "text",
            };
            html! { <input type={kind} name={input_name} value={current_text} required={req} /> }
        };
        html! {
            <label class="field" data-field={name.clone()}>
                <span>{ title }{ if req { " *" } else { "" } }</span>
                { input }
                { if help.is_empty() { html!{} } else { html!{ <small class="muted">{ help }</small> } } }
            </label>
        }
    };
    let title = match &editing {
        Some(i) => format!("Edit {}", i.name),
        None => format!("New {} instance", m.name),
    };
    html! {
        <form class="card" id="instance-form" ref={form} {onsubmit}>
            <h3>{ title }</h3>
            { if editing.is_none() { html!{
                <label class="field"><span>{ "Name *" }</span>
                    <input name="name" required=true placeholder="e.g. ops-alerts" /></label>
            } } else { html!{} } }
            { for props_schema.iter().map(field) }
            { if m.storage_dir { html!{
                <label class="field"><span>{ "Directory on the host" }</span>
                    <input name="path" value={editing.as_ref().and_then(|i| i.path.clone()).unwrap_or_default()}
                        placeholder="/mnt/backups (default: a directory in Berth's data dir)" />
                    <small class="muted">{ "An absolute path; Berth creates it. The plugin sees only this directory." }</small></label>
            } } else { html!{} } }
            { if m.http.is_empty() { html!{} } else { html!{ <>
                <label class="field"><span>{ "May reach" }</span>
                    <input name="egress" value={editing.as_ref().map(|i| i.egress.join(", ")).unwrap_or_default()}
                        placeholder="default: the URL's origin, e.g. https://ntfy.sh:443" />
                    <small class="muted">{ format!("Origins (scheme://host:port) this instance may send to, within {}.", m.http.join(", ")) }</small></label>
                <label class="check"><input type="checkbox" name="allow_private" checked={editing.as_ref().is_some_and(|i| i.allow_private)} />
                    { " Allow private and loopback addresses (a service on your LAN)" }</label>
            </> } } }
            { error.as_ref().map_or_else(|| html!{}, |e| html!{ <p class="error" role="alert">{ e }</p> }) }
            <button type="submit" class="primary">{ "Save" }</button>
        </form>
    }
}
