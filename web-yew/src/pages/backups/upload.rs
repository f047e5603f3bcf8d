//! Upload backup files (dropped on the zone or picked, several at once) each on a
//! fresh ticket, with a progress bar; Berth checks each as it arrives and answers with
//! its catalog entry.

use berth_protocol::api::backups::{BackupEntry, UploadBackup};
use berth_protocol::api::catalogue::BackupsUploadTicket;
use berth_protocol::error::{ErrorBody, ErrorCode};
use yew::prelude::*;

use crate::format::{bytes, given};
use crate::hooks::{on_pick, on_text, use_action, use_text};
use crate::ws::Ws;

#[derive(Properties, PartialEq)]
pub struct UploadProps {
    pub storages: Vec<String>,
    /// After a file entered the catalog.
    pub onchange: Callback<()>,
}

/// Bytes sent and the file's size, while an upload runs.
type Progress = UseStateHandle<Option<(f64, f64)>>;

#[function_component(UploadPanel)]
pub fn upload_panel(props: &UploadProps) -> Html {
    let action = use_action(Callback::noop());
    let progress: Progress = use_state(|| None);
    // The file on its way, with its place among those sent together.
    let current = use_state(|| None::<String>);
    let over = use_state(|| false);
    let (passphrase, storage) = (use_text(), use_text());
    // Several files go one after another, each on its own ticket; one that fails
    // does not stop the rest, and the outcome names each.
    let send = {
        let (action, progress, onchange) =
            (action.clone(), progress.clone(), props.onchange.clone());
        let (passphrase, storage, current) = (passphrase.clone(), storage.clone(), current.clone());
        Callback::from(move |files: Vec<web_sys::File>| {
            if files.is_empty() {
                return;
            }
            let request = UploadBackup {
                storage: given(&storage),
                passphrase: given(&passphrase),
            };
            action.clear();
            let (progress, onchange, current) =
                (progress.clone(), onchange.clone(), current.clone());
            action.spawn(move |ws, action| async move {
                let (mut done, mut failed) = (Vec::new(), Vec::new());
                for (i, file) in files.iter().enumerate() {
                    current.set(Some(format!(
                        "{} ({} of {})",
                        file.name(),
                        i + 1,
                        files.len()
                    )));
                    progress.set(Some((0.0, file.size())));
                    match upload(&ws, request.clone(), file, &progress).await {
                        Ok(said) => done.push(said),
                        Err(e) => failed.push(format!("{}: {}", file.name(), e.message)),
                    }
                }
                progress.set(None);
                current.set(None);
                if !done.is_empty() {
                    onchange.emit(());
                }
                action.show(outcome(done, failed));
            });
        })
    };
    let picked = {
        let send = send.clone();
        Callback::from(move |e: Event| {
            let files = e
                .target_dyn_into::<web_sys::HtmlInputElement>()
                .and_then(|i| i.files());
            send.emit(files.map(|f| list(&f)).unwrap_or_default());
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
            if let Some(files) = e.data_transfer().and_then(|d| d.files()) {
                send.emit(list(&files));
            }
        })
    };
    html! {
        <div id="backups-upload" class={classes!("dropzone", (*over).then_some("over"))}
            ondragover={dragover} ondragleave={dragleave} ondrop={drop}>
            <strong>{ "Upload a backup" }</strong>
            <span>{ " — drop .tar.gz or .tar.gz.enc files here, or " }</span>
            <input type="file" id="backups-upload-file" aria-label="Backup files to upload" multiple=true onchange={picked}
                accept=".gz,.enc,application/gzip" />
            <input type="password" id="backups-upload-passphrase" aria-label="Passphrase of encrypted files" value={(*passphrase).clone()} oninput={on_text(&passphrase)}
                placeholder="passphrase (encrypted files)" autocomplete="off" />
            <select id="backups-upload-storage" aria-label="Storage to upload to" onchange={on_pick(&storage)}>
                <option value="" selected={storage.is_empty()}>{ "default storage" }</option>
                { for props.storages.iter().map(|n| html!{ <option value={n.clone()} selected={*storage == *n}>{ n }</option> }) }
            </select>
            if let Some((done, all)) = *progress {
                <div class="upload-progress">
                    if let Some(file) = &*current { <span id="backups-upload-current">{ file }{ " " }</span> }
                    <progress id="backups-upload-progress" max={all.max(1.0).to_string()} value={done.to_string()} />
                    <span>{ format!(" {} of {}", bytes(done as u64), bytes(all as u64)) }</span>
                </div>
            }
            <div id="backups-upload-result">{ action.view() }</div>
        </div>
    }
}

/// The files of a picker or a drop.
fn list(files: &web_sys::FileList) -> Vec<web_sys::File> {
    (0..files.length()).filter_map(|i| files.get(i)).collect()
}

/// One sentence per file that entered the catalog; an error naming each that did not
/// (and saying what did).
fn outcome(done: Vec<String>, failed: Vec<String>) -> Result<String, ErrorBody> {
    if failed.is_empty() {
        return Ok(done.join(" "));
    }
    let mut message = format!("Not uploaded: {}.", failed.join("; "));
    if !done.is_empty() {
        message.push_str(&format!(" Uploaded: {}", done.join(" ")));
    }
    Err(ErrorBody::new(ErrorCode::BadRequest, message))
}

/// Sends the file on a fresh ticket; the sentence says what entered the catalog.
async fn upload(
    ws: &Ws,
    request: UploadBackup,
    file: &web_sys::File,
    progress: &Progress,
) -> Result<String, ErrorBody> {
    let ticket = ws.call_m::<BackupsUploadTicket>(request).await?;
    let p = progress.clone();
    let (status, text) =
        crate::http::put_file_with_progress(&ticket.url, file, move |done, all| {
            p.set(Some((done, all)));
        })
        .await
        .map_err(|e| ErrorBody::new(ErrorCode::Unavailable, e))?;
    if status != 200 {
        return Err(
            serde_json::from_str::<berth_protocol::auth::HttpError>(&text)
                .map(|e| e.error)
                .unwrap_or_else(|_| {
                    ErrorBody::new(ErrorCode::Internal, format!("upload failed: HTTP {status}"))
                }),
        );
    }
    let entry: BackupEntry = serde_json::from_str(&text)
        .map_err(|e| ErrorBody::new(ErrorCode::Internal, e.to_string()))?;
    Ok(format!(
        "{} is intact and now in the catalog as backup {} ({} {}).",
        file.name(),
        entry.id,
        entry.target.kind(),
        entry.target.name()
    ))
}
