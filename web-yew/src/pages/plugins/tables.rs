//! The plugins, storage and notifier tables, and what an admin does from them.

use berth_protocol::api::catalogue::{
    NotificationsTest, PluginsDisable, PluginsEnable, PluginsUninstall, StorageAbortUploads,
    StorageSetDefault, StorageTest, StorageUploads,
};
use berth_protocol::api::plugins::{
    AbortUploads, InstanceRef, NotifierList, PluginInfo, PluginKind, PluginList, PluginRef,
    StorageInstances, StorageRef,
};
use yew::prelude::*;

use super::{health, kind};
use crate::components::{Question, run_confirmed};
use crate::format::when;
use crate::hooks::Action;

/// A button's callback that runs `f` with the action and a name.
fn on(action: &Action, name: &str, f: fn(&Action, String)) -> Callback<MouseEvent> {
    let (action, name) = (action.clone(), name.to_owned());
    Callback::from(move |_| f(&action, name.clone()))
}

pub fn plugins(l: &PluginList, action: &Action, admin: bool) -> Html {
    html! {
        <table class="grid" id="plugins-table">
            <thead><tr><th>{ "Plugin" }</th><th>{ "Kind" }</th><th>{ "Health" }</th><th>{ "May touch" }</th><th>{ "sha256" }</th><th></th></tr></thead>
            <tbody>{ for l.plugins.iter().map(|p| plugin_row(p, action, admin)) }</tbody>
        </table>
    }
}

fn plugin_row(p: &PluginInfo, action: &Action, admin: bool) -> Html {
    let title = p
        .manifest
        .as_ref()
        .map(|m| format!("{} {}", m.name, m.version));
    let toggle = if p.enabled { disable } else { enable };
    html! {
        <tr data-id={p.id.clone()}>
            <td>{ &p.id }if p.builtin { <span class="muted">{ " (built in)" }</span> }
                if let Some(t) = title { <div class="muted">{ t }</div> }
                if !p.enabled { <span class="badge warn">{ "disabled" }</span> }</td>
            <td>{ kind(p.kind) }</td>
            <td class="health">{ health(p.health) }
                if let Some(m) = &p.message { <div class="muted">{ m }</div> }</td>
            <td>{ p.capabilities.join("; ") }</td>
            <td class="mono">{ p.sha256.as_deref().map(|s| s.chars().take(12).collect::<String>()).unwrap_or_default() }</td>
            <td>
                if admin && p.kind != Some(PluginKind::Base) {
                    <button class="small plugin-toggle" onclick={on(action, &p.id, toggle)}>{ if p.enabled { "Disable" } else { "Enable" } }</button>
                }
                if admin && !p.builtin {
                    <button class="small danger plugin-uninstall" onclick={on(action, &p.id, uninstall)}>{ "Uninstall" }</button>
                }
            </td>
        </tr>
    }
}

fn enable(action: &Action, id: String) {
    action.run(move |ws| async move {
        ws.call_m::<PluginsEnable>(PluginRef { id: id.clone() })
            .await?;
        Ok(format!("Plugin {id} enabled."))
    });
}

fn disable(action: &Action, id: String) {
    action.run(move |ws| async move {
        ws.call_m::<PluginsDisable>(PluginRef { id: id.clone() })
            .await?;
        Ok(format!("Plugin {id} disabled."))
    });
}

fn uninstall(action: &Action, id: String) {
    let question = Question::new(format!("Uninstall the plugin {id}?"), "Uninstall")
        .detail("Its files are deleted; install it again to use it.")
        .danger();
    run_confirmed(action, question, move |ws| async move {
        ws.call_m::<PluginsUninstall>(PluginRef { id: id.clone() })
            .await?;
        Ok(format!("Plugin {id} uninstalled."))
    });
}

pub fn storage(l: &StorageInstances, action: &Action, admin: bool, busy: bool) -> Html {
    html! {
        <table class="grid" id="storage-table">
            <thead><tr><th>{ "Instance" }</th><th>{ "Plugin" }</th><th>{ "Where" }</th><th></th></tr></thead>
            <tbody>
            { for l.storage.iter().map(|s| html! {
                <tr data-name={s.name.clone()}>
                    <td>{ &s.name }if s.default { <span class="badge">{ "default" }</span> }</td>
                    <td>{ &s.plugin }</td>
                    <td class="mono">{ &s.location }</td>
                    <td>if admin {
                        <button class="small storage-test" disabled={busy} onclick={on(action, &s.name, test_storage)}>{ "Test" }</button>
                        <button class="small storage-uploads" disabled={busy} onclick={on(action, &s.name, list_uploads)}>{ "Incomplete uploads" }</button>
                        <button class="small danger storage-abort-uploads" disabled={busy} onclick={on(action, &s.name, abort_uploads)}>{ "Abort stale uploads" }</button>
                        if !s.default {
                            <button class="small storage-default" onclick={on(action, &s.name, make_default)}>{ "Make default" }</button>
                        }
                    }</td>
                </tr>
            }) }
            </tbody>
        </table>
    }
}

fn test_storage(action: &Action, name: String) {
    action.run(move |ws| async move {
        let r = ws
            .call_m::<StorageTest>(StorageRef { name: Some(name) })
            .await?;
        Ok(format!(
            "Storage {} works: {} KiB written in {:.1} ms, read back in {:.1} ms ({:.1} ms in all).",
            r.name,
            r.bytes / 1024,
            r.write_ms,
            r.read_ms,
            r.total_ms
        ))
    });
}

fn list_uploads(action: &Action, name: String) {
    action.run(move |ws| async move {
        let r = ws
            .call_m::<StorageUploads>(StorageRef { name: Some(name) })
            .await?;
        Ok(match (r.supported, r.uploads.first()) {
            (false, _) => format!(
                "Storage {} cannot tell: its plugin predates incomplete-upload listing.",
                r.name
            ),
            (true, None) => format!("Storage {} holds no incomplete uploads.", r.name),
            (true, Some(oldest)) => format!(
                "Storage {} holds {} incomplete upload(s), the oldest begun {}: {}.",
                r.name,
                r.uploads.len(),
                when(oldest.started_ms),
                r.uploads
                    .iter()
                    .take(5)
                    .map(|u| u.key.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })
    });
}

fn abort_uploads(action: &Action, name: String) {
    let question = Question::new(
        format!("Abort the incomplete uploads of {name} begun over 24 hours ago?"),
        "Abort uploads",
    )
    .detail("Their stored parts are deleted; no backup is touched.")
    .danger();
    run_confirmed(action, question, move |ws| async move {
        let params = AbortUploads {
            name: Some(name),
            older_than_hours: None,
        };
        let r = ws.call_m::<StorageAbortUploads>(params).await?;
        Ok(format!(
            "Aborted {} incomplete upload(s) on {}.",
            r.aborted, r.name
        ))
    });
}

fn make_default(action: &Action, name: String) {
    action.run(move |ws| async move {
        ws.call_m::<StorageSetDefault>(InstanceRef { name: name.clone() })
            .await?;
        Ok(format!("Backups now go to {name} by default."))
    });
}

pub fn notifiers(l: &NotifierList, action: &Action, admin: bool, busy: bool) -> Html {
    if l.notifiers.is_empty() {
        return html! {
            <p class="muted" id="notifiers-empty">{ "No notifiers yet. An admin adds one below (webhook, ntfy, Discord, Slack, Gotify)." }</p>
        };
    }
    html! {
        <table class="grid" id="notifiers-table">
            <thead><tr><th>{ "Instance" }</th><th>{ "Plugin" }</th><th>{ "Health" }</th><th></th></tr></thead>
            <tbody>
            { for l.notifiers.iter().map(|n| html! {
                <tr data-name={n.name.clone()}>
                    <td>{ &n.name }if !n.enabled { <span class="badge warn">{ "disabled" }</span> }</td>
                    <td>{ &n.plugin }</td>
                    <td>{ health(n.health) }</td>
                    <td>if admin {
                        <button class="small notifier-test" disabled={busy} onclick={on(action, &n.name, send_test)}>{ "Send test" }</button>
                    }</td>
                </tr>
            }) }
            </tbody>
        </table>
    }
}

fn send_test(action: &Action, name: String) {
    action.run(move |ws| async move {
        let r = ws.call_m::<NotificationsTest>(InstanceRef { name }).await?;
        let tries = if r.attempts == 1 {
            String::new()
        } else {
            format!(" after {} attempts", r.attempts)
        };
        Ok(format!(
            "Test notification sent through {}{tries} ({:.0} ms).",
            r.name, r.total_ms
        ))
    });
}
