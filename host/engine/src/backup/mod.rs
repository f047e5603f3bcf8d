//! Backups: the archive format ([`archive`], [`digest`], [`pargz`], [`crypt`]), the
//! catalog ([`catalog`]), the crash journal ([`journal`]) and the three jobs the queue
//! runs — [`create`] (a backup), [`restore`] and verify — [`copy`] (a backup sent to
//! another storage), and backups brought in from outside ([`upload`], and [`rescan`]
//! rebuilding the catalog from a storage). `berth backup decrypt` in
//! `main.rs` uses [`crypt`] directly.

pub mod archive;
pub mod aside;
pub mod catalog;
pub mod copy;
pub mod create;
pub mod crypt;
pub mod digest;
pub mod gather;
pub mod gunzip;
pub mod hooks;
pub mod host_paths;
pub mod journal;
pub mod members;
pub mod order;
pub mod origin;
pub mod pargz;
pub mod parts;
pub mod plan;
pub mod privileges;
pub mod rebase;
pub mod rescan;
pub mod restore;
pub mod spool;
pub mod upload;
pub mod volume_io;

use crate::EngineError;
use crate::prelude::*;
use std::sync::Arc;

use berth_protocol::api::backups::{BackupStatus, Manifest};
use berth_protocol::api::jobs::{JobState, LogLevel};
use bollard::Docker;
use bollard::query_parameters::DownloadFromContainerOptionsBuilder;
use futures_util::TryStreamExt;
use tokio_util::io::SyncIoBridge;

use crate::Engine;
use crate::jobs::JobCtx;
use berth_plugins::storage::{Session, StorageInstance};

// The specs are the queue's (`jobs::spec`); named here too, where their jobs are.
pub use crate::jobs::spec::{BackupSpec, CopySpec, RescanSpec, RestoreSpec, VerifySpec};

/// The storage instance named, or the default one.
pub fn storage(engine: &Engine, name: Option<&str>) -> Result<StorageInstance, EngineError> {
    engine.services.storage(name).map_err(EngineError::from)
}

/// Opens a storage session for a job.
pub async fn session(engine: &Engine, inst: &StorageInstance) -> Result<Session, EngineError> {
    engine
        .plugins
        .session(inst)
        .await
        .map_err(EngineError::from)
}

/// Seals a passphrase for a queued job.
pub fn seal_passphrase(engine: &Engine, p: Option<&str>) -> Result<Option<String>, EngineError> {
    match p {
        None => Ok(None),
        Some(p) if p.len() < 8 => Err(EngineError::bad(
            "passphrase",
            "a passphrase has at least 8 characters",
        )),
        Some(p) => Ok(Some(engine.secret_key.seal(p.as_bytes()))),
    }
}

/// Opens a job's sealed passphrase.
pub fn open_passphrase(
    engine: &Engine,
    sealed: Option<&str>,
) -> Result<Option<crypt::Secret>, EngineError> {
    sealed
        .map(|s| {
            engine
                .secret_key
                .open(s)
                .map_err(|e| EngineError::internal(&e))
                .and_then(|b| String::from_utf8(b).map_err(|e| EngineError::internal(&e)))
                .map(crypt::Secret::Passphrase)
        })
        .transpose()
}

/// A volume's tar, read through a helper container (Docker's archive API), as a
/// blocking `Read` for the archive thread. Must be created on the runtime.
pub fn volume_reader(docker: &Docker, helper: &str) -> gather::Gathered {
    let o = DownloadFromContainerOptionsBuilder::default()
        .path(&format!("{}/.", berth_docker::volpath::MOUNT))
        .build();
    let s = docker
        .download_from_container(helper, Some(o))
        .map_err(std::io::Error::other);
    gather::reader(s)
}

/// An archive problem as a job error.
pub fn io_body(e: &std::io::Error) -> EngineError {
    match e.kind() {
        std::io::ErrorKind::PermissionDenied => EngineError::forbidden(e.to_string()),
        std::io::ErrorKind::InvalidData => EngineError::conflict(e.to_string()),
        _ => EngineError::failed(e.to_string()),
    }
}

/// Reads a stored backup whole: checksum as catalogued, manifest, every volume against
/// its checksums.
pub async fn verify(
    engine: &Arc<Engine>,
    s: &VerifySpec,
    ctx: &JobCtx,
) -> Result<String, EngineError> {
    ctx.set_state(JobState::Starting, "opening the backup");
    ctx.set_backup(&s.backup);
    let rec = engine
        .store
        .backup(&s.backup)
        .map_err(|e| EngineError::internal(&e))?
        .ok_or_else(|| EngineError::not_found(format!("no backup {}", s.backup)))?;
    let secret = open_passphrase(engine, s.passphrase.as_deref())?;
    let inst = storage(engine, Some(&rec.entry.storage))?;
    let sess = session(engine, &inst).await?;
    ctx.totals(rec.entry.size, rec.manifest.volumes.len() as u64);
    ctx.set_state(JobState::Verifying, "verifying");
    let known = Some(rec.manifest.clone());
    let walked = read_stored(
        &sess,
        &rec.entry.key,
        secret,
        known,
        ctx,
        archive::check_part,
    )
    .await?;
    if walked.stored.sha256 != rec.entry.sha256 {
        return Err(EngineError::conflict(
            "the backup is damaged: its checksum differs from the one recorded when it was made",
        ));
    }
    ctx.log(
        LogLevel::Info,
        format!("sha256 {} matches", walked.stored.sha256),
    );
    Ok(format!(
        "backup {} is intact ({} volumes{}, {} bytes)",
        rec.entry.id,
        walked.manifest.volumes.len(),
        if walked.manifest.image.is_some() {
            " and the image"
        } else {
            ""
        },
        walked.stored.bytes
    ))
}

/// Streams a stored object through [`archive::walk_archive`] on a blocking thread.
pub async fn read_stored<F>(
    sess: &Session,
    key: &str,
    secret: Option<crypt::Secret>,
    known: Option<Manifest>,
    ctx: &JobCtx,
    on_part: F,
) -> Result<archive::Walked, EngineError>
where
    F: FnMut(archive::Part<'_>, &mut dyn std::io::Read) -> std::io::Result<Option<String>>
        + Send
        + 'static,
{
    let (w, r) = tokio::io::duplex(256 << 10);
    let reader = SyncIoBridge::new(r);
    let ctx2 = ctx.clone();
    let walk = tokio::task::spawn_blocking(move || {
        archive::walk_archive(
            reader,
            secret.as_ref(),
            known.as_ref(),
            Some(&ctx2),
            on_part,
        )
    });
    let got = sess.get(key, w).await;
    let walked = walk.await.map_err(|e| EngineError::internal(&e))?;
    match (got, walked) {
        (_, Ok(w)) => Ok(w),
        // The walk's own finding (damage, a wrong passphrase) says more than the
        // broken pipe the storage then saw; a storage failure says more than the
        // truncation the walk then saw.
        (Err(e), Err(w))
            if !matches!(
                w.kind(),
                std::io::ErrorKind::InvalidData | std::io::ErrorKind::PermissionDenied
            ) =>
        {
            Err(EngineError::from(e))
        }
        (_, Err(e)) => Err(io_body(&e)),
    }
}

/// Removes what interrupted backups left: a `pending` catalog entry and its object.
pub async fn reconcile(engine: &Arc<Engine>) {
    match engine.jobs.reconcile(&engine.store) {
        Ok(0) => {}
        Ok(n) => tracing::warn!(
            jobs = n,
            "jobs interrupted by a stop of Berth marked failed"
        ),
        Err(e) => tracing::error!(error = %e, "cannot reconcile the job queue"),
    }
    release_held(engine).await;
    let pending = match catalog::pending(&engine.store) {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(error = %e, "cannot read the backup catalog");
            return;
        }
    };
    for rec in pending {
        discard(engine, &rec.entry).await;
    }
}

/// Whether this run has removed the helpers an earlier run left (see [`release_held`]).
static HELPERS_SWEPT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Starts again the containers the journal says an interrupted backup left stopped or
/// paused, and removes the helper containers an earlier run of Berth left behind.
/// Entries (and the sweep) wait while Docker cannot be reached, so the next call
/// (before every job) retries them.
pub async fn release_held(engine: &Engine) {
    use std::sync::atomic::Ordering;
    let held = match engine.store.journal() {
        Ok(j) => !j.is_empty(),
        Err(e) => {
            tracing::error!(error = %e, "cannot read the backup journal");
            false
        }
    };
    let swept = HELPERS_SWEPT.load(Ordering::Acquire);
    if !held && swept {
        return;
    }
    let Ok(d) = engine.hosts.local().docker().await else {
        if held {
            tracing::warn!("Docker unreachable: containers held by interrupted backups wait");
        }
        return;
    };
    if !swept {
        match berth_docker::helper::sweep(&d).await {
            Ok(n) => {
                HELPERS_SWEPT.store(true, Ordering::Release);
                if n > 0 {
                    tracing::warn!(
                        helpers = n,
                        "helper containers left by an earlier run removed"
                    );
                }
            }
            Err(e) => tracing::warn!(
                error = e.to_string(),
                "cannot sweep stale helpers; will retry"
            ),
        }
    }
    if !held {
        return;
    }
    match journal::reconcile(&d, &engine.store, None).await {
        Ok(0) => {}
        Ok(n) => tracing::warn!(
            containers = n,
            "containers held by interrupted backups released"
        ),
        Err(e) => tracing::error!(error = %e, "cannot read the backup journal"),
    }
}

/// Starts again what one job left held (a job that panicked skips its own release).
pub async fn release_job(engine: &Engine, job: &str) {
    let held = engine
        .store
        .journal()
        .is_ok_and(|j| j.iter().any(|e| e.job == job));
    if !held {
        return;
    }
    match engine.hosts.local().docker().await {
        Ok(d) => {
            if let Err(e) = journal::reconcile(&d, &engine.store, Some(job)).await {
                tracing::error!(job, error = %e, "cannot read the backup journal");
            }
        }
        Err(_) => tracing::warn!(job, "Docker unreachable: containers the job held wait"),
    }
}

/// Deletes a backup's object (if any) and its catalog entry.
pub async fn discard(engine: &Engine, e: &berth_protocol::api::backups::BackupEntry) {
    let deleted = match storage(engine, Some(&e.storage)) {
        Ok(inst) => match session(engine, &inst).await {
            Ok(s) => s.delete(&e.key).await.map_err(|e| e.to_string()),
            Err(err) => Err(err.to_string()),
        },
        Err(err) => Err(err.to_string()),
    };
    if let Err(err) = deleted {
        tracing::warn!(
            backup = e.id,
            key = e.key,
            error = err,
            "cannot delete a partial backup"
        );
    }
    if e.status == BackupStatus::Pending {
        tracing::warn!(backup = e.id, "partial backup removed");
    }
    if let Err(err) = engine.store.delete_backup(&e.id) {
        tracing::error!(backup = e.id, error = %err, "cannot update the catalog");
    }
}
