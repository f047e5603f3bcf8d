//! A plugin instance's form, rendered from the plugin's configuration schema. The
//! values live in component state (field name → text), so what is sent is what the
//! user sees.

use std::collections::BTreeMap;

use berth_protocol::api::catalogue::PluginsConfigure;
use berth_protocol::api::plugins::{
    ConfigureInstance, PluginInfo, PluginInstance, PluginManifestInfo,
};
use berth_protocol::error::ErrorBody;
use serde_json::{Map, Value};
use yew::prelude::*;

use crate::hooks::{on_check, on_text, use_flag};
use crate::ws::use_ws;

#[derive(Properties, PartialEq)]
pub struct FormProps {
    pub plugin: PluginInfo,
    pub editing: Option<PluginInstance>,
    pub onsaved: Callback<Result<PluginInstance, ErrorBody>>,
}

/// The schema's properties and which of them are required.
struct Schema {
    properties: Map<String, Value>,
    required: Vec<String>,
}

impl Schema {
    fn of(m: &PluginManifestInfo) -> Self {
        let schema = m.config_schema.as_ref();
        let properties = schema
            .and_then(|s| s.get("properties"))
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let required = schema
            .and_then(|s| s.get("required"))
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        Self {
            properties,
            required,
        }
    }
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

fn text_of(v: &Value) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_owned)
}

/// What each field shows first: the instance's value, else the schema's default; a
/// list starts on its first choice, a checkbox is `on` or empty, a secret is empty.
fn initial(
    schema: &Schema,
    m: &PluginManifestInfo,
    editing: Option<&PluginInstance>,
) -> BTreeMap<String, String> {
    let mut values = BTreeMap::new();
    for (name, s) in &schema.properties {
        let current = editing
            .and_then(|i| i.config.get(name))
            .cloned()
            .or_else(|| s.get("default").cloned());
        let text = if m.secrets.contains(name) {
            String::new()
        } else if s.get("type").and_then(Value::as_str) == Some("boolean") {
            if current == Some(Value::Bool(true)) {
                "on".to_owned()
            } else {
                String::new()
            }
        } else {
            let text = current.as_ref().map(text_of).unwrap_or_default();
            let first = s
                .get("enum")
                .and_then(Value::as_array)
                .and_then(|o| o.first())
                .map(text_of);
            match first {
                Some(first) if text.is_empty() => first,
                _ => text,
            }
        };
        values.insert(name.clone(), text);
    }
    values
}

/// Secret field → its new value (a field left out keeps the stored secret).
type Secrets = BTreeMap<String, Option<String>>;

/// Settings and secrets from the form's text, or the first field that does not parse.
fn collect(
    schema: &Schema,
    secrets: &[String],
    values: &BTreeMap<String, String>,
) -> Result<(Map<String, Value>, Secrets), String> {
    let mut config = Map::new();
    let mut secret_values = BTreeMap::new();
    for (field, s) in &schema.properties {
        let text = values.get(field).map_or("", String::as_str);
        let v = typed(s, text).map_err(|msg| format!("{field}: {msg}"))?;
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
    Ok((config, secret_values))
}

/// `a, b c` → `[a, b, c]`.
fn origins(text: &str) -> Vec<String> {
    text.split([',', ' ', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

#[function_component(InstanceForm)]
pub fn instance_form(props: &FormProps) -> Html {
    let ctx = use_ws();
    let m = props.plugin.manifest.clone().unwrap_or_default();
    let schema = Schema::of(&m);
    let editing = props.editing.clone();
    let values = {
        let start = initial(&schema, &m, editing.as_ref());
        use_state(move || start)
    };
    let name = use_state(String::new);
    let path = use_state(|| {
        editing
            .as_ref()
            .and_then(|i| i.path.clone())
            .unwrap_or_default()
    });
    let egress = use_state(|| {
        editing
            .as_ref()
            .map(|i| i.egress.join(", "))
            .unwrap_or_default()
    });
    let allow_private = use_flag(editing.as_ref().is_some_and(|i| i.allow_private));
    let error = use_state(|| None::<String>);
    let onsubmit = {
        let (ws, error, onsaved, plugin) = (
            ctx.ws.clone(),
            error.clone(),
            props.onsaved.clone(),
            props.plugin.id.clone(),
        );
        let (values, name, path, egress, allow_private) = (
            values.clone(),
            name.clone(),
            path.clone(),
            egress.clone(),
            allow_private.clone(),
        );
        let (m, schema_props, editing) = (m.clone(), schema.properties.clone(), editing.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let schema = Schema {
                properties: schema_props.clone(),
                required: Vec::new(),
            };
            let (config, secrets) = match collect(&schema, &m.secrets, &values) {
                Ok(c) => c,
                Err(msg) => return error.set(Some(msg)),
            };
            let has_http = !m.http.is_empty();
            let request = ConfigureInstance {
                plugin: plugin.clone(),
                name: editing
                    .as_ref()
                    .map_or_else(|| (*name).clone(), |i| i.name.clone()),
                config: Value::Object(config),
                secrets,
                egress: if has_http {
                    origins(&egress)
                } else {
                    Vec::new()
                },
                allow_private: has_http && *allow_private,
                path: if m.storage_dir {
                    Some(path.trim().to_owned()).filter(|s| !s.is_empty())
                } else {
                    None
                },
            };
            error.set(None);
            let (ws, onsaved) = (ws.clone(), onsaved.clone());
            wasm_bindgen_futures::spawn_local(async move {
                onsaved.emit(ws.call_m::<PluginsConfigure>(request).await);
            });
        })
    };
    let title = match &editing {
        Some(i) => format!("Edit {}", i.name),
        None => format!("New {} instance", m.name),
    };
    html! {
        <form class="card" id="instance-form" {onsubmit}>
            <h3>{ title }</h3>
            if editing.is_none() {
                <label class="field"><span>{ "Name *" }</span>
                    <input name="name" required=true placeholder="e.g. ops-alerts" value={(*name).clone()} oninput={on_text(&name)} /></label>
            }
            { for schema.properties.iter().map(|(field, s)| field_view(field, s, &schema, &m, editing.as_ref(), &values)) }
            if m.storage_dir {
                <label class="field"><span>{ "Directory on the host" }</span>
                    <input name="path" value={(*path).clone()} oninput={on_text(&path)}
                        placeholder="/mnt/backups (default: a directory in Berth's data dir)" />
                    <small class="muted">{ "An absolute path; Berth creates it. The plugin sees only this directory." }</small></label>
            }
            if !m.http.is_empty() {
                <label class="field"><span>{ "May reach" }</span>
                    <input name="egress" value={(*egress).clone()} oninput={on_text(&egress)}
                        placeholder="default: the URL's origin, e.g. https://ntfy.sh:443" />
                    <small class="muted">{ format!("Origins (scheme://host:port) this instance may send to, within {}.", m.http.join(", ")) }</small></label>
                <label class="check"><input type="checkbox" name="allow_private" checked={*allow_private} onchange={on_check(&allow_private)} />
                    { " Allow private and loopback addresses (a service on your LAN)" }</label>
            }
            if let Some(e) = &*error { <p class="error" role="alert">{ e }</p> }
            <button type="submit" class="primary">{ "Save" }</button>
        </form>
    }
}

/// One schema field: a list, a checkbox, a write-only secret or a text/number/URL.
fn field_view(
    name: &str,
    s: &Value,
    schema: &Schema,
    m: &PluginManifestInfo,
    editing: Option<&PluginInstance>,
    values: &UseStateHandle<BTreeMap<String, String>>,
) -> Html {
    let text = |key: &str| s.get(key).and_then(Value::as_str);
    let value = values.get(name).cloned().unwrap_or_default();
    let set = {
        let (values, name) = (values.clone(), name.to_owned());
        move |v: String| {
            let mut next = (*values).clone();
            next.insert(name.clone(), v);
            values.set(next);
        }
    };
    let input_name = format!("cfg.{name}");
    let required = schema.required.iter().any(|r| r == name);
    let input = if let Some(options) = s.get("enum").and_then(Value::as_array) {
        let onchange = Callback::from(move |e: Event| set(crate::hooks::picked(&e)));
        html! {
            <select name={input_name} {onchange}>
                { for options.iter().map(text_of).map(|t| html!{ <option value={t.clone()} selected={t == value}>{ t }</option> }) }
            </select>
        }
    } else if text("type") == Some("boolean") {
        let onchange = Callback::from(move |e: Event| {
            let on = e
                .target_unchecked_into::<web_sys::HtmlInputElement>()
                .checked();
            set(if on { "on".to_owned() } else { String::new() });
        });
        html! { <input type="checkbox" name={input_name} checked={value == "on"} {onchange} /> }
    } else {
        let oninput = Callback::from(move |e: InputEvent| {
            set(e
                .target_unchecked_into::<web_sys::HtmlInputElement>()
                .value());
        });
        if m.secrets.iter().any(|x| x == name) {
            // Never filled back: the server does not send secrets.
            let set_before = editing.is_some_and(|i| i.secrets_set.iter().any(|x| x == name));
            let placeholder = if set_before {
                "set — leave empty to keep"
            } else {
                ""
            };
            html! { <input type="password" name={input_name} autocomplete="off" {placeholder} {value} {oninput} /> }
        } else {
            let kind = match text("type") {
                Some("integer" | "number") => "number",
                _ if text("format") == Some("uri") => "url",
                _ => "text",
            };
            html! { <input type={kind} name={input_name} {value} required={required} {oninput} /> }
        }
    };
    html! {
        <label class="field" data-field={name.to_owned()}>
            <span>{ text("title").unwrap_or(name) }{ if required { " *" } else { "" } }</span>
            { input }
            if let Some(help) = text("description").filter(|h| !h.is_empty()) { <small class="muted">{ help }</small> }
        </label>
    }
}
