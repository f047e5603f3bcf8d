//! Plugins: every plugin with its kind, health and what it may touch (admins enable
//! and disable them); the storage instances (test, make default); the notifiers
//! (test); and, for admins, the configured instances with a form per plugin rendered
//! from the plugin's configuration schema.

mod install;
mod instance_form;
mod instances;
mod tables;

use berth_protocol::api::Empty;
use berth_protocol::api::catalogue::{NotificationsList, PluginsList, StorageList};
use berth_protocol::api::plugins::{PluginHealth, PluginInfo, PluginKind};
use berth_protocol::role::Role;
use yew::prelude::*;

use crate::components::loaded;
use crate::hooks::{use_action, use_call};
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

#[function_component(PluginsPage)]
pub fn plugins_page() -> Html {
    let ctx = use_ws();
    let admin = ctx.user().is_some_and(|u| u.role.allows(Role::Admin));
    let (plugins, reload) = use_call::<PluginsList>(Empty {});
    let (storage, reload_storage) = use_call::<StorageList>(Empty {});
    let (notifiers, reload_notifiers) = use_call::<NotificationsList>(Empty {});
    let reload_all = Callback::from(move |()| {
        reload.emit(());
        reload_storage.emit(());
        reload_notifiers.emit(());
    });
    let action = use_action(reload_all.clone());
    // Notifier tests report under their own table.
    let notify_action = use_action(reload_all.clone());
    let busy = action.busy() || notify_action.busy();
    let configurable: Vec<PluginInfo> = plugins
        .ready()
        .map(|l| {
            l.plugins
                .iter()
                .filter(|p| matches!(p.kind, Some(PluginKind::Storage | PluginKind::Notifier)))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    html! {
        <section class="page" data-page="plugins">
            <h1>{ "Plugins" }</h1>
            <p class="muted">{ "Plugins run as sandboxed WebAssembly: each gets only what is listed under “May touch”." }</p>
            <div id="storage-test-result">{ action.view() }</div>
            { loaded(&plugins, |l| tables::plugins(l, &action, admin)) }
            if admin { <install::InstallPanel onchange={reload_all.clone()} /> }
            <h2>{ "Storage" }</h2>
            { loaded(&storage, |l| tables::storage(l, &action, admin, busy)) }
            <h2>{ "Notifications" }</h2>
            <div id="notify-test-result">{ notify_action.view() }</div>
            { loaded(&notifiers, |l| tables::notifiers(l, &notify_action, admin, busy)) }
            if admin { <instances::Instances plugins={configurable} onchange={reload_all} /> }
        </section>
    }
}
