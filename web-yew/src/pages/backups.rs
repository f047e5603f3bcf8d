//! Backups and jobs: the "Back up now" button of container and volume pages, the
//! backups vault (filter, restore with overrides, verify, download, upload by drag and
//! drop, delete) and the jobs page (the queue with live progress from `job.progress`,
//! cancel, per-job log and its download).

use std::collections::{BTreeMap, HashMap};

use berth_protocol::api::Empty;
use berth_protocol::api::backups::{
    BackupEntry, BackupOrigin, BackupQuery, BackupRef, BackupStatus, BackupTarget,
    BulkDeleteBackups, BundleBackups, Consistency, CreateBackup, ExistingVolume, Hooks,
    RescanStorage, RestoreBackup, RestorePreview, Trigger, UploadBackup, VerifyBackup,
};
use berth_protocol::api::catalogue::{
    BackupsBulkDelete, BackupsBundleTicket, BackupsCreate, BackupsDownloadTicket, BackupsList,
    BackupsPreview, BackupsRescan, BackupsRestore, BackupsUploadTicket, BackupsVerify, JobsCancel,
    JobsGet, JobsList, StorageList,
};
use berth_protocol::api::jobs::{JobDetail, JobProgress, JobRef, JobState, JobsQuery};
use berth_protocol::role::Role;
use yew::prelude::*;
use yew_router::prelude::Link;

use super::{Flash, Load, bytes, confirm, error_view, flash_view, picked, use_call, value_of};
use crate::route::Route;
use crate::ws::use_ws;

fn when(ms: u64) -> String {
    berth_protocol::api::rfc3339(ms)
        .replace('T', " ")
        .replace('Z', "")
}

#[derive(Properties, PartialEq)]
pub struct BackUpNowProps {
    pub target: BackupTarget,
}

/// "Back up now" with the consistency choice and an optional passphrase.
#[function_component(BackUpNow)]
pub fn back_up_now(props: &BackUpNowProps) -> Html {
    let ctx = use_ws();
    let flash: Flash = use_state(|| None);
    let open = use_state(|| false);
    let consistency = use_node_ref();
    let passphrase = use_node_ref();
    let storage = use_node_ref();
    let pre = use_node_ref();
    let post = use_node_ref();
    let with_image = use_node_ref();
    let (stores, _) = use_call::<StorageList>(Empty {});
    if !ctx.user().is_some_and(|u| u.role.allows(Role::Operator)) {
        return html! {};
    }
    let stores_list: Vec<String> = match &stores {
        Load::Ready(l) => l.storage.iter().map(|s| s.name.clone()).collect(),
        _ => Vec::new(),
    };
    let go = {
        let (ws, flash, target) = (ctx.ws.clone(), flash.clone(), props.target.clone());
        let (consistency, passphrase, storage) =
            (consistency.clone(), passphrase.clone(), storage.clone());
        let (pre, post, with_image) = (pre.clone(), post.clone(), with_image.clone());
        Callback::from(move |_| {
            let include_image = with_image
                .cast::<web_sys::HtmlInputElement>()
                .is_some_and(|i| i.checked());
            let c = match value_of(&consistency).as_str() {
                "pause" => Consistency::Pause,
                "hot" => Consistency::Hot,
                _ => Consistency::Stop,
            };
            let pass = value_of(&passphrase);
            let store = value_of(&storage);
            let hook = |r: &NodeRef| Some(value_of(r)).filter(|v| !v.trim().is_empty());
            let p = CreateBackup {
                hooks: Hooks {
                    pre: hook(&pre),
                    post: hook(&post),
                    ..Default::default()
                },
                host: None,
                targets: vec![target.clone()],
                consistency: Some(c),
                storage: (!store.is_empty()).then_some(store),
                passphrase: (!pass.is_empty()).then_some(pass),
                include_image,
            };
            let (ws, flash) = (ws.clone(), flash.clone());
            wasm_bindgen_futures::spawn_local(async move {
                let r = ws.call_m::<BackupsCreate>(p).await.map(|q| {
                    format!(
                        "Backup queued (job {}). Follow it on the Jobs page.",
                        q.jobs.join(", ")
                    )
                });
                flash.set(Some(r));
            });
        })
    };
    let toggle = {
        let open = open.clone();
        Callback::from(move |_| open.set(!*open))
    };
    html! {
        <div class="backup-now card">
            <button class="primary" id="backup-now" onclick={toggle}>{ "Back up now…" }</button>
            { if *open { html! {
                <div class="form-row">
                    <label class="field">{ "Consistency " }
                        <select id="backup-consistency" ref={consistency}>
                            <option value="stop" selected=true>{ "stop (default: stopped during the read, started again)" }</option>
                            <option value="pause">{ "pause (frozen during the read)" }</option>
                            <option value="hot">{ "hot (read while running)" }</option>
                        </select></label>
                    <label class="field">{ "Storage " }
                        <select id="backup-storage" ref={storage}>
                            <option value="">{ "default" }</option>
                            { for stores_list.iter().map(|s| html!{ <option value={s.clone()}>{ s }</option> }) }
                        </select></label>
                    { if matches!(props.target, BackupTarget::Container { .. } | BackupTarget::Project { .. }) { html!{ <>
                        <label class="field">{ "Pre hook (optional; overrides the berth.backup.pre label) " }
                            <input id="backup-pre" ref={pre} placeholder="e.g. pg_dump -U app > /data/dump.sql" /></label>
                        <label class="field">{ "Post hook " }
                            <input id="backup-post" ref={post} /></label>
                        <label class="field"><input type="checkbox" id="backup-include-image" ref={with_image} />
                            { " Include the image (for images that cannot be pulled again)" }</label>
                    </> } } else { html!{} } }
                    <label class="field">{ "Encrypt with passphrase (optional) " }
                        <input type="password" id="backup-passphrase" ref={passphrase} autocomplete="new-password" /></label>
                    <button id="backup-start" onclick={go}>{ "Start backup" }</button>
                </div>
            } } else { html!{} } }
            <div id="backup-now-result">{ flash_view(&flash) }</div>
        </div>
    }
}

/// Back up a compose project as one backup: the project is chosen among those with
/// containers on this host.
#[function_component(ProjectBackup)]
fn project_backup() -> Html {
    let (list, _) = use_call::<berth_protocol::api::catalogue::ContainersList>(
        berth_protocol::api::hosts::HostOnly::default(),
    );
    let chosen = use_state(String::new);
    let stacks: Vec<String> = match &list {
        Load::Ready(l) => l.groups.iter().filter_map(|g| g.stack.clone()).collect(),
        _ => Vec::new(),
    };
    if stacks.is_empty() {
        return html! {};
    }
    let onchange = {
        let chosen = chosen.clone();
        Callback::from(move |e: Event| chosen.set(picked(&e)))
    };
    html! {
        <div class="card" id="project-backup">
            <label class="field">{ "Back up a compose project (all its containers, volumes and networks in one backup) " }
                <select id="backup-project" {onchange}>
                    <option value="">{ "choose a project" }</option>
                    { for stacks.iter().map(|s| html!{ <option value={s.clone()} selected={*chosen == *s}>{ s }</option> }) }
                </select></label>
            { if chosen.is_empty() { html!{} } else { html!{
                <BackUpNow key={(*chosen).clone()} target={BackupTarget::Project { name: (*chosen).clone() }} />
            } } }
        </div>
    }
}

#[function_component(BackupsPage)]
pub fn backups_page() -> Html {
    let ctx = use_ws();
    let target = use_node_ref();
    let trigger = use_node_ref();
    let storage = use_node_ref();
    let query = use_state(BackupQuery::default);
    let (list, reload) = use_call::<BackupsList>((*query).clone());
    let flash: Flash = use_state(|| None);
    let restoring = use_state(|| None::<BackupEntry>);
    let selected = use_state(Vec::<String>::new);
    let admin = ctx.user().is_some_and(|u| u.role.allows(Role::Admin));
    let operator = ctx.user().is_some_and(|u| u.role.allows(Role::Operator));
    let (stores, _) = use_call::<StorageList>(Empty {});
    let store_names: Vec<String> = match &stores {
        Load::Ready(l) => l.storage.iter().map(|s| s.name.clone()).collect(),
        _ => Vec::new(),
    };
    let filter = {
        let (query, target, trigger, storage) = (
            query.clone(),
            target.clone(),
            trigger.clone(),
            storage.clone(),
        );
        Callback::from(move |_| {
            let t = value_of(&target);
            let st = value_of(&storage);
            query.set(BackupQuery {
                target: (!t.is_empty()).then_some(t),
                storage: (!st.is_empty()).then_some(st),
                trigger: match value_of(&trigger).as_str() {
                    "manual" => Some(Trigger::Manual),
                    "scheduled" => Some(Trigger::Scheduled),
                    _ => None,
                },
            });
        })
    };
    let verify = {
        let (ws, flash) = (ctx.ws.clone(), flash.clone());
        Callback::from(move |b: BackupEntry| {
            let passphrase = if b.encrypted {
                web_sys::window().and_then(|w| {
                    w.prompt_with_message("Passphrase of this backup")
                        .ok()
                        .flatten()
                })
            } else {
                None
            };
            let (ws, flash) = (ws.clone(), flash.clone());
            wasm_bindgen_futures::spawn_local(async move {
                let r = ws
                    .call_m::<BackupsVerify>(VerifyBackup {
                        id: b.id.clone(),
                        passphrase,
                    })
                    .await
                    .map(|j| format!("Verification queued (job {}).", j.id));
                flash.set(Some(r));
            });
        })
    };
    let delete = {
        let (ws, flash, reload) = (ctx.ws.clone(), flash.clone(), reload.clone());
        Callback::from(move |ids: Vec<String>| {
            if ids.is_empty()
                || !confirm(&format!(
                    "Delete {} backup(s) from storage? This cannot be undone.",
                    ids.len()
                ))
            {
                return;
            }
            let (ws, flash, reload) = (ws.clone(), flash.clone(), reload.clone());
            wasm_bindgen_futures::spawn_local(async move {
                let r = ws
                    .call_m::<BackupsBulkDelete>(BulkDeleteBackups { ids })
                    .await
                    .map(|r| {
                        let failed: Vec<String> = r
                            .results
                            .iter()
                            .filter(|i| !i.ok)
                            .map(|i| {
                                format!(
                                    "{}: {}",
                                    i.id,
                                    i.error
                                        .as_ref()
                                        .map(|e| e.message.as_str())
                                        .unwrap_or("failed")
                                )
                            })
                            .collect();
                        let done = r.results.len() - failed.len();
                        if failed.is_empty() {
                            format!("Deleted {done} backup(s).")
                        } else {
                            format!(
                                "Deleted {done} backup(s); not deleted: {}",
                                failed.join("; ")
                            )
                        }
                    });
                flash.set(Some(r));
                reload.emit(());
            });
        })
    };
    let download = {
        let (ws, flash) = (ctx.ws.clone(), flash.clone());
        Callback::from(move |id: String| {
            let (ws, flash) = (ws.clone(), flash.clone());
            wasm_bindgen_futures::spawn_local(async move {
                match ws.call_m::<BackupsDownloadTicket>(BackupRef { id }).await {
                    Ok(t) => {
                        if let Err(e) = crate::http::download_url(&t.filename, &t.url) {
                            flash.set(Some(Err(berth_protocol::error::ErrorBody::new(
                                berth_protocol::error::ErrorCode::Internal,
                                e,
                            ))));
                        }
                    }
                    Err(e) => flash.set(Some(Err(e))),
                }
            });
        })
    };
    let body = match &list {
        Load::Loading => html! { <p>{ "Loading…" }</p> },
        Load::Failed(e) => error_view(e),
        Load::Ready(l) if l.backups.is_empty() => html! {
            <p class="notice" id="backups-empty">{ "No backups yet. Use “Back up now” on a container or volume page." }</p>
        },
        Load::Ready(l) => html! {
            <table class="grid" id="backups-table">
                <thead><tr><th></th><th>{ "Target" }</th><th>{ "Created" }</th><th>{ "Type" }</th><th>{ "Size" }</th>
                    <th>{ "Storage" }</th><th>{ "Encrypted" }</th><th>{ "Status" }</th><th></th></tr></thead>
                <tbody>
                { for l.backups.iter().map(|b| {
                    let (restoring, verify, delete) = (restoring.clone(), verify.clone(), delete.clone());
                    let (b1, b2, id) = (b.clone(), b.clone(), b.id.clone());
                    let sel = selected.clone();
                    let checked = selected.contains(&b.id);
                    html! {
                    <tr data-id={b.id.clone()} data-target={b.target.name().to_owned()}>
                        <td>{ if operator { html!{ <input type="checkbox" class="select" checked={checked}
                            onchange={Callback::from(move |_| {
                                let mut v = (*sel).clone();
                                if let Some(i) = v.iter().position(|x| *x == id) { v.remove(i); } else { v.push(id.clone()); }
                                sel.set(v);
                            })} /> } } else { html!{} } }</td>
                        <td><span class="badge">{ b.target.kind() }</span>{ " " }<span class="mono">{ b.target.name() }</span>
                            if b.origin == BackupOrigin::Foreign {
                                { " " }<span class="badge warn foreign" title="Not written by this Berth: restoring it needs an admin's approval">{ "foreign" }</span>
                            }</td>
                        <td>{ when(b.created_ms) }</td>
                        <td>{ match b.trigger { Trigger::Manual => "manual", Trigger::Scheduled => "scheduled" } }</td>
                        <td>{ bytes(b.size) }</td>
                        <td>{ &b.storage }</td>
                        <td>{ if b.encrypted { "yes" } else { "no" } }</td>
                        <td class={classes!("status", if b.status == BackupStatus::Complete { "complete" } else { "pending" })}>
                            { if b.status == BackupStatus::Complete { "complete" } else { "pending" } }</td>
                        <td class="actions">
                            { if operator && b.status == BackupStatus::Complete { html!{ <>
                                <button class="small restore" onclick={Callback::from(move |_| restoring.set(Some(b1.clone())))}>{ "Restore…" }</button>
                                <button class="small verify" onclick={Callback::from(move |_| verify.emit(b2.clone()))}>{ "Verify" }</button>
                                <button class="small download" onclick={{ let dl = download.clone(); let id = b.id.clone(); Callback::from(move |_| dl.emit(id.clone())) }}>{ "Download" }</button>
                            </> } } else { html!{} } }
                            { if admin { let id = b.id.clone(); html!{
                                <button class="small danger delete" onclick={Callback::from(move |_| delete.emit(vec![id.clone()]))}>{ "Delete" }</button>
                            } } else { html!{} } }
                        </td>
                    </tr>
                    }
                }) }
                </tbody>
            </table>
        },
    };
    let rescan = {
        let (ws, flash, storage) = (ctx.ws.clone(), flash.clone(), storage.clone());
        Callback::from(move |_| {
            let st = value_of(&storage);
            // Encrypted objects need their passphrase; without one they are reported.
            let passphrase = web_sys::window()
                .and_then(|w| {
                    w.prompt_with_message(
                        "Passphrase for encrypted backups in this storage (leave empty to skip them)",
                    )
                    .ok()
                    .flatten()
                })
                .filter(|p| !p.is_empty());
            let (ws, flash) = (ws.clone(), flash.clone());
            wasm_bindgen_futures::spawn_local(async move {
                let r = ws
                    .call_m::<BackupsRescan>(RescanStorage {
                        storage: (!st.is_empty()).then_some(st),
                        passphrase,
                    })
                    .await
                    .map(|j| format!("Catalog rebuild queued (job {}); its log on the Jobs page says what was added.", j.id));
                flash.set(Some(r));
            });
        })
    };
    let bundle = {
        let (ws, flash, selected) = (ctx.ws.clone(), flash.clone(), selected.clone());
        Callback::from(move |_| {
            let ids = (*selected).clone();
            let (ws, flash) = (ws.clone(), flash.clone());
            wasm_bindgen_futures::spawn_local(async move {
                match ws
                    .call_m::<BackupsBundleTicket>(BundleBackups { ids })
                    .await
                {
                    Ok(t) => {
                        if let Err(e) = crate::http::download_url(&t.filename, &t.url) {
                            flash.set(Some(Err(berth_protocol::error::ErrorBody::new(
                                berth_protocol::error::ErrorCode::Internal,
                                e,
                            ))));
                        }
                    }
                    Err(e) => flash.set(Some(Err(e))),
                }
            });
        })
    };
    let bulk = {
        let (delete, selected) = (delete.clone(), selected.clone());
        Callback::from(move |_| {
            delete.emit((*selected).clone());
            selected.set(Vec::new());
        })
    };
    html! {
        <section class="page" data-page="backups">
            <h1>{ "Backups" }</h1>
            <div class="toolbar">
                <input id="backups-filter" placeholder="target name" ref={target} />
                <select id="backups-trigger" ref={trigger}>
                    <option value="">{ "any type" }</option>
                    <option value="manual">{ "manual" }</option>
                    <option value="scheduled">{ "scheduled" }</option>
                </select>
                <select id="backups-storage" ref={storage}>
                    <option value="">{ "any storage" }</option>
                    { for store_names.iter().map(|n| html!{ <option value={n.clone()}>{ n }</option> }) }
                </select>
                <button onclick={filter}>{ "Filter" }</button>
                { if operator { html!{ <button id="backups-rescan" title="Add the backups found in the chosen storage (or the default one) that the catalog does not list" onclick={rescan}>
                    { "Rebuild catalog from storage" }</button> } } else { html!{} } }
                { if operator { html!{ <button id="backups-bulk-download" disabled={selected.is_empty()} onclick={bundle}>
                    { format!("Download selected ({})", selected.len()) }</button> } } else { html!{} } }
                { if admin { html!{ <button class="danger" id="backups-bulk-delete" disabled={selected.is_empty()} onclick={bulk}>
                    { format!("Delete selected ({})", selected.len()) }</button> } } else { html!{} } }
            </div>
            <div id="backups-result">{ flash_view(&flash) }</div>
            { if operator { html!{ <UploadPanel storages={store_names.clone()} onchange={reload.clone()} /> } } else { html!{} } }
            { if operator { html!{ <ProjectBackup /> } } else { html!{} } }
            { if let Some(b) = &*restoring {
                let close = { let r = restoring.clone(); Callback::from(move |()| r.set(None)) };
                html!{ <RestoreForm backup={b.clone()} {close} /> }
            } else { html!{} } }
            { body }
        </section>
    }
}

#[derive(Properties, PartialEq)]
struct UploadProps {
    storages: Vec<String>,
    /// After a file entered the catalog.
    onchange: Callback<()>,
}

/// Uploads a backup file (dropped on the zone or picked) on a fresh ticket, with a
/// progress bar; Berth checks it as it arrives and answers with its catalog entry.
#[function_component(UploadPanel)]
fn upload_panel(props: &UploadProps) -> Html {
    let ctx = use_ws();
    let flash: Flash = use_state(|| None);
    let progress = use_state(|| None::<(f64, f64)>);
    let over = use_state(|| false);
    let file_input = use_node_ref();
    let passphrase = use_node_ref();
    let storage = use_node_ref();
    let send = {
        let (ws, flash, progress, onchange) = (
            ctx.ws.clone(),
            flash.clone(),
            progress.clone(),
            props.onchange.clone(),
        );
        let (passphrase, storage) = (passphrase.clone(), storage.clone());
        Callback::from(move |file: web_sys::File| {
            let pass = value_of(&passphrase);
            let st = value_of(&storage);
            let (ws, flash, progress, onchange) = (
                ws.clone(),
                flash.clone(),
                progress.clone(),
                onchange.clone(),
            );
            progress.set(Some((0.0, file.size())));
            flash.set(None);
            wasm_bindgen_futures::spawn_local(async move {
                let r = async {
                    let t = ws
                        .call_m::<BackupsUploadTicket>(UploadBackup {
                            storage: (!st.is_empty()).then_some(st),
                            passphrase: (!pass.is_empty()).then_some(pass),
                        })
                        .await?;
                    let p = progress.clone();
                    let (status, text) =
                        crate::http::put_file_with_progress(&t.url, &file, move |done, all| {
                            p.set(Some((done, all)));
                        })
                        .await
                        .map_err(|e| {
                            berth_protocol::error::ErrorBody::new(
                                berth_protocol::error::ErrorCode::Unavailable,
                                e,
                            )
                        })?;
                    if status == 200 {
                        let e: BackupEntry = serde_json::from_str(&text).map_err(|e| {
                            berth_protocol::error::ErrorBody::new(
                                berth_protocol::error::ErrorCode::Internal,
                                e.to_string(),
                            )
                        })?;
                        Ok(format!(
                            "{} is intact and now in the catalog as backup {} ({} {}).",
                            file.name(),
                            e.id,
                            e.target.kind(),
                            e.target.name()
                        ))
                    } else {
                        Err(
                            serde_json::from_str::<berth_protocol::auth::HttpError>(&text)
                                .map(|e| e.error)
                                .unwrap_or_else(|_| {
                                    berth_protocol::error::ErrorBody::new(
                                        berth_protocol::error::ErrorCode::Internal,
                                        format!("upload failed: HTTP {status}"),
                                    )
                                }),
                        )
                    }
                }
                .await;
                progress.set(None);
                if r.is_ok() {
                    onchange.emit(());
                }
                flash.set(Some(r));
            });
        })
    };
    let picked = {
        let (send, file_input) = (send.clone(), file_input.clone());
        Callback::from(move |_: Event| {
            if let Some(f) = file_input
                .cast::<web_sys::HtmlInputElement>()
                .and_then(|i| i.files())
                .and_then(|f| f.get(0))
            {
                send.emit(f);
            }
        })
    };
    let dragover = {
        let over = over.clone();
        Callback::from(move |e: DragEvent| {
            // Without this the browser opens the file instead of handing it over.
            e.prevent_default();
            over.set(true);
        })
    };
    let dragleave = {
        let over = over.clone();
        Callback::from(move |_: DragEvent| over.set(false))
    };
    let drop = {
        let (send, over) = (send.clone(), over.clone());
        Callback::from(move |e: DragEvent| {
            e.prevent_default();
            over.set(false);
            if let Some(f) = e
                .data_transfer()
                .and_then(|d| d.files())
                .and_then(|f| f.get(0))
            {
                send.emit(f);
            }
        })
    };
    html! {
        <div id="backups-upload" class={classes!("dropzone", (*over).then_some("over"))}
            ondragover={dragover} ondragleave={dragleave} ondrop={drop}>
            <strong>{ "Upload a backup" }</strong>
            <span>{ " — drop a .tar.gz or .tar.gz.enc here, or " }</span>
            <input type="file" id="backups-upload-file" ref={file_input} onchange={picked}
                accept=".gz,.enc,application/gzip" />
            <input type="password" id="backups-upload-passphrase" ref={passphrase}
                placeholder="passphrase (encrypted files)" autocomplete="off" />
            <select id="backups-upload-storage" ref={storage}>
                <option value="">{ "default storage" }</option>
                { for props.storages.iter().map(|n| html!{ <option value={n.clone()}>{ n }</option> }) }
            </select>
            { if let Some((done, all)) = *progress { html!{
                <div class="upload-progress">
                    <progress id="backups-upload-progress" max={all.max(1.0).to_string()} value={done.to_string()} />
                    <span>{ format!(" {} of {}", bytes(done as u64), bytes(all as u64)) }</span>
                </div>
            } } else { html!{} } }
            <div id="backups-upload-result">{ flash_view(&flash) }</div>
        </div>
    }
}

#[derive(Properties, PartialEq)]
struct RestoreProps {
    backup: BackupEntry,
    close: Callback<()>,
}

/// The restore form: name, volumes (same names or new ones), ports, start.
#[function_component(RestoreForm)]
fn restore_form(props: &RestoreProps) -> Html {
    let ctx = use_ws();
    let b = &props.backup;
    let name = use_node_ref();
    let ports = use_node_ref();
    let passphrase = use_node_ref();
    let overwrite = use_node_ref();
    let start = use_node_ref();
    // The network choice lives in state, not only in the DOM: the list of networks
    // re-renders whenever networks come and go, and a request must carry what the
    // user picked ("" = the backup's own), never an option the list shifted under it.
    let network = use_state(String::new);
    let (nets, _) = use_call::<berth_protocol::api::catalogue::NetworksList>(
        berth_protocol::api::hosts::HostOnly::default(),
    );
    let net_names: Vec<String> = match &nets {
        Load::Ready(l) => l
            .networks
            .iter()
            .filter(|n| n.name != "none")
            .map(|n| n.name.clone())
            .collect(),
        _ => Vec::new(),
    };
    let project = matches!(b.target, BackupTarget::Project { .. });
    let vol_refs: Vec<(String, NodeRef)> = use_memo(b.volumes.clone(), |vols| {
        vols.iter()
            .map(|v| (v.clone(), NodeRef::default()))
            .collect::<Vec<_>>()
    })
    .to_vec();
    let flash: Flash = use_state(|| None);
    let preview = use_state(|| None::<Result<RestorePreview, berth_protocol::error::ErrorBody>>);
    let approve = use_node_ref();
    let admin = ctx.user().is_some_and(|u| u.role == Role::Admin);
    let submit = {
        let (ws, flash, close, b) = (
            ctx.ws.clone(),
            flash.clone(),
            props.close.clone(),
            b.clone(),
        );
        let (name, ports, passphrase, overwrite, start, vols) = (
            name.clone(),
            ports.clone(),
            passphrase.clone(),
            overwrite.clone(),
            start.clone(),
            vol_refs.clone(),
        );
        let network = network.clone();
        let (approve, preview) = (approve.clone(), preview.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let mut port_map = BTreeMap::new();
            for part in value_of(&ports).split([',', ' ']).filter(|s| !s.is_empty()) {
                let Some((k, v)) = part.split_once('=') else {
                    flash.set(Some(Err(berth_protocol::error::ErrorBody::new(
                        berth_protocol::error::ErrorCode::BadRequest,
                        format!("{part:?}: write ports as 8080/tcp=9090"),
                    ))));
                    return;
                };
                let Ok(p) = v.parse::<u16>() else {
                    flash.set(Some(Err(berth_protocol::error::ErrorBody::new(
                        berth_protocol::error::ErrorCode::BadRequest,
                        format!("{v:?} is not a port"),
                    ))));
                    return;
                };
                port_map.insert(k.to_owned(), p);
            }
            let volumes: BTreeMap<String, String> = vols
                .iter()
                .filter_map(|(orig, r)| {
                    let v = value_of(r);
                    (!v.is_empty() && v != *orig).then(|| (orig.clone(), v))
                })
                .collect();
            let n = value_of(&name);
            let pass = value_of(&passphrase);
            let checked = |r: &NodeRef| {
                r.cast::<web_sys::HtmlInputElement>()
                    .is_some_and(|i| i.checked())
            };
            let p = RestoreBackup {
                id: b.id.clone(),
                host: None,
                passphrase: (!pass.is_empty()).then_some(pass),
                name: (!n.is_empty()).then_some(n),
                volumes,
                existing: if checked(&overwrite) {
                    ExistingVolume::Overwrite
                } else {
                    ExistingVolume::Refuse
                },
                ports: port_map,
                // A project starts what was running unless told not to.
                start: match &b.target {
                    BackupTarget::Container { .. } => Some(checked(&start)),
                    BackupTarget::Project { .. } => (!checked(&start)).then_some(false),
                    _ => None,
                },
                network: Some((*network).clone()).filter(|n| !n.is_empty()),
                // What the admin approved is exactly what the last check listed.
                approve: match &*preview {
                    Some(Ok(pv)) if checked(&approve) => pv.needs_approval.clone(),
                    _ => Vec::new(),
                },
            };
            let (ws, flash, close) = (ws.clone(), flash.clone(), close.clone());
            wasm_bindgen_futures::spawn_local(async move {
                match ws.call_m::<BackupsRestore>(p).await {
                    Ok(j) => {
                        flash.set(Some(Ok(format!(
                            "Restore queued (job {}). Follow it on the Jobs page.",
                            j.id
                        ))));
                        let _ = close;
                    }
                    Err(e) => flash.set(Some(Err(e))),
                }
            });
        })
    };
    let pick_network = {
        let network = network.clone();
        Callback::from(move |e: Event| network.set(picked(&e)))
    };
    let check = {
        let (ws, preview, b) = (ctx.ws.clone(), preview.clone(), b.clone());
        let (name, overwrite, vols) = (name.clone(), overwrite.clone(), vol_refs.clone());
        let net = network.clone();
        Callback::from(move |_| {
            let volumes: BTreeMap<String, String> = vols
                .iter()
                .filter_map(|(orig, r)| {
                    let v = value_of(r);
                    (!v.is_empty() && v != *orig).then(|| (orig.clone(), v))
                })
                .collect();
            let n = value_of(&name);
            let over = overwrite
                .cast::<web_sys::HtmlInputElement>()
                .is_some_and(|i| i.checked());
            let p = RestoreBackup {
                id: b.id.clone(),
                name: (!n.is_empty()).then_some(n),
                volumes,
                existing: if over {
                    ExistingVolume::Overwrite
                } else {
                    ExistingVolume::Refuse
                },
                network: Some((*net).clone()).filter(|n| !n.is_empty()),
                ..Default::default()
            };
            let (ws, preview) = (ws.clone(), preview.clone());
            wasm_bindgen_futures::spawn_local(async move {
                preview.set(Some(ws.call_m::<BackupsPreview>(p).await));
            });
        })
    };
    let cancel = {
        let close = props.close.clone();
        Callback::from(move |_| close.emit(()))
    };
    let container = matches!(
        b.target,
        BackupTarget::Container { .. } | BackupTarget::Project { .. }
    );
    html! {
        <form class="card" id="restore-form" onsubmit={submit}>
            <h2>{ format!("Restore {} {}", b.target.kind(), b.target.name()) }</h2>
            <p class="muted">{ format!("Backup {} of {}. Conflicts (a name or volume in use, a missing image) are reported before anything changes.", b.id, when(b.created_ms)) }</p>
            { if container { html!{ <>
                <label class="field">{ if project { "Project name (a new one renames the project's containers, volumes and networks) " } else { "Container name " } }
                    <input id="restore-name" ref={name} placeholder={b.target.name().to_owned()} /></label>
                <label class="field">{ if project { "Ports (service:port=host, e.g. web:80/tcp=9090; 80/tcp=9090 for every service publishing it) " } else { "Ports (container=host, e.g. 8080/tcp=9090) " } }
                    <input id="restore-ports" ref={ports} /></label>
                <label class="field">{ "Network " }
                    <select id="restore-network" onchange={pick_network}>
                        <option value="" selected={network.is_empty()}>{ if project { "its own networks (recreated where missing)" } else { "the networks it was on" } }</option>
                        { for net_names.iter().map(|n| html!{ <option value={n.clone()} selected={*network == *n}>{ n }</option> }) }
                    </select></label>
                <label class="check"><input type="checkbox" id="restore-start" ref={start} checked=true />
                    { if project { " start the containers that were running" } else { " start after restore" } }</label>
            </> } } else { html!{} } }
            { for vol_refs.iter().map(|(v, r)| html!{
                <label class="field">{ format!("Volume {v} → ") }
                    <input class="restore-volume" data-volume={v.clone()} ref={r.clone()} placeholder={v.clone()} /></label>
            }) }
            <label class="check"><input type="checkbox" id="restore-overwrite" ref={overwrite} disabled={!admin} />
                { " overwrite volumes that exist (admins only: their contents are replaced — kept aside until the restored data is verified, and put back if the restore fails; refused while a container uses them)" }</label>
            { if b.encrypted { html!{ <label class="field">{ "Passphrase " }
                <input type="password" id="restore-passphrase" ref={passphrase} /></label> } } else { html!{} } }
            { match &*preview {
                None => html!{},
                Some(Err(e)) => error_view(e),
                Some(Ok(pv)) => html!{ <>
                    { if pv.conflicts.is_empty() {
                        html!{ <p class="ok-note" id="restore-no-conflicts">{ "No conflicts: the restore can run." }</p> }
                    } else {
                        html!{ <ul class="conflicts" id="restore-conflicts">
                            { for pv.conflicts.iter().map(|c| html!{ <li class={format!("{:?}", c.kind).to_lowercase()}>{ &c.message }</li> }) }
                        </ul> }
                    } }
                    { approval_view(pv, admin, &approve) }
                </> },
            } }
            <div class="form-row">
                <button type="button" id="restore-preview" onclick={check}>{ "Check for conflicts" }</button>
                <button type="submit" class="primary" id="restore-submit">{ "Restore" }</button>
                <button type="button" onclick={cancel}>{ "Close" }</button>
            </div>
            <div id="restore-result">{ flash_view(&flash) }</div>
        </form>
    }
}

/// What a restore would grant on the host, and who may approve it: the backup's origin
/// and every host-level setting of its configuration, with the approval box for admins.
fn approval_view(pv: &RestorePreview, admin: bool, approve: &NodeRef) -> Html {
    if pv.needs_approval.is_empty() && pv.overwrites.is_empty() {
        return html! {};
    }
    let foreign = pv.backup.origin == BackupOrigin::Foreign;
    html! {
        <div class="approval" id="restore-approval">
            if foreign {
                <p class="warn" id="restore-foreign">{ "This backup was not written by this Berth (uploaded, or from another installation): its configuration is whatever its author put in it." }</p>
            }
            if !pv.privileges.is_empty() {
                <p>{ "Its configuration reaches onto this host:" }</p>
                <table class="grid" id="restore-privileges">
                    <thead><tr><th>{ "Object" }</th><th>{ "Setting" }</th><th>{ "Value" }</th></tr></thead>
                    <tbody>{ for pv.privileges.iter().map(|p| html!{
                        <tr data-key={p.key.clone()}><td>{ &p.object }</td><td>{ &p.setting }</td><td><code>{ &p.value }</code></td></tr>
                    }) }</tbody>
                </table>
            }
            if !pv.overwrites.is_empty() {
                <p id="restore-overwrites">{ format!("Replaces the contents of: {}", pv.overwrites.join(", ")) }</p>
            }
            if admin {
                if !pv.needs_approval.is_empty() {
                    <label class="check"><input type="checkbox" id="restore-approve" ref={approve.clone()} />
                        { " I approve these settings for this restore" }</label>
                }
            } else {
                <p class="error" id="restore-needs-admin">{ "Only an admin can run this restore." }</p>
            }
        </div>
    }
}

/// Every job's progress (`job.progress` for all jobs) while the component lives.
#[hook]
fn use_job_progress(on: Callback<JobProgress>) {
    let ctx = use_ws();
    use_effect_with((), move |()| {
        let on_data = Callback::from(move |v| {
            if let Ok(p) = serde_json::from_value::<JobProgress>(v) {
                on.emit(p);
            }
        });
        let sub = ctx.ws.subscribe(
            "job.progress",
            serde_json::json!({}),
            64,
            on_data,
            Callback::noop(),
        );
        move || drop(sub)
    });
}

#[function_component(JobsPage)]
pub fn jobs_page() -> Html {
    let ctx = use_ws();
    let (list, reload) = use_call::<JobsList>(JobsQuery::default());
    let live = use_state(HashMap::<String, JobProgress>::new);
    let flash: Flash = use_state(|| None);
    let log = use_state(|| None::<JobDetail>);
    let operator = ctx.user().is_some_and(|u| u.role.allows(Role::Operator));
    {
        let (live, reload) = (live.clone(), reload.clone());
        let acc = use_mut_ref(HashMap::<String, JobProgress>::new);
        use_job_progress(Callback::from(move |p: JobProgress| {
            let end = p.state.is_terminal();
            acc.borrow_mut().insert(p.job.clone(), p);
            live.set(acc.borrow().clone());
            if end {
                reload.emit(());
            }
        }));
    }
    let cancel = {
        let (ws, flash) = (ctx.ws.clone(), flash.clone());
        Callback::from(move |id: String| {
            let (ws, flash) = (ws.clone(), flash.clone());
            wasm_bindgen_futures::spawn_local(async move {
                let r = ws
                    .call_m::<JobsCancel>(JobRef { id: id.clone() })
                    .await
                    .map(|_| format!("Cancelling job {id}."));
                flash.set(Some(r));
            });
        })
    };
    let show_log = {
        let (ws, flash, log) = (ctx.ws.clone(), flash.clone(), log.clone());
        Callback::from(move |id: String| {
            let (ws, flash, log) = (ws.clone(), flash.clone(), log.clone());
            wasm_bindgen_futures::spawn_local(async move {
                match ws.call_m::<JobsGet>(JobRef { id }).await {
                    Ok(d) => log.set(Some(d)),
                    Err(e) => flash.set(Some(Err(e))),
                }
            });
        })
    };
    let body = match &list {
        Load::Loading => html! { <p>{ "Loading…" }</p> },
        Load::Failed(e) => error_view(e),
        Load::Ready(l) if l.jobs.is_empty() => {
            html! { <p class="notice" id="jobs-empty">{ "No jobs yet." }</p> }
        }
        Load::Ready(l) => html! {
            <table class="grid" id="jobs-table">
                <thead><tr><th>{ "Job" }</th><th>{ "State" }</th><th>{ "Progress" }</th><th>{ "By" }</th><th>{ "Created" }</th><th></th></tr></thead>
                <tbody>
                { for l.jobs.iter().map(|j| {
                    let p = live.get(&j.id).filter(|p| p.state >= j.progress.state).unwrap_or(&j.progress).clone();
                    let (cancel, show_log, id1, id2) = (cancel.clone(), show_log.clone(), j.id.clone(), j.id.clone());
                    let pct = (p.bytes_done.min(p.bytes_total) * 100).checked_div(p.bytes_total).unwrap_or(0);
                    html! {
                    <tr data-id={j.id.clone()} data-state={p.state.as_str()} data-kind={format!("{:?}", j.kind).to_lowercase()}>
                        <td>{ &j.title }{ j.backup.as_ref().map(|b| html!{ <div class="muted mono">{ b }</div> }).unwrap_or_default() }</td>
                        <td class={classes!("state", p.state.as_str())}>{ p.state.as_str() }</td>
                        <td class="progress-cell">
                            { if p.state.is_terminal() { html!{ <span class="message">{ &p.message }</span> } } else { html!{ <>
                                <progress max="100" value={pct.to_string()}></progress>
                                <span class="phase">{ &p.phase }</span>
                                { if p.bytes_total > 0 { html!{ <span class="muted">{ format!(" {} of {}", bytes(p.bytes_done), bytes(p.bytes_total)) }</span> } } else { html!{} } }
                                { if p.rate_bps > 0 { html!{ <span class="muted">{ format!(" · {}/s", bytes(p.rate_bps)) }</span> } } else { html!{} } }
                                { p.eta_s.map(|s| html!{ <span class="muted">{ format!(" · {s} s left") }</span> }).unwrap_or_default() }
                            </> } } }
                        </td>
                        <td>{ &j.actor }</td>
                        <td>{ when(j.created_ms) }</td>
                        <td class="actions">
                            <button class="small show-log" onclick={Callback::from(move |_| show_log.emit(id1.clone()))}>{ "Log" }</button>
                            { if operator && !p.state.is_terminal() { html!{
                                <button class="small danger cancel" onclick={Callback::from(move |_| cancel.emit(id2.clone()))}>{ "Cancel" }</button>
                            } } else { html!{} } }
                        </td>
                    </tr>
                    }
                }) }
                </tbody>
            </table>
        },
    };
    html! {
        <section class="page" data-page="jobs">
            <h1>{ "Jobs" }</h1>
            <p class="muted">{ "Backups, restores and verifications run one at a time, in order; they survive a restart of Berth. " }
                <Link<Route> to={Route::Backups}>{ "Backups" }</Link<Route>></p>
            <div id="jobs-result">{ flash_view(&flash) }</div>
            { body }
            { if let Some(d) = &*log { html!{
                <div class="card" id="job-log">
                    <h2>{ format!("Log of {}", d.job.title) }</h2>
                    <button class="small" id="job-log-download" onclick={{
                        let (d, flash) = (d.clone(), flash.clone());
                        Callback::from(move |_| {
                            // One JSON object per line: the job first, then its log.
                            let mut out = serde_json::to_string(&d.job).unwrap_or_default();
                            for l in &d.log {
                                out.push('\n');
                                out.push_str(&serde_json::to_string(l).unwrap_or_default());
                            }
                            out.push('\n');
                            if let Err(e) = crate::http::download(&format!("job-{}.jsonl", d.job.id), "application/x-ndjson", &out) {
                                flash.set(Some(Err(berth_protocol::error::ErrorBody::new(berth_protocol::error::ErrorCode::Internal, e))));
                            }
                        })
                    }}>{ "Download log" }</button>
                    <pre class="log">{ for d.log.iter().map(|l| format!("{} {:?} {}\n", when(l.time_ms), l.level, l.message)) }</pre>
                </div>
            } } else { html!{} } }
            { if (*log).is_none() && list_has_state(&list, JobState::Failed) { html!{
                <p class="muted">{ "Open a failed job's log to see why it failed." }</p>
            } } else { html!{} } }
        </section>
    }
}

/// The dashboard's view of the queue: what is running or waiting, and the last
/// finished backups, restores and verifications — failures counted in red, with why.
#[function_component(RecentJobs)]
pub fn recent_jobs() -> Html {
    let (list, reload) = use_call::<JobsList>(JobsQuery {
        states: Vec::new(),
        limit: Some(8),
    });
    {
        // A job that starts or ends changes this list; byte counts do not.
        let seen = use_mut_ref(HashMap::<String, JobState>::new);
        use_job_progress(Callback::from(move |p: JobProgress| {
            if seen.borrow_mut().insert(p.job.clone(), p.state) != Some(p.state) {
                reload.emit(());
            }
        }));
    }
    match &list {
        Load::Loading => html! { <p>{ "Loading…" }</p> },
        Load::Failed(e) => error_view(e),
        Load::Ready(l) if l.jobs.is_empty() => html! {
            <p class="notice" id="dashboard-jobs-empty">{ "No backups yet: use “Back up now” on a container, volume or network." }</p>
        },
        Load::Ready(l) => {
            let failed = l
                .jobs
                .iter()
                .filter(|j| j.progress.state == JobState::Failed)
                .count();
            html! { <>
                { if failed > 0 { html!{ <p class="error" id="dashboard-jobs-failed">
                    { format!("{failed} of the last {} jobs failed.", l.jobs.len()) }</p> } } else { html!{} } }
                <table class="grid" id="dashboard-jobs">
                    <tbody>
                    { for l.jobs.iter().map(|j| html! {
                        <tr data-state={j.progress.state.as_str()} data-kind={format!("{:?}", j.kind).to_lowercase()}>
                            <td class={classes!("state", j.progress.state.as_str())}>{ j.progress.state.as_str() }</td>
                            <td>{ &j.title }</td>
                            <td class="muted">{ when(j.finished_ms.unwrap_or(j.created_ms)) }</td>
                            <td class="message">{ if j.progress.state.is_terminal() { j.progress.message.clone() } else { j.progress.phase.clone() } }</td>
                        </tr>
                    }) }
                    </tbody>
                </table>
                <p><Link<Route> to={Route::Jobs}>{ "All jobs" }</Link<Route>>{ " · " }<Link<Route> to={Route::Backups}>{ "Backups" }</Link<Route>></p>
            </> }
        }
    }
}

fn list_has_state(l: &Load<berth_protocol::api::jobs::JobList>, s: JobState) -> bool {
    matches!(l, Load::Ready(l) if l.jobs.iter().any(|j| j.progress.state == s))
}
