//! Backups brought in from outside (`backups.upload_ticket` + `PUT`): the body streams
//! into the storage and, at the same time, through [`archive::walk_archive`] — manifest
//! first and of a known format, every volume's tar against its checksums, nothing
//! missing or extra. Only an archive that walks clean and was stored whole enters the
//! catalog; anything else is deleted again, so a rejected file leaves nothing behind.
//! One pass over the bytes, bounded memory, no temporary copy on disk.

use crate::EngineError;
use crate::prelude::*;
use std::sync::Arc;

use berth_protocol::api::backups::{
    BackupEntry, BackupOrigin, BackupStatus, Manifest, ManifestVolume,
};
use bytes::Bytes;
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio_util::io::{StreamReader, SyncIoBridge};

use super::archive::{self, Walked};
use super::catalog::CatalogRecord;
use super::{crypt, open_passphrase, session, storage};
use crate::Engine;

/// Where an uploaded backup is kept in its storage: its id is only known once the
/// manifest has been read, and storages cannot rename.
fn upload_key(token: &str, sealed: bool) -> String {
    format!(
        "uploaded/{token}.tar.gz{}",
        if sealed { ".enc" } else { "" }
    )
}

/// The catalog entry an archive describes, stored as `key` in `storage`; `origin`
/// says whether this installation's key verifies its manifest.
pub fn entry_of(
    m: &Manifest,
    storage: &str,
    key: &str,
    encrypted: bool,
    walked: &Walked,
    origin: BackupOrigin,
) -> BackupEntry {
    BackupEntry {
        id: m.id.clone(),
        target: m.target.clone(),
        host: m.host.clone(),
        trigger: m.trigger,
        consistency: m.consistency,
        storage: storage.to_owned(),
        key: key.to_owned(),
        size: walked.stored.bytes,
        created_ms: m.created_ms,
        encrypted,
        sha256: walked.stored.sha256.clone(),
        status: BackupStatus::Complete,
        volumes: ManifestVolume::volume_names(&m.volumes),
        data_bytes: m.volumes.iter().map(|v| v.tar_bytes).sum(),
        origin,
        copies: Vec::new(),
        schedule: None,
        pinned: false,
    }
}

/// Takes in one uploaded backup (the request body's chunks); returns its catalog entry.
pub async fn receive<S, E>(
    engine: &Arc<Engine>,
    storage_name: Option<&str>,
    sealed_passphrase: Option<&str>,
    mut chunks: S,
) -> Result<BackupEntry, EngineError>
where
    S: futures_util::Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let inst = storage(engine, storage_name)?;
    let secret = open_passphrase(engine, sealed_passphrase)?;
    let sess = session(engine, &inst).await?;

    // The first bytes say whether it is sealed, which names the object.
    let head = read_head(&mut chunks).await?;
    let sealed = crypt::is_encrypted(&head);
    if sealed && secret.is_none() {
        return Err(EngineError::bad_request(
            "this backup is encrypted: ask for the upload ticket with its passphrase, so it can be checked",
        ));
    }
    let key = upload_key(&berth_identity::sessions::new_token()[..24], sealed);

    // One feeder, two readers: the storage upload and the walk.
    let (put_tx, mut put_rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(2);
    let (walk_w, walk_r) = tokio::io::duplex(256 << 10);
    let walk = tokio::task::spawn_blocking(move || {
        archive::walk_archive(
            SyncIoBridge::new(walk_r),
            secret.as_ref(),
            None,
            None,
            archive::check_part,
        )
    });
    let feed = feed(head, chunks, put_tx, walk_w);
    let put = sess.put(
        &key,
        StreamReader::new(futures_util::stream::poll_fn(move |cx| {
            put_rx.poll_recv(cx)
        })),
    );
    let (fed, stored) = tokio::join!(feed, put);
    let walked = walk.await.map_err(|e| EngineError::internal(&e))?;
    let outcome = match judge(walked, stored, fed) {
        Ok(walked) => admit(engine, &inst.name, &key, sealed, walked),
        Err(e) => Err(e),
    };
    // A rescan that ran between the put and the catalog check may have catalogued
    // this very object: then it is someone's backup now, not a leftover.
    let catalogued = || {
        engine
            .store
            .backup_entries()
            .is_ok_and(|all| all.iter().any(|e| e.storage == inst.name && e.key == key))
    };
    if outcome.is_err() && !catalogued() {
        // Nothing of a refused file stays (the put may have finished before the walk
        // found the damage at the end).
        if let Err(e) = sess.delete(&key).await {
            tracing::debug!(key, error = %e, "nothing to delete after a refused upload");
        }
    }
    outcome
}

/// The first bytes of the upload, enough to tell a sealed archive from a plain one.
async fn read_head<S, E>(chunks: &mut S) -> Result<Vec<u8>, EngineError>
where
    S: futures_util::Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let mut head = Vec::new();
    while head.len() < crypt::MAGIC.len() {
        match chunks.next().await {
            Some(Ok(c)) => head.extend_from_slice(&c),
            Some(Err(e)) => return Err(aborted(&e)),
            None => break,
        }
    }
    if head.is_empty() {
        return Err(EngineError::bad_request(
            "the upload is empty: send a backup file",
        ));
    }
    Ok(head)
}

/// Hands every chunk (the head first) to the walk and to the storage upload.
async fn feed<S, E>(
    head: Vec<u8>,
    mut chunks: S,
    put_tx: tokio::sync::mpsc::Sender<std::io::Result<Bytes>>,
    mut walk_w: tokio::io::DuplexStream,
) -> Result<(), Fed>
where
    S: futures_util::Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let mut next = Some(Ok(Bytes::from(head)));
    while let Some(c) = next {
        let c = match c {
            Ok(c) => c,
            Err(e) => {
                let msg = format!("the upload broke off: {e}");
                let _ = put_tx.send(Err(std::io::Error::other(msg.clone()))).await;
                return Err(Fed::BrokeOff(msg));
            }
        };
        // A walk that already failed stops reading; the storage must not then see a
        // clean end.
        if walk_w.write_all(&c).await.is_err() {
            let _ = put_tx
                .send(Err(std::io::Error::other("the archive was refused")))
                .await;
            return Err(Fed::WalkStopped);
        }
        if put_tx.send(Ok(c)).await.is_err() {
            return Ok(());
        }
        next = chunks.next().await.map(|r| r.map_err(|e| e.to_string()));
    }
    // A walk that ended first has said why already.
    let _ = walk_w.shutdown().await;
    Ok(())
}

/// What came of an upload, from the walk's, the storage's and the feeder's results.
/// The walk's own finding says most (damage, a wrong passphrase); then the storage's;
/// then the connection's; a walk that just could not read on is a file that is not a
/// backup, or not all of one.
fn judge(
    walked: std::io::Result<Walked>,
    stored: Result<u64, berth_plugins::PluginError>,
    fed: Result<(), Fed>,
) -> Result<Walked, EngineError> {
    match (walked, stored, fed) {
        (Err(e), _, _)
            if matches!(
                e.kind(),
                std::io::ErrorKind::InvalidData | std::io::ErrorKind::PermissionDenied
            ) =>
        {
            Err(EngineError::bad_request(e.to_string()))
        }
        (_, _, Err(Fed::BrokeOff(msg))) => Err(EngineError::bad_request(msg)),
        (Ok(_), Err(e), _) | (Err(_), Err(e), Ok(())) => Err(EngineError::from(e)),
        (Ok(_), _, Err(Fed::WalkStopped)) => {
            Err(EngineError::internal(&"the walk stopped without a reason"))
        }
        (Err(e), _, _) => Err(EngineError::bad_request(format!(
            "this is not a whole Berth backup: {e}"
        ))),
        (Ok(w), Ok(size), Ok(())) if size != w.stored.bytes => Err(EngineError::failed(format!(
            "the storage kept {size} bytes of {}",
            w.stored.bytes
        ))),
        (Ok(w), Ok(_), Ok(())) => Ok(w),
    }
}

/// Why the feeder stopped early.
enum Fed {
    /// The walk stopped reading: it found something wrong, and says what.
    WalkStopped,
    /// The client's body ended in an error.
    BrokeOff(String),
}

/// Enters a checked archive into the catalog, unless its id is there already.
fn admit(
    engine: &Engine,
    storage_name: &str,
    key: &str,
    sealed: bool,
    w: Walked,
) -> Result<BackupEntry, EngineError> {
    if engine
        .store
        .backup(&w.manifest.id)
        .map_err(|e| EngineError::internal(&e))?
        .is_some()
    {
        return Err(EngineError::conflict(format!(
            "backup {} is already in the catalog",
            w.manifest.id
        )));
    }
    let origin = super::origin::origin(&engine.secret_key, &w.manifest);
    let entry = entry_of(&w.manifest, storage_name, key, sealed, &w, origin);
    engine
        .store
        .put_backup(&CatalogRecord {
            entry: entry.clone(),
            manifest: w.manifest,
        })
        .map_err(|e| EngineError::internal(&e))?;
    engine
        .jobs
        .activity
        .publish(super::catalog::notice(&entry, "created"));
    tracing::info!(
        backup = entry.id,
        storage = storage_name,
        key,
        bytes = entry.size,
        origin = ?entry.origin,
        "uploaded backup admitted"
    );
    Ok(entry)
}

fn aborted(e: &dyn std::fmt::Display) -> EngineError {
    EngineError::bad_request(format!("the upload broke off: {e}"))
}
