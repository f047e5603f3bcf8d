//! `volumes.*` and `volume.browse` / `volume.read_file`. Contents are read through a
//! never-started helper container ([`berth_docker::helper`]) and the archive API, as
//! a streamed tar that is parsed as it arrives (memory stays flat for any volume).

use crate::transfers::Transfers;
use berth_docker::hosts::Hosts;
use berth_identity::principal::Principal;
use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::sync::Arc;

use berth_protocol::api::Empty;
use berth_protocol::api::catalogue::{
    VolumeBrowse, VolumeDownloadTicket, VolumeReadFile, VolumesBulkRemove, VolumesCreate,
    VolumesInspect, VolumesList, VolumesRemove,
};
use berth_protocol::api::containers::{BulkItem, BulkResult};
use berth_protocol::api::hosts::HostOnly;
use berth_protocol::api::rfc3339;
use berth_protocol::api::transfers::Ticket;
use berth_protocol::api::volumes::BrowseVolume;
use berth_protocol::api::volumes::BulkRemoveVolumes;
use berth_protocol::api::volumes::CreateVolume;
use berth_protocol::api::volumes::DownloadVolumePath;
use berth_protocol::api::volumes::ReadFile;
use berth_protocol::api::volumes::RemoveVolume;
use berth_protocol::api::volumes::VolumeRef;
use berth_protocol::api::volumes::{
    Entry, FileChunk, Listing, VolumeInspect, VolumeList, VolumeSummary,
};
use berth_protocol::error::{ErrorBody, ErrorCode};
use berth_protocol::role::Role;
use bollard::Docker;
use bollard::container::PathStatResponse;
use bollard::models::ContainerSummary as DockerSummary;
use bollard::query_parameters::{
    ContainerArchiveInfoOptionsBuilder, DownloadFromContainerOptionsBuilder, ListVolumesOptions,
};
use data_encoding::BASE64;
use futures_util::TryStreamExt;

use super::containers::{all_containers, host_docker};
use crate::errors::WireResult;
use crate::errors::docker_call as docker_err;
use crate::ws::registry::{Registry, bad_field, internal};
use berth_docker::args as docker_args;
use berth_docker::helper::Helper;
use berth_docker::hosts::Host;
use berth_docker::model::container_name;
use berth_docker::volpath;

/// Default and largest `volume.read_file` chunk.
const READ_MAX: u64 = 1 << 20;
/// Most entries one listing returns (the rest are counted, not sent).
const LIST_MAX: usize = 10_000;
/// Links followed while resolving one path, like the kernel's ELOOP limit.
const MAX_LINKS: usize = 40;
const GO_MODE_DIR: u32 = 1 << 31;
const GO_MODE_SYMLINK: u32 = 1 << 27;

/// Volume name → names of the containers (running or not) in `cs` that mount it.
pub(crate) fn volume_users(cs: &[DockerSummary]) -> HashMap<String, Vec<String>> {
    let mut users: HashMap<String, Vec<String>> = HashMap::new();
    for c in cs {
        // Berth's own helpers are not users.
        if c.labels
            .as_ref()
            .is_some_and(|l| l.contains_key(berth_docker::helper::LABEL))
        {
            continue;
        }
        let name = container_name(c.names.as_ref());
        for m in c.mounts.iter().flatten() {
            if let Some(v) = &m.name {
                users.entry(v.clone()).or_default().push(name.clone());
            }
        }
    }
    for v in users.values_mut() {
        v.sort();
        v.dedup();
    }
    users
}

/// The users of every volume, asked of Docker now.
async fn current_users(docker: &Docker) -> Result<HashMap<String, Vec<String>>, ErrorBody> {
    Ok(volume_users(&all_containers(docker, false).await?))
}

async fn remove_one(
    docker: &Docker,
    name: &str,
    users: &HashMap<String, Vec<String>>,
) -> Result<(), ErrorBody> {
    docker_args::object("name", name).wire()?;
    if let Some(u) = users.get(name).filter(|u| !u.is_empty()) {
        return Err(ErrorBody::new(
            ErrorCode::Conflict,
            format!("volume {name} is in use by {}", u.join(", ")),
        )
        .with(&berth_protocol::error::details::UsedBy { used_by: u.clone() }));
    }
    docker
        .remove_volume(name, None::<bollard::query_parameters::RemoveVolumeOptions>)
        .await
        .map_err(|e| docker_err(&e, &format!("volume {name}")))
}

/// Resolves `path` inside the helper's volume, following links while they stay in it.
async fn resolve(
    docker: &Docker,
    helper: &str,
    path: &str,
) -> Result<(Vec<String>, PathStatResponse), ErrorBody> {
    let mut parts = volpath::normalise(path).wire()?;
    let mut links = 0;
    'again: loop {
        for i in 0..=parts.len() {
            let p = volpath::in_helper(&parts[..i]);
            let o = ContainerArchiveInfoOptionsBuilder::default()
                .path(&p)
                .build();
            let stat = docker
                .get_container_archive_info(helper, Some(o))
                .await
                .map_err(|e| {
                    let mut err = docker_err(&e, "path");
                    if err.code == ErrorCode::NotFound || err.code == ErrorCode::Internal {
                        err = ErrorBody::new(
                            ErrorCode::NotFound,
                            format!(
                                "{} does not exist in the volume",
                                volpath::display(&parts[..i])
                            ),
                        );
                    }
                    err
                })?;
            if i > 0 && stat.file_mode & GO_MODE_SYMLINK != 0 {
                links += 1;
                if links > MAX_LINKS {
                    return Err(bad_field("path", "too many levels of links"));
                }
                parts = volpath::follow(&parts, i - 1, &stat.link_target).wire()?;
                continue 'again;
            }
            if i == parts.len() {
                return Ok((parts, stat));
            }
        }
    }
}

/// The helper mounting volume `name` and `path` resolved inside it; `not_found` for a
/// volume that does not exist (a mount would silently create it).
async fn open_path(
    docker: &Docker,
    name: &str,
    path: &str,
) -> Result<(Helper, Vec<String>, PathStatResponse), ErrorBody> {
    docker
        .inspect_volume(name)
        .await
        .map_err(|e| docker_err(&e, &format!("volume {name}")))?;
    let helper = Helper::for_volume(docker, name).await.wire()?;
    let (parts, stat) = resolve(docker, &helper.id, path).await?;
    Ok((helper, parts, stat))
}

/// Berth's own data volume (when Berth runs in a container with its data directory on
/// a volume): only an admin may look into it, and its installation key and first
/// password are served to no one — not as a file, not inside a directory's tar.
/// `whole`: the request reads everything under `parts` (a directory download).
async fn guard_own(
    h: &Host,
    docker: &Docker,
    role: Role,
    volume: &str,
    parts: &[String],
    whole: bool,
) -> Result<Role, ErrorBody> {
    let Some(own) = h.own_volume(docker, volume).await.wire()? else {
        return Ok(Role::Operator);
    };
    if own.is_secret(parts) || (whole && own.holds_data_dir(parts)) {
        return Err(ErrorBody::new(
            ErrorCode::Forbidden,
            format!(
                "{} would reveal Berth's installation key; it is never served",
                volpath::display(parts)
            ),
        ));
    }
    if !role.allows(Role::Admin) {
        return Err(ErrorBody::new(
            ErrorCode::Forbidden,
            format!("volume {volume} holds Berth's own data; only an admin may read it"),
        ));
    }
    Ok(Role::Admin)
}

fn kind_of(t: tar::EntryType) -> &'static str {
    if t.is_dir() {
        "dir"
    } else if t.is_symlink() {
        "symlink"
    } else if t.is_file() || t.is_hard_link() {
        "file"
    } else {
        "other"
    }
}

/// The archive of `path` as a blocking reader (for the tar parser, on a blocking thread).
fn archive_reader(docker: &Docker, helper: &str, path: &str) -> impl Read + Send + 'static {
    let o = DownloadFromContainerOptionsBuilder::default()
        .path(path)
        .build();
    let stream = docker
        .download_from_container(helper, Some(o))
        .map_err(std::io::Error::other);
    tokio_util::io::SyncIoBridge::new(tokio_util::io::StreamReader::new(Box::pin(stream)))
}

/// The name a download of `parts` in `volume` carries: the file's own name, or
/// `volume-dir-sub.tar` for a directory.
fn download_name(volume: &str, parts: &[String], dir: bool) -> String {
    if dir {
        let mut n = volume.to_owned();
        for p in parts {
            n.push('-');
            n.push_str(p);
        }
        n + ".tar"
    } else {
        parts.last().cloned().unwrap_or_else(|| volume.to_owned())
    }
}

/// Streams a ticket's volume path (`GET /api/v1/transfers/…`): a directory as the tar
/// Docker's archive API produces, a file as its bytes (honouring `Range`). The path is
/// resolved again, as it is now; the helper lives as long as the response body.
pub(crate) async fn download(
    state: &crate::server::AppState,
    role: Role,
    host: &str,
    volume: &str,
    path: &str,
    headers: &http::HeaderMap,
) -> Result<axum::response::Response, ErrorBody> {
    use axum::body::Body;
    use axum::http::header;
    use axum::response::IntoResponse;

    let h = state.engine.hosts.get(Some(host)).wire()?;
    let d = h.docker().await.wire()?;
    let (helper, parts, stat) = open_path(&d, volume, path).await?;
    // Resolved again as it is now (a link may have been swapped since the ticket).
    let dir = stat.file_mode & GO_MODE_DIR != 0;
    guard_own(&h, &d, role, volume, &parts, dir).await?;
    let inner = volpath::in_helper(&parts);
    if dir {
        let o = DownloadFromContainerOptionsBuilder::default()
            .path(&inner)
            .build();
        let body = d
            .download_from_container(&helper.id, Some(o))
            .map_err(std::io::Error::other)
            // The closure owns the helper: it is removed when the body is dropped.
            .inspect_ok(move |_| {
                let _ = &helper;
            });
        return Ok((
            [(header::CONTENT_TYPE, "application/x-tar")],
            Body::from_stream(body),
        )
            .into_response());
    }
    let size = stat.size.max(0) as u64;
    let (range, first, len) = match crate::transfers::ranged(headers, size) {
        Ok(r) => r,
        Err(answer) => return Ok(*answer),
    };
    let reader = archive_reader(&d, &helper.id, &inner);
    // The tar is parsed on a blocking thread and the file's bytes handed over in
    // chunks through a small channel: memory stays flat for any file size.
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<bytes::Bytes>>(4);
    tokio::task::spawn_blocking(move || {
        let _helper = helper;
        let run = || -> std::io::Result<()> {
            let mut archive = tar::Archive::new(reader);
            let mut e = archive
                .entries()?
                .next()
                .ok_or_else(|| std::io::Error::other("empty archive"))??;
            std::io::copy(&mut (&mut e).take(first), &mut std::io::sink())?;
            let mut left = len;
            let mut buf = vec![0u8; 64 * 1024];
            while left > 0 {
                let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                let n = e.read(&mut buf[..want])?;
                if n == 0 {
                    return Err(std::io::Error::other("the file shrank while it was read"));
                }
                left -= n as u64;
                if tx
                    .blocking_send(Ok(bytes::Bytes::copy_from_slice(&buf[..n])))
                    .is_err()
                {
                    return Ok(()); // the client went away
                }
            }
            Ok(())
        };
        if let Err(e) = run() {
            let _ = tx.blocking_send(Err(e));
        }
    });
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    Ok(crate::transfers::ranged_response(
        Body::from_stream(body),
        range,
        len,
        size,
    ))
}

pub fn register(r: &mut Registry) {
    r.method(VolumeDownloadTicket, download_ticket);
    r.method(VolumesList, list);
    r.method(VolumesCreate, create);
    r.method(VolumesInspect, inspect);
    r.method(VolumesRemove, remove);
    r.method(VolumesBulkRemove, bulk_remove);
    r.method(VolumeBrowse, browse);
    r.method(VolumeReadFile, read_file);
}

async fn download_ticket(
    (hosts, principal, transfers): (Arc<Hosts>, Principal, Arc<Transfers>),
    params: DownloadVolumePath,
) -> Result<Ticket, ErrorBody> {
    docker_args::object("name", &params.name).wire()?;
    let (host, d) = host_docker(&hosts, params.host.as_deref()).await?;
    // Checked now, so a bad name or path fails here and not in a browser download.
    let (_helper, parts, stat) = open_path(&d, &params.name, &params.path).await?;
    let dir = stat.file_mode & GO_MODE_DIR != 0;
    let needs = guard_own(&host, &d, principal.role, &params.name, &parts, dir).await?;
    transfers.mint(
        &principal.user,
        needs,
        download_name(&params.name, &parts, dir),
        crate::transfers::Source::VolumePath {
            host: host.name.clone(),
            volume: params.name,
            path: volpath::display(&parts),
        },
    )
}

/// Sizes come from the host's last measurement (`system.df`): the list itself has
/// none, and walking every volume on each listing would be slow.
async fn list(hosts: Arc<Hosts>, params: HostOnly) -> Result<VolumeList, ErrorBody> {
    let (host, d) = host_docker(&hosts, params.host.as_deref()).await?;
    let measured = host.sizes.peek();
    let list = d
        .list_volumes(None::<ListVolumesOptions>)
        .await
        .map_err(|e| docker_err(&e, "volumes"))?;
    let users = current_users(&d).await?;
    let mut volumes: Vec<VolumeSummary> = list
        .volumes
        .unwrap_or_default()
        .into_iter()
        .map(|v| summary(v, &users))
        .collect();
    for v in volumes.iter_mut().filter(|v| v.size.is_none()) {
        v.size = measured
            .as_ref()
            .and_then(|m| m.sizes.get(&v.name).copied());
    }
    volumes.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(VolumeList { volumes })
}

fn summary(v: bollard::models::Volume, users: &HashMap<String, Vec<String>>) -> VolumeSummary {
    VolumeSummary {
        used_by: users.get(&v.name).cloned().unwrap_or_default(),
        anonymous: berth_protocol::api::volumes::is_anonymous_name(&v.name) && v.labels.is_empty(),
        created: v.created_at.map(|t| t.to_rfc3339()),
        labels: v.labels.into_iter().collect::<BTreeMap<_, _>>(),
        size: v.usage_data.map(|u| u.size).filter(|s| *s >= 0),
        name: v.name,
        driver: v.driver,
        mountpoint: v.mountpoint,
    }
}

/// Creates a named volume, refusing a name in use: Docker would answer with the
/// existing volume and silently ignore the driver and options asked for.
async fn create(hosts: Arc<Hosts>, params: CreateVolume) -> Result<VolumeSummary, ErrorBody> {
    docker_args::new_object(
        &params.name,
        params.driver.as_deref(),
        &params.options,
        &params.labels,
    )
    .wire()?;
    let (_, d) = host_docker(&hosts, params.host.as_deref()).await?;
    if d.inspect_volume(&params.name).await.is_ok() {
        return Err(ErrorBody::new(
            ErrorCode::Conflict,
            format!("a volume named {} exists", params.name),
        ));
    }
    let request = bollard::models::VolumeCreateRequest {
        name: Some(params.name.clone()),
        driver: params.driver,
        driver_opts: Some(params.options.into_iter().collect()),
        labels: Some(params.labels.into_iter().collect()),
        ..Default::default()
    };
    let created = d
        .create_volume(request)
        .await
        .map_err(|e| docker_err(&e, &format!("volume {}", params.name)))?;
    tracing::info!(volume = %created.name, driver = %created.driver, "volume created");
    Ok(summary(created, &HashMap::new()))
}

async fn inspect(
    (hosts, principal): (Arc<Hosts>, Principal),
    params: VolumeRef,
) -> Result<VolumeInspect, ErrorBody> {
    docker_args::object("name", &params.name).wire()?;
    let (_, d) = host_docker(&hosts, params.host.as_deref()).await?;
    let v = d
        .inspect_volume(&params.name)
        .await
        .map_err(|e| docker_err(&e, &format!("volume {}", params.name)))?;
    let users = current_users(&d).await?;
    let mut inspect = serde_json::to_value(v).map_err(|e| internal(&e))?;
    if !principal.role.allows(Role::Operator) {
        berth_docker::redact::redact_volume(&mut inspect);
    }
    Ok(VolumeInspect {
        inspect,
        used_by: users.get(&params.name).cloned().unwrap_or_default(),
    })
}

async fn remove(hosts: Arc<Hosts>, params: RemoveVolume) -> Result<Empty, ErrorBody> {
    let (_, d) = host_docker(&hosts, params.host.as_deref()).await?;
    let users = current_users(&d).await?;
    remove_one(&d, &params.name, &users)
        .await
        .map(|()| Empty {})
}

async fn bulk_remove(
    hosts: Arc<Hosts>,
    params: BulkRemoveVolumes,
) -> Result<BulkResult, ErrorBody> {
    if params.names.is_empty() || params.names.len() > 500 {
        return Err(bad_field("names", "1 to 500 volumes"));
    }
    let (_, d) = host_docker(&hosts, params.host.as_deref()).await?;
    // Users once for the batch: removing a volume frees no other.
    let users = current_users(&d).await?;
    let mut results = Vec::new();
    for name in params.names {
        let r = remove_one(&d, &name, &users).await;
        results.push(BulkItem {
            ok: r.is_ok(),
            error: r.err(),
            id: name,
        });
    }
    Ok(BulkResult { results })
}

async fn browse(
    (hosts, principal): (Arc<Hosts>, Principal),
    params: BrowseVolume,
) -> Result<Listing, ErrorBody> {
    docker_args::object("name", &params.name).wire()?;
    let (h, d) = host_docker(&hosts, params.host.as_deref()).await?;
    let (helper, parts, stat) = open_path(&d, &params.name, &params.path).await?;
    guard_own(&h, &d, principal.role, &params.name, &parts, false).await?;
    if stat.file_mode & GO_MODE_DIR == 0 {
        return Err(bad_field(
            "path",
            format!("{} is not a directory", volpath::display(&parts)),
        ));
    }
    let reader = archive_reader(&d, &helper.id, &volpath::in_helper(&parts));
    let entries = tokio::task::spawn_blocking(move || -> std::io::Result<Vec<Entry>> {
        let mut out = Vec::new();
        let mut archive = tar::Archive::new(reader);
        for e in archive.entries()? {
            let e = e?;
            let path = e.path()?.into_owned();
            let comps: Vec<_> = path.components().collect();
            // The first component is the listed directory itself.
            if comps.len() != 2 || out.len() >= LIST_MAX {
                continue;
            }
            let h = e.header();
            out.push(Entry {
                name: comps[1].as_os_str().to_string_lossy().into_owned(),
                kind: kind_of(h.entry_type()).to_owned(),
                size: h.size().unwrap_or(0),
                mode: h.mode().unwrap_or(0) & 0o7777,
                mtime: rfc3339(h.mtime().unwrap_or(0) * 1000),
                link_target: e
                    .link_name()
                    .ok()
                    .flatten()
                    .map(|l| l.to_string_lossy().into_owned()),
            });
        }
        Ok(out)
    })
    .await
    .map_err(|e| internal(&e))?
    .map_err(|e| ErrorBody::new(ErrorCode::Unavailable, format!("reading the volume: {e}")))?;
    let mut entries = entries;
    entries.sort_by(|a, b| (a.kind != "dir", &a.name).cmp(&(b.kind != "dir", &b.name)));
    Ok(Listing {
        path: volpath::display(&parts),
        entries,
    })
}

async fn read_file(
    (hosts, principal): (Arc<Hosts>, Principal),
    params: ReadFile,
) -> Result<FileChunk, ErrorBody> {
    docker_args::object("name", &params.name).wire()?;
    let limit = params.limit.unwrap_or(READ_MAX).min(READ_MAX);
    let (h, d) = host_docker(&hosts, params.host.as_deref()).await?;
    let (helper, parts, stat) = open_path(&d, &params.name, &params.path).await?;
    guard_own(&h, &d, principal.role, &params.name, &parts, false).await?;
    if stat.file_mode & (GO_MODE_DIR | GO_MODE_SYMLINK) != 0 {
        return Err(bad_field(
            "path",
            format!("{} is not a file", volpath::display(&parts)),
        ));
    }
    let size = stat.size.max(0) as u64;
    let offset = params.offset.min(size);
    let reader = archive_reader(&d, &helper.id, &volpath::in_helper(&parts));
    let data = tokio::task::spawn_blocking(move || -> std::io::Result<Vec<u8>> {
        let mut archive = tar::Archive::new(reader);
        let mut entries = archive.entries()?;
        let Some(e) = entries.next() else {
            return Ok(Vec::new());
        };
        let mut e = e?;
        std::io::copy(&mut (&mut e).take(offset), &mut std::io::sink())?;
        let mut buf = Vec::with_capacity(limit as usize);
        (&mut e).take(limit).read_to_end(&mut buf)?;
        Ok(buf)
    })
    .await
    .map_err(|e| internal(&e))?
    .map_err(|e| ErrorBody::new(ErrorCode::Unavailable, format!("reading the volume: {e}")))?;
    let more = offset + (data.len() as u64) < size;
    // Text is valid UTF-8 without NUL bytes (which no text file has); anything else
    // travels as base64 so no byte is mangled.
    let (encoding, data) = if data.contains(&0) {
        ("base64", BASE64.encode(&data))
    } else {
        match String::from_utf8(data) {
            Ok(s) => ("text", s),
            Err(e) => ("base64", BASE64.encode(e.as_bytes())),
        }
    };
    Ok(FileChunk {
        path: volpath::display(&parts),
        size,
        offset,
        encoding: encoding.to_owned(),
        data,
        more,
    })
}
