//! Installing a third-party plugin: pick a package, upload it on a ticket, review what
//! it asks for (each capability ticked by the admin), install.

use std::collections::BTreeSet;

use berth_protocol::api::Empty;
use berth_protocol::api::catalogue::{PluginsInstall, PluginsUploadTicket};
use berth_protocol::api::plugins::{Capability, InstallPlugin, StagedPlugin};
use berth_protocol::auth::HttpError;
use berth_protocol::error::{ErrorBody, ErrorCode};
use yew::prelude::*;

use crate::hooks::{Action, use_action};
use crate::ws::Ws;

#[derive(Properties, PartialEq)]
pub struct InstallProps {
    /// After an install, so the plugin list reloads.
    pub onchange: Callback<()>,
}

fn failed(m: impl Into<String>) -> ErrorBody {
    ErrorBody::new(ErrorCode::BadRequest, m.into())
}

/// Uploads the chosen file on a fresh ticket; the staged package or why not.
async fn stage(ws: &Ws, file: web_sys::File) -> Result<StagedPlugin, ErrorBody> {
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
    let action = use_action(Callback::noop());
    let staged = use_state(|| None::<StagedPlugin>);
    let ticked = use_state(BTreeSet::<String>::new);
    let file = use_state(|| None::<web_sys::File>);
    let onfile = {
        let file = file.clone();
        Callback::from(move |e: Event| {
            let input: web_sys::HtmlInputElement = e.target_unchecked_into();
            file.set(input.files().and_then(|f| f.get(0)));
        })
    };
    let onupload = {
        let (action, staged, ticked, file) =
            (action.clone(), staged.clone(), ticked.clone(), file.clone());
        Callback::from(move |_| {
            let Some(file) = (*file).clone() else {
                action.fail(failed("Choose a package file (.tar or .tar.gz) first."));
                return;
            };
            let (staged, ticked) = (staged.clone(), ticked.clone());
            action.spawn(move |ws, action| async move {
                let r = stage(&ws, file).await;
                ticked.set(BTreeSet::new());
                match r {
                    Ok(s) => {
                        action.clear();
                        staged.set(Some(s));
                    }
                    Err(e) => {
                        staged.set(None);
                        action.fail(e);
                    }
                }
            });
        })
    };
    html! {
        <div id="plugin-install-panel">
            <h2>{ "Install a plugin" }</h2>
            <p class="muted">{ "A package is a .tar (or .tar.gz) of plugin.toml and the component it names; see docs/plugins.md. Nothing runs before you approve what it asks for." }</p>
            <input type="file" id="plugin-package" aria-label="Plugin package" accept=".tar,.tgz,.gz,application/x-tar,application/gzip" onchange={onfile} />
            <button id="plugin-upload" disabled={action.busy()} onclick={onupload}>{ "Upload and review" }</button>
            <div id="plugin-install-result">{ action.view() }</div>
            if let Some(s) = &*staged {
                <Review staged={s.clone()} ticked={ticked.clone()} action={action.clone()}
                    onchange={props.onchange.clone()} clear={{ let staged = staged.clone(); Callback::from(move |()| staged.set(None)) }} />
            }
        </div>
    }
}

#[derive(Properties, PartialEq)]
struct ReviewProps {
    staged: StagedPlugin,
    ticked: UseStateHandle<BTreeSet<String>>,
    action: Action,
    onchange: Callback<()>,
    /// Forgets the staged package once it is installed.
    clear: Callback<()>,
}

/// What the package asks for, each capability ticked by the admin, and the install.
#[function_component(Review)]
fn review(props: &ReviewProps) -> Html {
    let s = &props.staged;
    let ticked = &props.ticked;
    let all_ticked = s.needs_approval.iter().all(|k| ticked.contains(k));
    let oninstall = {
        let (action, ticked, onchange, clear) = (
            props.action.clone(),
            ticked.clone(),
            props.onchange.clone(),
            props.clear.clone(),
        );
        let staged = s.staged.clone();
        Callback::from(move |_| {
            let request = InstallPlugin {
                staged: staged.clone(),
                approve: ticked.iter().cloned().collect(),
            };
            let (onchange, clear) = (onchange.clone(), clear.clone());
            action.run(move |ws| async move {
                let p = ws.call_m::<PluginsInstall>(request).await?;
                clear.emit(());
                onchange.emit(());
                let v = p.manifest.map(|m| m.version).unwrap_or_default();
                Ok(format!(
                    "Installed {} {v}. Add an instance of it below.",
                    p.id
                ))
            });
        })
    };
    html! {
        <div class="card" id="plugin-review">
            <h3>{ format!("{} {}", s.manifest.name, s.manifest.version) }
                <span class="muted">{ format!(" ({}, {:?})", s.id, s.kind).to_lowercase() }</span></h3>
            if !s.manifest.description.is_empty() { <p>{ &s.manifest.description }</p> }
            if let Some(v) = &s.installed_version {
                <p class="notice">{ format!("Upgrades the installed version {v}.") }</p>
            }
            <p class="muted mono">{ format!("sha256 {}", s.sha256) }</p>
            <p>{ format!("Limits: {} MiB memory, {} ms per call.", s.manifest.memory_mib, s.manifest.call_timeout_ms) }</p>
            if s.capabilities.is_empty() {
                <p>{ "It asks for nothing: no files, no network, no secrets." }</p>
            } else {
                <ul class="capabilities">{ for s.capabilities.iter().map(|c| capability(c, s, ticked)) }</ul>
            }
            <button id="plugin-install" disabled={props.action.busy() || !all_ticked} onclick={oninstall}>
                { if s.installed_version.is_some() { "Approve and upgrade" } else { "Approve and install" } }</button>
            if !all_ticked { <span class="muted">{ " Tick every capability to approve it." }</span> }
        </div>
    }
}

fn capability(c: &Capability, s: &StagedPlugin, ticked: &UseStateHandle<BTreeSet<String>>) -> Html {
    if !s.needs_approval.contains(&c.key) {
        return html! {
            <li><span>{ "✓ " }{ &c.description }<span class="muted">{ " (approved before)" }</span></span></li>
        };
    }
    let key = c.key.clone();
    let onchange = {
        let (ticked, key) = (ticked.clone(), key.clone());
        Callback::from(move |e: Event| {
            let on = e
                .target_unchecked_into::<web_sys::HtmlInputElement>()
                .checked();
            let mut t = (*ticked).clone();
            if on {
                t.insert(key.clone());
            } else {
                t.remove(&key);
            }
            ticked.set(t);
        })
    };
    html! {
        <li><label><input type="checkbox" class="approve" data-key={key.clone()}
            checked={ticked.contains(&key)} {onchange} />{ " " }{ &c.description }</label></li>
    }
}
