//! A volume's files: browse directories, preview a file's start, download a file or a
//! whole directory (as a tar) through a transfer ticket. Operators only — files may
//! hold secrets; the host enforces it, the page says so.

use berth_protocol::api::catalogue::{VolumeBrowse, VolumeDownloadTicket, VolumeReadFile};
use berth_protocol::api::volumes::{
    BrowseVolume, DownloadVolumePath, Entry, FileChunk, Listing, ReadFile,
};
use berth_protocol::error::ErrorBody;
use yew::prelude::*;
use yew_router::prelude::*;

use crate::components::{error_view, loaded};
use crate::format::bytes;
use crate::hooks::use_call;
use crate::route::Route;
use crate::ws::{Ws, use_ws};

/// Bytes shown in a preview.
const PREVIEW: u64 = 64 * 1024;

#[derive(Debug, PartialEq, Properties)]
pub struct Props {
    pub name: String,
}

/// `/a/b` + `c` → `/a/b/c`.
fn join(dir: &str, name: &str) -> String {
    format!("{}/{name}", dir.trim_end_matches('/'))
}

/// The breadcrumb's steps: (label, path).
fn crumbs(path: &str) -> Vec<(String, String)> {
    let mut out = vec![("/".to_owned(), "/".to_owned())];
    let mut at = String::new();
    for part in path.split('/').filter(|p| !p.is_empty()) {
        at = format!("{at}/{part}");
        out.push((part.to_owned(), at.clone()));
    }
    out
}

/// Mints a ticket and lets the browser fetch it (the session cookie goes along).
async fn download(ws: Ws, volume: String, path: String) -> Result<(), ErrorBody> {
    let t = ws
        .call_m::<VolumeDownloadTicket>(DownloadVolumePath {
            host: None,
            name: volume,
            path,
        })
        .await?;
    crate::http::download_url(&t.filename, &t.url)
        .map_err(|e| ErrorBody::new(berth_protocol::error::ErrorCode::Internal, e))
}

#[function_component(VolumeFilesPage)]
pub fn volume_files_page(props: &Props) -> Html {
    let ctx = use_ws();
    let path = use_state(|| "/".to_owned());
    let preview = use_state(|| None::<Result<FileChunk, ErrorBody>>);
    let failure = use_state(|| None::<ErrorBody>);
    let (listing, _) = use_call::<VolumeBrowse>(BrowseVolume {
        host: None,
        name: props.name.clone(),
        path: (*path).clone(),
    });
    let go = {
        let (path, preview) = (path.clone(), preview.clone());
        Callback::from(move |p: String| {
            preview.set(None);
            path.set(p);
        })
    };
    let open_file = {
        let (ws, name, preview) = (ctx.ws.clone(), props.name.clone(), preview.clone());
        Callback::from(move |p: String| {
            let (ws, name, preview) = (ws.clone(), name.clone(), preview.clone());
            wasm_bindgen_futures::spawn_local(async move {
                let r = ws
                    .call_m::<VolumeReadFile>(ReadFile {
                        host: None,
                        name,
                        path: p,
                        offset: 0,
                        limit: Some(PREVIEW),
                    })
                    .await;
                preview.set(Some(r));
            });
        })
    };
    let fetch = {
        let (ws, name, failure) = (ctx.ws.clone(), props.name.clone(), failure.clone());
        Callback::from(move |p: String| {
            let (ws, name, failure) = (ws.clone(), name.clone(), failure.clone());
            wasm_bindgen_futures::spawn_local(async move {
                failure.set(download(ws, name, p).await.err());
            });
        })
    };
    let body = loaded(&listing, |l| table(l, &go, &open_file, &fetch));
    let here = (*path).clone();
    let download_here = {
        let (fetch, here) = (fetch.clone(), here.clone());
        Callback::from(move |_| fetch.emit(here.clone()))
    };
    html! {
        <section class="page" data-page="volume-files" data-volume={props.name.clone()}>
            <p class="crumbs"><Link<Route> to={Route::Volumes}>{ "Volumes" }</Link<Route>>{ " / " }</p>
            <h1>{ &props.name }</h1>
            <crate::components::BackUpNow target={berth_protocol::api::backups::BackupTarget::Volume { name: props.name.clone() }} />
            <nav class="path" id="files-path">
            { for crumbs(&here).into_iter().map(|(label, p)| {
                let go = go.clone();
                html! { <><a href="#" onclick={Callback::from(move |e: MouseEvent| { e.prevent_default(); go.emit(p.clone()) })}>{ label }</a>{ " " }</> }
            }) }
                <button type="button" class="small" id="download-dir" onclick={download_here}>{ "Download this folder (tar)" }</button>
            </nav>
            { failure.as_ref().map_or(html!{}, error_view) }
            { body }
            { preview.as_ref().map(preview_view).unwrap_or_default() }
        </section>
    }
}

/// The directory's entries, with a way up.
fn table(
    l: &Listing,
    go: &Callback<String>,
    open_file: &Callback<String>,
    fetch: &Callback<String>,
) -> Html {
    let up = (l.path != "/").then(|| {
        let up = l.path.rsplit_once('/').map_or_else(
            || "/".to_owned(),
            |(d, _)| {
                if d.is_empty() {
                    "/".to_owned()
                } else {
                    d.to_owned()
                }
            },
        );
        let go = go.clone();
        let onclick = Callback::from(move |e: MouseEvent| {
            e.prevent_default();
            go.emit(up.clone());
        });
        html! { <tr><td colspan="5"><a href="#" class="up" {onclick}>{ "↑ .." }</a></td></tr> }
    });
    html! {
        <table class="grid" id="files-table" data-path={l.path.clone()}>
            <thead><tr><th>{ "Name" }</th><th>{ "Size" }</th><th>{ "Mode" }</th><th>{ "Modified" }</th><th></th></tr></thead>
            <tbody>
            { up.unwrap_or_default() }
            { for l.entries.iter().map(|e| entry_row(e, &join(&l.path, &e.name), go, open_file, fetch)) }
            </tbody>
        </table>
    }
}

fn entry_row(
    e: &Entry,
    full: &str,
    go: &Callback<String>,
    open_file: &Callback<String>,
    fetch: &Callback<String>,
) -> Html {
    let open = {
        let (go, open_file, full, kind) = (
            go.clone(),
            open_file.clone(),
            full.to_owned(),
            e.kind.clone(),
        );
        Callback::from(move |ev: MouseEvent| {
            ev.prevent_default();
            match kind.as_str() {
                "dir" | "symlink" => go.emit(full.clone()),
                _ => open_file.emit(full.clone()),
            }
        })
    };
    let download = {
        let (fetch, full) = (fetch.clone(), full.to_owned());
        Callback::from(move |_| fetch.emit(full.clone()))
    };
    let icon = match e.kind.as_str() {
        "dir" => "📁 ",
        "symlink" => "↪ ",
        _ => "",
    };
    html! {
        <tr data-name={e.name.clone()} data-kind={e.kind.clone()}>
            <td><a href="#" class={classes!("entry", e.kind.clone())} onclick={open}>{ icon }{ &e.name }</a>
                if let Some(t) = &e.link_target { <span class="muted">{ format!(" → {t}") }</span> }</td>
            <td>{ if e.kind == "file" { bytes(e.size) } else { String::new() } }</td>
            <td class="mono">{ format!("{:o}", e.mode & 0o7777) }</td>
            <td>{ &e.mtime }</td>
            <td>if matches!(e.kind.as_str(), "file" | "dir") {
                <button type="button" class="small download" onclick={download}>{ if e.kind == "dir" { "Download (tar)" } else { "Download" } }</button>
            }</td>
        </tr>
    }
}

/// The start of a file: its text, or a note that it is binary.
fn preview_view(preview: &Result<FileChunk, ErrorBody>) -> Html {
    let c = match preview {
        Err(e) => return error_view(e),
        Ok(c) => c,
    };
    html! {
        <div class="preview" id="file-preview" data-path={c.path.clone()}>
            <h2>{ &c.path }<span class="muted">{ format!(" — {}", bytes(c.size)) }</span></h2>
            if c.encoding == "text" {
                <pre class="file-text" id="file-text">{ &c.data }</pre>
            } else {
                <p class="notice">{ "Binary file: download it to look inside." }</p>
            }
            if c.more {
                <p class="muted">{ format!("Showing the first {}; download the file for the rest.", bytes(PREVIEW)) }</p>
            }
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn breadcrumbs_and_joins() {
        assert_eq!(join("/", "a"), "/a");
        assert_eq!(join("/a", "b"), "/a/b");
        assert_eq!(
            crumbs("/a/b"),
            vec![
                ("/".to_owned(), "/".to_owned()),
                ("a".to_owned(), "/a".to_owned()),
                ("b".to_owned(), "/a/b".to_owned())
            ]
        );
    }
}
