//! `backups.*`: requests become jobs in the queue (`berth_engine::jobs`, served by
//! [`super::jobs`]); the work itself is `berth_engine::backup`.

use crate::transfers::Transfers;
use berth_engine::Engine;
use berth_identity::principal::Principal;
use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use berth_protocol::api::Empty;
use berth_protocol::api::backups::BackupQuery;
use berth_protocol::api::backups::BackupRef;
use berth_protocol::api::backups::BulkDeleteBackups;
use berth_protocol::api::backups::BundleBackups;
use berth_protocol::api::backups::RescanStorage;
use berth_protocol::api::backups::UploadBackup;
use berth_protocol::api::backups::{
    BackupEntry, BackupList, BackupStatus, BackupTarget, CreateBackup, RestoreBackup,
    RestorePreview,
};
use berth_protocol::api::backups::{CopyBackup, VerifyBackup};
use berth_protocol::api::catalogue::{
    BackupsBulkDelete, BackupsBundleTicket, BackupsCopy, BackupsCreate, BackupsDelete,
    BackupsDownloadTicket, BackupsList, BackupsPreview, BackupsRescan, BackupsRestore,
    BackupsUploadTicket, BackupsVerify, NetworkBackup, NetworkRestore,
};
use berth_protocol::api::containers::{BulkItem, BulkResult};
use berth_protocol::api::jobs::{JobRef, JobsQueued};
use berth_protocol::api::networks::NetworkRef;
use berth_protocol::api::transfers::Ticket;
use berth_protocol::error::{ErrorBody, ErrorCode};
use berth_protocol::role::Role;
use tokio::io::AsyncReadExt;

use crate::errors::Wire;
use crate::errors::WireResult;
use crate::ws::registry::{Registry, bad_field, blocking, internal};
use berth_core::store::Store;
use berth_docker::args as docker_args;
use berth_engine::backup::catalog::CatalogRecord;
use berth_engine::backup::{BackupSpec, RestoreSpec, VerifySpec, catalog, seal_passphrase};
use berth_engine::jobs::JobSpec;
use berth_engine::prelude::*;

/// Most targets one request may queue.
pub const MAX_TARGETS: usize = 100;

fn not_found(id: &str) -> ErrorBody {
    ErrorBody::new(ErrorCode::NotFound, format!("no backup {id}"))
}

fn record(engine: &Engine, id: &str) -> Result<CatalogRecord, ErrorBody> {
    engine
        .store
        .backup(id)
        .map_err(|e| internal(&e))?
        .ok_or_else(|| not_found(id))
}

/// Deletes a backup's object from its storage and its copies', then its catalog entry;
/// refused while a job uses it.
async fn delete_backup(engine: &Engine, id: &str) -> Result<(), ErrorBody> {
    let rec = deletable(engine, id)?;
    delete_copies(engine, &rec).await?;
    let inst = berth_engine::backup::storage(engine, Some(&rec.entry.storage)).wire()?;
    let sess = berth_engine::backup::session(engine, &inst).await.wire()?;
    sess.delete(&rec.entry.key)
        .await
        .map_err(|e| e.into_body())?;
    forget(engine, &rec.entry)
}

/// Drops a deleted backup's catalog entry and says so on the `events` channel.
fn forget(engine: &Engine, entry: &BackupEntry) -> Result<(), ErrorBody> {
    engine
        .store
        .delete_backup(&entry.id)
        .map_err(|e| internal(&e))?;
    engine
        .jobs
        .activity
        .publish(catalog::notice(entry, "deleted"));
    Ok(())
}

/// Deletes a backup's copies (`backups.copy`), recording each one gone as it goes,
/// so a failure part way leaves the catalog listing exactly what is left.
async fn delete_copies(engine: &Engine, rec: &CatalogRecord) -> Result<(), ErrorBody> {
    let mut rec = rec.clone();
    while let Some(copy) = rec.entry.copies.first().cloned() {
        let inst = berth_engine::backup::storage(engine, Some(&copy.storage)).wire()?;
        let sess = berth_engine::backup::session(engine, &inst).await.wire()?;
        sess.delete(&copy.key).await.map_err(|e| e.into_body())?;
        rec.entry.copies.remove(0);
        engine.store.put_backup(&rec).map_err(|e| internal(&e))?;
    }
    Ok(())
}

/// The backup `id`, unless a job uses it.
fn deletable(engine: &Engine, id: &str) -> Result<CatalogRecord, ErrorBody> {
    let rec = record(engine, id)?;
    if engine.jobs.uses_backup(&engine.store, id).wire()? {
        return Err(ErrorBody::new(
            ErrorCode::Conflict,
            format!("backup {id} is being used by a job; cancel it or wait"),
        ));
    }
    Ok(rec)
}

/// `backups.bulk_delete`: as [`delete`] for each id, with one storage session per
/// storage and its objects deleted in batches (one plugin-thread hop per batch, not
/// per backup). Results keep the order of `ids`.
async fn delete_all(engine: &Engine, ids: &[String]) -> Vec<Result<(), ErrorBody>> {
    let mut out: Vec<Result<(), ErrorBody>> = Vec::with_capacity(ids.len());
    // storage name → (index in `ids`, backup entry)
    let mut by_storage: BTreeMap<String, Vec<(usize, BackupEntry)>> = BTreeMap::new();
    for (i, id) in ids.iter().enumerate() {
        match deletable(engine, id) {
            // Copies live on other storages: one at a time, like `backups.delete`.
            Ok(rec) if !rec.entry.copies.is_empty() => {
                out.push(Box::pin(delete_backup(engine, id)).await);
            }
            Ok(rec) => {
                out.push(Ok(()));
                by_storage
                    .entry(rec.entry.storage.clone())
                    .or_default()
                    .push((i, rec.entry));
            }
            Err(e) => out.push(Err(e)),
        }
    }
    for (storage, items) in by_storage {
        let sess = match berth_engine::backup::storage(engine, Some(&storage)) {
            Ok(inst) => berth_engine::backup::session(engine, &inst).await,
            Err(e) => Err(e),
        };
        let sess = match sess.wire() {
            Ok(s) => s,
            Err(e) => {
                for (i, ..) in &items {
                    out[*i] = Err(e.clone());
                }
                continue;
            }
        };
        let keys: Vec<String> = items.iter().map(|(_, e)| e.key.clone()).collect();
        for ((i, entry), r) in items.iter().zip(sess.delete_many(&keys).await) {
            out[*i] = r
                .map_err(|e| e.into_body())
                .and_then(|()| forget(engine, entry));
        }
    }
    out
}

/// `GET /api/v1/transfers/{ticket}` of a backup: the object as stored, streamed from
/// its storage; a `Range` is served by skipping to its start (storage plugins read
/// objects front to back).
pub async fn download(
    engine: &Engine,
    id: &str,
    headers: &HeaderMap,
) -> Result<Response, ErrorBody> {
    let rec = record(engine, id)?;
    let size = rec.entry.size;
    let (range, first, len) = match crate::transfers::ranged(headers, size) {
        Ok(r) => r,
        Err(answer) => return Ok(*answer),
    };
    let inst = berth_engine::backup::storage(engine, Some(&rec.entry.storage)).wire()?;
    let sess = berth_engine::backup::session(engine, &inst).await.wire()?;
    let (w, mut r) = tokio::io::duplex(256 << 10);
    let key = rec.entry.key.clone();
    tokio::spawn(async move {
        // Ends when the object is read or the client goes away (the pipe closes).
        if let Err(e) = sess.get(&key, w).await {
            tracing::debug!(key, error = %e, "backup download ended early");
        }
    });
    tokio::io::copy(&mut (&mut r).take(first), &mut tokio::io::sink())
        .await
        .map_err(|e| internal(&e))?;
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(r.take(len)));
    Ok(crate::transfers::ranged_response(body, range, len, size))
}

/// Most backups one bundle may carry.
pub const MAX_BUNDLE: usize = 100;

/// The size of a tar holding objects of these sizes: a header block each, the data
/// padded to blocks, two zero blocks at the end.
fn bundle_len(sizes: impl Iterator<Item = u64>) -> u64 {
    sizes.map(|n| 512 + n.div_ceil(512) * 512).sum::<u64>() + 1024
}

/// The GET of a `backups.bundle_ticket`: one plain tar streamed from the stored
/// objects one after the other (each already compressed, so no second gzip; its
/// length is known in advance, so the browser shows real progress). An object that
/// cannot be read whole cuts the stream short, which the client sees against
/// `Content-Length`.
pub async fn download_bundle(engine: &Arc<Engine>, ids: &[String]) -> Result<Response, ErrorBody> {
    let recs = ids
        .iter()
        .map(|id| record(engine, id))
        .collect::<Result<Vec<_>, _>>()?;
    let len = bundle_len(recs.iter().map(|r| r.entry.size));
    let (mut w, r) = tokio::io::duplex(256 << 10);
    let engine = Arc::clone(engine);
    tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        for rec in recs {
            let e = &rec.entry;
            let mut h = tar::Header::new_ustar();
            // `<kind>-<name>/<id>.tar.gz[.enc]`, whatever key the storage has.
            let ext = if e.encrypted {
                ".tar.gz.enc"
            } else {
                ".tar.gz"
            };
            let path = format!("{}-{}/{}{ext}", e.target.kind(), e.target.name(), e.id);
            if h.set_path(&path).is_err() {
                return;
            }
            h.set_size(e.size);
            h.set_mode(0o644);
            h.set_mtime(e.created_ms / 1000);
            h.set_entry_type(tar::EntryType::Regular);
            h.set_cksum();
            if w.write_all(h.as_bytes()).await.is_err() {
                return;
            }
            let got = match berth_engine::backup::storage(&engine, Some(&e.storage)) {
                Ok(inst) => match berth_engine::backup::session(&engine, &inst).await {
                    Ok(sess) => sess
                        .get(&e.key, &mut w)
                        .await
                        .map_err(|err| err.to_string()),
                    Err(err) => Err(err.to_string()),
                },
                Err(err) => Err(err.to_string()),
            };
            match got {
                Ok(n) if n == e.size => {}
                Ok(n) => {
                    tracing::warn!(
                        backup = e.id,
                        bytes = n,
                        expected = e.size,
                        "bundle cut short: the object changed size"
                    );
                    return;
                }
                Err(err) => {
                    tracing::warn!(backup = e.id, error = err, "bundle cut short");
                    return;
                }
            }
            let pad = (512 - e.size % 512) % 512;
            if w.write_all(&vec![0; pad as usize]).await.is_err() {
                return;
            }
        }
        let _ = w.write_all(&[0; 1024]).await;
    });
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(r));
    Ok((
        [
            (header::CONTENT_TYPE, "application/x-tar".to_owned()),
            (header::CONTENT_LENGTH, len.to_string()),
        ],
        body,
    )
        .into_response())
}

/// `backups.create` (and `network.backup`): one queued job per target.
async fn create(
    (principal, engine): (Principal, Arc<Engine>),
    params: CreateBackup,
) -> Result<JobsQueued, ErrorBody> {
    if params.targets.is_empty() || params.targets.len() > MAX_TARGETS {
        return Err(bad_field("targets", format!("1 to {MAX_TARGETS} targets")));
    }
    for t in &params.targets {
        docker_args::object("targets", t.name()).wire()?;
        let containers = matches!(
            t,
            BackupTarget::Container { .. } | BackupTarget::Project { .. }
        );
        if params.include_image && !containers {
            return Err(bad_field(
                "include_image",
                "only container and project targets have images to carry",
            ));
        }
        if !params.hooks.is_empty() && !containers {
            return Err(bad_field(
                "hooks",
                "hooks run inside containers: only container and project targets take them",
            ));
        }
    }
    berth_engine::backup::hooks::resolve(&params.hooks, &Default::default()).wire()?;
    engine.hosts.get(params.host.as_deref()).wire()?;
    // The storage must exist now, not only when the job runs.
    berth_engine::backup::storage(&engine, params.storage.as_deref()).wire()?;
    let sealed = seal_passphrase(&engine, params.passphrase.as_deref()).wire()?;
    let consistency = params.consistency.unwrap_or_default();
    let who = principal.actor();
    let mut jobs = Vec::new();
    for t in params.targets {
        let title = format!("Back up {} {}", t.kind(), t.name());
        let spec = JobSpec::Backup(BackupSpec {
            host: params.host.clone(),
            target: t,
            consistency,
            storage: params.storage.clone(),
            passphrase: sealed.clone(),
            trigger: Default::default(),
            hooks: params.hooks.clone(),
            include_image: params.include_image,
            schedule: None,
        });
        jobs.push(
            engine
                .jobs
                .enqueue(&engine.store, spec, title, who.clone())
                .wire()?,
        );
    }
    Ok(JobsQueued { jobs })
}

/// What restoring `rec` with `params` on `host` would meet (conflicts, host-level
/// settings needing approval): the one check `backups.preview` shows and
/// `backups.restore` enforces.
async fn check_on(
    engine: &Engine,
    host: &berth_docker::hosts::Host,
    rec: &CatalogRecord,
    params: &RestoreBackup,
) -> Result<berth_engine::backup::restore::Checked, ErrorBody> {
    let dest =
        berth_engine::backup::host_paths::Destinations::of(engine, &rec.manifest, params).wire()?;
    berth_engine::backup::restore::check(
        &host.docker().await.wire()?,
        &rec.manifest,
        params,
        rec.entry.origin,
        &dest,
    )
    .await
    .wire()
}

/// `backups.restore` (and `network.restore`): checked, then queued.
async fn restore(
    (principal, engine): (Principal, Arc<Engine>),
    params: RestoreBackup,
) -> Result<JobRef, ErrorBody> {
    let rec = record(&engine, &params.id)?;
    if rec.entry.status != BackupStatus::Complete {
        return Err(ErrorBody::new(
            ErrorCode::Conflict,
            format!("backup {} is not complete", params.id),
        ));
    }
    let host = engine.hosts.get(params.host.as_deref()).wire()?;
    if let Some(n) = &params.name {
        docker_args::object("name", n).wire()?;
    }
    // A host directory's entry maps to a path, checked where the restore is planned.
    for (entry, n) in &params.volumes {
        if !berth_engine::backup::host_paths::valid_entry_name(entry) {
            docker_args::object("volumes", n).wire()?;
        }
    }
    if rec.entry.encrypted && params.passphrase.is_none() {
        return Err(bad_field(
            "passphrase",
            "this backup is encrypted; give its passphrase",
        ));
    }
    // Refused now rather than as a failed job: the conflict is named at once, and what
    // only an admin may do (replace volumes, grant host-level settings, restore a
    // backup another installation wrote) is refused to others before it is queued.
    let admin = principal.role == Role::Admin;
    let checked = check_on(&engine, &host, &rec, &params).await?;
    checked.refuse().wire()?;
    checked.authorise(admin, &params.approve).wire()?;
    let mut request = params;
    request.passphrase = seal_passphrase(&engine, request.passphrase.as_deref()).wire()?;
    let what = match &rec.entry.target {
        BackupTarget::Container { name } => {
            format!("container {}", request.name.as_deref().unwrap_or(name))
        }
        BackupTarget::Volume { name } => format!("volume {name}"),
        BackupTarget::Network { name } => {
            format!("network {}", request.name.as_deref().unwrap_or(name))
        }
        BackupTarget::Project { name } => {
            format!("project {}", request.name.as_deref().unwrap_or(name))
        }
    };
    let id = engine
        .jobs
        .enqueue(
            &engine.store,
            JobSpec::Restore(RestoreSpec { request, admin }),
            format!("Restore {what}"),
            principal.actor(),
        )
        .wire()?;
    Ok(JobRef { id })
}

pub fn register(r: &mut Registry) {
    r.method(BackupsCreate, create);
    r.method(NetworkBackup, network_backup);
    r.method(BackupsList, list);
    r.method(BackupsDelete, delete);
    r.method(BackupsBulkDelete, bulk_delete);
    r.method(BackupsPreview, preview);
    r.method(BackupsDownloadTicket, download_ticket);
    r.method(BackupsBundleTicket, bundle_ticket);
    r.method(BackupsUploadTicket, upload_ticket);

    r.method(BackupsRestore, restore);
    r.method(NetworkRestore, network_restore);
    r.method(BackupsVerify, verify);
    r.method(BackupsRescan, rescan);
    r.method(BackupsCopy, copy);
}

/// `backups.copy`: checked now (the backup, the storage, not there already), so a
/// mistake fails before queuing; the job checks again when it runs.
async fn copy(
    (principal, engine): (Principal, Arc<Engine>),
    params: CopyBackup,
) -> Result<JobRef, ErrorBody> {
    let inst = berth_engine::backup::storage(&engine, Some(&params.storage)).wire()?;
    let spec = berth_engine::backup::CopySpec {
        backup: params.id.clone(),
        storage: inst.name,
    };
    berth_engine::backup::copy::copyable(&engine, &spec).wire()?;
    let title = format!("Copy backup {} to {}", spec.backup, spec.storage);
    let id = engine
        .jobs
        .enqueue(&engine.store, JobSpec::Copy(spec), title, principal.actor())
        .wire()?;
    Ok(JobRef { id })
}

async fn network_backup(
    caller: (Principal, Arc<Engine>),
    params: NetworkRef,
) -> Result<JobsQueued, ErrorBody> {
    create(
        caller,
        CreateBackup {
            host: params.host,
            targets: vec![BackupTarget::Network { name: params.id }],
            ..Default::default()
        },
    )
    .await
}

async fn list(store: Arc<Store>, q: BackupQuery) -> Result<BackupList, ErrorBody> {
    blocking(move || {
        let mut backups: Vec<_> = store
            .backup_entries()
            .map_err(|e| internal(&e))?
            .into_iter()
            .filter(|e| catalog::matches(e, &q))
            .collect();
        backups.reverse();
        Ok(BackupList { backups })
    })
    .await
}

async fn delete(engine: Arc<Engine>, params: BackupRef) -> Result<Empty, ErrorBody> {
    delete_backup(&engine, &params.id).await?;
    Ok(Empty {})
}

async fn bulk_delete(
    engine: Arc<Engine>,
    params: BulkDeleteBackups,
) -> Result<BulkResult, ErrorBody> {
    if params.ids.is_empty() || params.ids.len() > 500 {
        return Err(bad_field("ids", "1 to 500 ids"));
    }
    let done = delete_all(&engine, &params.ids).await;
    let results = params
        .ids
        .into_iter()
        .zip(done)
        .map(|(id, r)| BulkItem {
            id,
            ok: r.is_ok(),
            error: r.err(),
        })
        .collect();
    Ok(BulkResult { results })
}

async fn preview(engine: Arc<Engine>, params: RestoreBackup) -> Result<RestorePreview, ErrorBody> {
    let rec = record(&engine, &params.id)?;
    let host = engine.hosts.get(params.host.as_deref()).wire()?;
    let checked = check_on(&engine, &host, &rec, &params).await?;
    Ok(RestorePreview {
        backup: rec.entry,
        manifest: rec.manifest,
        conflicts: checked.conflicts,
        privileges: checked.privileges,
        needs_approval: checked.needs_approval,
        overwrites: checked.recreate,
    })
}

async fn download_ticket(
    (principal, engine, transfers): (Principal, Arc<Engine>, Arc<Transfers>),
    params: BackupRef,
) -> Result<Ticket, ErrorBody> {
    let rec = record(&engine, &params.id)?;
    if rec.entry.status != BackupStatus::Complete {
        return Err(ErrorBody::new(
            ErrorCode::Conflict,
            format!("backup {} is not complete", params.id),
        ));
    }
    let filename = rec
        .entry
        .key
        .rsplit('/')
        .next()
        .unwrap_or(&rec.entry.key)
        .to_owned();
    transfers.mint(
        &principal.user,
        Role::Operator,
        filename,
        crate::transfers::Source::Backup { id: params.id },
    )
}

async fn bundle_ticket(
    (principal, engine, transfers): (Principal, Arc<Engine>, Arc<Transfers>),
    params: BundleBackups,
) -> Result<Ticket, ErrorBody> {
    if params.ids.is_empty() || params.ids.len() > MAX_BUNDLE {
        return Err(bad_field("ids", format!("1 to {MAX_BUNDLE} backups")));
    }
    let mut seen = std::collections::HashSet::new();
    for id in &params.ids {
        if !seen.insert(id) {
            return Err(bad_field("ids", format!("{id} is listed twice")));
        }
        let rec = record(&engine, id)?;
        if rec.entry.status != BackupStatus::Complete {
            return Err(ErrorBody::new(
                ErrorCode::Conflict,
                format!("backup {id} is not complete"),
            ));
        }
    }
    transfers.mint(
        &principal.user,
        Role::Operator,
        format!("berth-backups-{}.tar", params.ids.len()),
        crate::transfers::Source::BackupBundle { ids: params.ids },
    )
}

async fn upload_ticket(
    (principal, transfers, engine): (Principal, Arc<Transfers>, Arc<Engine>),
    params: UploadBackup,
) -> Result<Ticket, ErrorBody> {
    // Checked now, so a wrong name fails before the bytes travel.
    let inst = berth_engine::backup::storage(&engine, params.storage.as_deref()).wire()?;
    let passphrase = seal_passphrase(&engine, params.passphrase.as_deref()).wire()?;
    transfers.mint(
        &principal.user,
        Role::Operator,
        "backup.tar.gz".into(),
        crate::transfers::Source::BackupUpload {
            storage: Some(inst.name),
            passphrase,
        },
    )
}

async fn network_restore(
    caller: (Principal, Arc<Engine>),
    params: RestoreBackup,
) -> Result<JobRef, ErrorBody> {
    if !matches!(
        record(&caller.1, &params.id)?.entry.target,
        BackupTarget::Network { .. }
    ) {
        return Err(bad_field(
            "id",
            format!("backup {} is not of a network", params.id),
        ));
    }
    restore(caller, params).await
}

async fn verify(
    (principal, engine): (Principal, Arc<Engine>),
    params: VerifyBackup,
) -> Result<JobRef, ErrorBody> {
    engine
        .store
        .backup(&params.id)
        .map_err(|e| internal(&e))?
        .ok_or_else(|| not_found(&params.id))?;
    let passphrase = seal_passphrase(&engine, params.passphrase.as_deref()).wire()?;
    let id = engine
        .jobs
        .enqueue(
            &engine.store,
            JobSpec::Verify(VerifySpec {
                backup: params.id.clone(),
                passphrase,
            }),
            format!("Verify backup {}", params.id),
            principal.actor(),
        )
        .wire()?;
    Ok(JobRef { id })
}

async fn rescan(
    (principal, engine): (Principal, Arc<Engine>),
    params: RescanStorage,
) -> Result<JobRef, ErrorBody> {
    // Checked now, so a wrong name fails before queuing.
    let inst = berth_engine::backup::storage(&engine, params.storage.as_deref()).wire()?;
    let passphrase = seal_passphrase(&engine, params.passphrase.as_deref()).wire()?;
    let id = engine
        .jobs
        .enqueue(
            &engine.store,
            JobSpec::Rescan(berth_engine::backup::RescanSpec {
                storage: Some(inst.name.clone()),
                passphrase,
            }),
            format!("Rebuild the catalog from storage {}", inst.name),
            principal.actor(),
        )
        .wire()?;
    Ok(JobRef { id })
}
