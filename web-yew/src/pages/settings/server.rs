//! The server's run-time settings (`settings.get|update`): how many jobs run at once,
//! how long the audit log is kept, the shortest password accepted. Each says whether it
//! was changed here or comes from the server's configuration, to which it can return.

use berth_protocol::api::Empty;
use berth_protocol::api::catalogue::{SettingsGet, SettingsUpdate};
use berth_protocol::api::settings::{Settings, SettingsUpdate as Update};
use yew::prelude::*;

use crate::components::loaded;
use crate::hooks::{Action, on_text, use_action, use_call, use_text};

/// One number the form edits: the setting's name, its label, and its bounds.
struct Field {
    name: &'static str,
    label: &'static str,
    range: (u32, u32),
    current: fn(&Settings) -> u32,
}

const FIELDS: [Field; 3] = [
    Field {
        name: "job_concurrency",
        label: "Jobs at once",
        range: (1, 8),
        current: |s| s.job_concurrency,
    },
    Field {
        name: "audit_retention_days",
        label: "Keep the audit log (days)",
        range: (1, 3650),
        current: |s| s.audit_retention_days,
    },
    Field {
        name: "password_min_length",
        label: "Shortest password (characters)",
        range: (10, 128),
        current: |s| s.password_min_length,
    },
];

#[function_component(ServerSettings)]
pub fn server_settings() -> Html {
    let (settings, reload) = use_call::<SettingsGet>(Empty {});
    let action = use_action(reload);
    let values = [use_text(), use_text(), use_text()];
    {
        // The form starts on the values in force, and again after each change.
        let values = values.clone();
        use_effect_with(settings.ready().cloned(), move |loaded| {
            if let Some(s) = loaded {
                for (field, value) in FIELDS.iter().zip(&values) {
                    value.set((field.current)(s).to_string());
                }
            }
        });
    }
    let onsubmit = {
        let (action, values, settings) = (action.clone(), values.clone(), settings.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            if let Some(s) = settings.ready() {
                save(&action, s, &values);
            }
        })
    };
    let body = loaded(&settings, |s| {
        html! {
            <form class="settings-form" id="server-settings-form" {onsubmit}>
                { for FIELDS.iter().zip(&values).map(|(field, value)| field_view(field, value, s, &action)) }
                <button type="submit" id="server-settings-save" disabled={action.busy()}>{ "Save" }</button>
            </form>
        }
    });
    html! {
        <div class="card" id="settings-server">
            <h2>{ "Server" }</h2>
            <p class="muted">{ "Changes apply at once and outlive restarts; \"Use configured\" returns a setting to the server's flags or environment." }</p>
            { body }
            <div id="server-settings-result">{ action.view() }</div>
        </div>
    }
}

fn field_view(
    field: &Field,
    value: &UseStateHandle<String>,
    s: &Settings,
    action: &Action,
) -> Html {
    let changed = s.changed.iter().any(|c| c == field.name);
    let reset = {
        let (action, name) = (action.clone(), field.name);
        Callback::from(move |_: MouseEvent| {
            action.run(move |ws| async move {
                let update = Update {
                    reset: vec![name.to_owned()],
                    ..Default::default()
                };
                ws.call_m::<SettingsUpdate>(update).await?;
                Ok(format!("{name} returned to the server's configuration."))
            });
        })
    };
    html! {
        <label class="field" data-setting={field.name}>{ format!("{} ({}–{}) ", field.label, field.range.0, field.range.1) }
            <input id={format!("setting-{}", field.name)} type="number" min={field.range.0.to_string()} max={field.range.1.to_string()}
                value={(**value).clone()} oninput={on_text(value)} />
            if changed {
                <span class="badge">{ "changed here" }</span>
                <button type="button" class="small settings-reset" onclick={reset}>{ "Use configured" }</button>
            } else {
                <span class="muted">{ "from the configuration" }</span>
            }
        </label>
    }
}

/// Sends the fields that differ from the settings in force.
fn save(action: &Action, current: &Settings, values: &[UseStateHandle<String>; 3]) {
    let mut update = Update::default();
    for (field, value) in FIELDS.iter().zip(values) {
        let Ok(number) = value.trim().parse::<u32>() else {
            action.fail_local(format!("{}: a whole number, please", field.label));
            return;
        };
        if number == (field.current)(current) {
            continue;
        }
        match field.name {
            "job_concurrency" => update.job_concurrency = Some(number),
            "audit_retention_days" => update.audit_retention_days = Some(number),
            _ => update.password_min_length = Some(number),
        }
    }
    action.run(move |ws| async move {
        let s = ws.call_m::<SettingsUpdate>(update).await?;
        Ok(format!(
            "Saved: {} job(s) at once, audit kept {} days, passwords of {}+ characters.",
            s.job_concurrency, s.audit_retention_days, s.password_min_length
        ))
    });
}
