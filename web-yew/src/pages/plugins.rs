//! Plugins: every plugin with its kind, health and what it may touch; the storage
//! instances, with a round-trip test (admins).

use berth_protocol::api::Empty;
use berth_protocol::api::catalogue::{PluginsList, StorageList, StorageTest};
use berth_protocol::api::plugins::{PluginHealth, PluginKind, StorageRef};
use berth_protocol::role::Role;
use yew::prelude::*;

use super::{Flash, Load, error_view, flash_view, use_call};
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
    let (storage, _) = use_call::<StorageList>(Empty {});
    let flash: Flash = use_state(|| None);
    let testing = use_state(|| false);
    let ontest = {
        let (ws, flash, testing, reload) = (
            ctx.ws.clone(),
            flash.clone(),
            testing.clone(),
            reload.clone(),
        );
        Callback::from(move |name: String| {
            let (ws, flash, testing, reload) =
                (ws.clone(), flash.clone(), testing.clone(), reload.clone());
            testing.set(true);
            wasm_bindgen_futures::spawn_local(async move {
                let r = ws
                    .call_m::<StorageTest>(StorageRef { name: Some(name) })
                    .await;
                flash.set(Some(r.map(|r| {
                    format!(
                        "Storage {} works: {} KiB written in {:.1} ms, read back in {:.1} ms ({:.1} ms in all).",
                        r.name,
                        r.bytes / 1024,
                        r.write_ms,
                        r.read_ms,
                        r.total_ms
                    )
                })));
                testing.set(false);
                // The test may change a plugin's health.
                reload.emit(());
            });
        })
    };
    let plugin_table = match &plugins {
        Load::Loading => html! { <p>{ "Loading…" }</p> },
        Load::Failed(e) => error_view(e),
        Load::Ready(l) => html! {
            <table class="grid" id="plugins-table">
                <thead><tr><th>{ "Plugin" }</th><th>{ "Kind" }</th><th>{ "Health" }</th><th>{ "May touch" }</th><th>{ "sha256" }</th></tr></thead>
                <tbody>
                { for l.plugins.iter().map(|p| html! {
                    <tr data-id={p.id.clone()}>
                        <td>{ &p.id }{ if p.builtin { html!{ <span class="muted">{ " (built in)" }</span> } } else { html!{} } }</td>
                        <td>{ kind(p.kind) }</td>
                        <td class="health">{ health(p.health) }
                            { p.message.as_ref().map_or_else(|| html!{}, |m| html!{ <div class="muted">{ m }</div> }) }</td>
                        <td>{ p.capabilities.join("; ") }</td>
                        <td class="mono">{ p.sha256.as_deref().map(|s| s.chars().take(12).collect::<String>()).unwrap_or_default() }</td>
                    </tr>
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
                    let ontest = ontest.clone();
                    let name = s.name.clone();
                    html! {
                    <tr data-name={s.name.clone()}>
                        <td>{ &s.name }{ if s.default { html!{ <span class="badge">{ "default" }</span> } } else { html!{} } }</td>
                        <td>{ &s.plugin }</td>
                        <td class="mono">{ &s.location }</td>
                        <td>{ if admin { html!{
                            <button class="small storage-test" disabled={*testing}
                                onclick={Callback::from(move |_| ontest.emit(name.clone()))}>{ "Test" }</button>
                        } } else { html!{} } }</td>
                    </tr>
                    }
                }) }
                </tbody>
            </table>
        },
    };
    html! {
        <section class="page" data-page="plugins">
            <h1>{ "Plugins" }</h1>
            <p class="muted">{ "Plugins run as sandboxed WebAssembly: each gets only what is listed under “May touch”." }</p>
            { plugin_table }
            <h2>{ "Storage" }</h2>
            <div id="storage-test-result">{ flash_view(&flash) }</div>
            { storage_table }
        </section>
    }
}
