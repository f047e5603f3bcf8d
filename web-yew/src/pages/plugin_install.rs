//! Installing a third-party plugin: pick a package, upload it on a ticket, review what
//! it asks for (each capability ticked by the admin), install.

use std::collections::BTreeSet;

use berth_protocol::api::Empty;
use berth_protocol::api::catalogue::{PluginsInstall, PluginsUploadTicket};
use berth_protocol::api::plugins::{InstallPlugin, StagedPlugin};
use berth_protocol::auth::HttpError;
use berth_protocol::error::{ErrorBody, ErrorCode};
use yew::prelude::*;

use super::{Flash, flash_view};
use crate::ws::use_ws;

#[derive(Properties, PartialEq)]
pub struct InstallProps {
    /// After an install, so the plugin list reloads.
    pub onchange: Callback<()>,
}

fn failed(m: impl Into<String>) -> ErrorBody {
    ErrorBody::new(ErrorCode::BadRequest, m.into())
}

/// Uploads the chosen file on a fresh ticket; the staged package or why not.
async fn stage(ws: &crate::ws::Ws, file: web_sys::File) -> Result<StagedPlugin, ErrorBody> {
    let t = ws.call_m::<PluginsUploadTicket>(Empty {}).await?;
    let (status, text) = crate::http::put_file(&t.url, &file).await.map_err(failed)?;
    if status == 200 {
        serde_json::from_str(&text).map_err(|e| failed(e.to_string()))
    } else {
        Err(serde_json::from_str::<HttpError>(&text)
            .map(|e| e.error)
            .unwrap_or_else(|_| failed(format!("upload failed: HTTP {status}"))))
    }
}

#[function_component(InstallPanel)]
pub fn install_panel(props: &InstallProps) -> Html {
    let ctx = use_ws();
    let flash: Flash = use_state(|| None);
    let staged = use_state(|| None::<StagedPlugin>);
    let ticked = use_state(BTreeSet::<String>::new);
    let busy = use_state(|| false);
    let input = use_node_ref();

    let onupload = {
        let (ws, flash, staged, ticked, busy, input) = (
            ctx.ws.clone(),
            flash.clone(),
            staged.clone(),
            ticked.clone(),
            busy.clone(),
            input.clone(),
        );
        Callback::from(move |_| {
            let Some(file) = input
                .cast::<web_sys::HtmlInputElement>()
                .and_then(|i| i.files())
                .and_then(|f| f.get(0))
            else {
                flash.set(Some(Err(failed(
                    "Choose a package file (.tar or .tar.gz) first.",
                ))));
                return;
            };
            let (ws, flash, staged, ticked, busy) = (
                ws.clone(),
                flash.clone(),
                staged.clone(),
                ticked.clone(),
                busy.clone(),
            );
            busy.set(true);
            wasm_bindgen_futures::spawn_local(async move {
                let r = stage(&ws, file).await;
                busy.set(false);
                ticked.set(BTreeSet::new());
                match r {
                    Ok(s) => {
                        flash.set(None);
                        staged.set(Some(s));
                    }
                    Err(e) => {
                        staged.set(None);
                        flash.set(Some(Err(e)));
                    }
                }
            });
        })
    };
    let oninstall = {
        let (ws, flash, staged, ticked, busy, onchange) = (
            ctx.ws.clone(),
            flash.clone(),
            staged.clone(),
            ticked.clone(),
            busy.clone(),
            props.onchange.clone(),
        );
        Callback::from(move |_| {
            let Some(s) = (*staged).clone() else { return };
            let (ws, flash, staged, busy, onchange) = (
                ws.clone(),
                flash.clone(),
                staged.clone(),
                busy.clone(),
                onchange.clone(),
            );
            let approve: Vec<String> = ticked.iter().cloned().collect();
            busy.set(true);
            wasm_bindgen_futures::spawn_local(async move {
                let r = ws
                    .call_m::<PluginsInstall>(InstallPlugin {
                        staged: s.staged.clone(),
                        approve,
                    })
                    .await;
                busy.set(false);
                if r.is_ok() {
                    staged.set(None);
                    onchange.emit(());
                }
                flash.set(Some(r.map(|p| {
                    let v = p.manifest.map(|m| m.version).unwrap_or_default();
                    format!("Installed {} {v}. Add an instance of it below.", p.id)
                })));
            });
        })
    };

    let review = match &*staged {
        None => html! {},
        Some(s) => {
            let all_ticked = s.needs_approval.iter().all(|k| ticked.contains(k));
            html! {
            <div class="card" id="plugin-review">
                <h3>{ format!("{} {}", s.manifest.name, s.manifest.version) }
                    <span class="muted">{ format!(" ({}, {:?})", s.id, s.kind).to_lowercase() }</span></h3>
                { if s.manifest.description.is_empty() { html!{} } else { html!{ <p>{ &s.manifest.description }</p> } } }
                { s.installed_version.as_ref().map_or_else(|| html!{}, |v| html!{
                    <p class="notice">{ format!("Upgrades the installed version {v}.") }</p>
                }) }
                <p class="muted mono">{ format!("sha256 {}", s.sha256) }</p>
                <p>{ format!("Limits: {} MiB memory, {} ms per call.", s.manifest.memory_mib, s.manifest.call_timeout_ms) }</p>
                { if s.capabilities.is_empty() { html!{ <p>{ "It asks for nothing: no files, no network, no secrets." }</p> } } else { html!{
                <ul class="capabilities">
                { for s.capabilities.iter().map(|c| {
                    let needs = s.needs_approval.contains(&c.key);
                    let key = c.key.clone();
                    let onchange = {
                        let (ticked, key) = (ticked.clone(), key.clone());
                        Callback::from(move |e: Event| {
                            let on = e.target_unchecked_into::<web_sys::HtmlInputElement>().checked();
                            let mut t = (*ticked).clone();
                            if on { t.insert(key.clone()); } else { t.remove(&key); }
                            ticked.set(t);
                        })
                    };
                    html! {
                    <li>
                        { if needs { html!{
                            <label><input type="checkbox" class="approve" data-key={key.clone()}
                                checked={ticked.contains(&key)} onchange={onchange} />
                                { " " }{ &c.description }</label>
                        } } else { html!{ <span>{ "✓ " }{ &c.description }<span class="muted">{ " (approved before)" }</span></span> } } }
                    </li>
                    }
                }) }
                </ul>
                } } }
                <button id="plugin-install" disabled={*busy || !all_ticked} onclick={oninstall}>
                    { if s.installed_version.is_some() { "Approve and upgrade" } else { "Approve and install" } }</button>
                { if all_ticked { html!{} } else { html!{ <span class="muted">{ " Tick every capability to approve it." }</span> } } }
            </div>
            }
        }
    };
    html! {
        <div id="plugin-install-panel">
            <h2>{ "Install a plugin" }</h2>
            <p class="muted">{ "A package is a .tar (or .tar.gz) of plugin.toml and the component it names; see docs/plugins.md. Nothing runs before you approve what it asks for." }</p>
            <input type="file" id="plugin-package" accept=".tar,.tgz,.gz,application/x-tar,application/gzip" ref={input} />
            <button id="plugin-upload" disabled={*busy} onclick={onupload}>{ "Upload and review" }</button>
            <div id="plugin-install-result">{ flash_view(&flash) }</div>
            { review }
        </div>
    }
}
