//! Rebuilding the catalog from a storage (`backups.rescan`): backups are
//! self-describing, so a lost or restored data directory, or a storage shared with
//! another Berth, is recovered by reading every backup object the catalog does not
//! know — the same full walk as a verification — and entering those that pass.
//! Damaged objects are reported and left alone (never deleted: they may be the only
//! copy someone has).

use crate::EngineError;
use crate::prelude::*;
use std::collections::HashSet;
use std::sync::Arc;

use berth_protocol::api::backups::BackupOrigin;
use berth_protocol::api::jobs::{JobState, LogLevel};

use super::catalog::CatalogRecord;
use super::crypt::Secret;
use super::{archive, open_passphrase, read_stored, session, storage};
use crate::Engine;
use crate::jobs::JobCtx;
use crate::jobs::spec::RescanSpec;
use berth_plugins::ObjectMeta;
use berth_plugins::storage::Session;

/// Object keys that can hold a backup.
fn is_backup_key(key: &str) -> bool {
    key.ends_with(".tar.gz") || key.ends_with(".tar.gz.enc")
}

/// Most objects listed per page.
const PAGE: u32 = 1_000;

pub async fn run(
    engine: &Arc<Engine>,
    spec: &RescanSpec,
    ctx: &JobCtx,
) -> Result<String, EngineError> {
    ctx.set_state(JobState::Starting, "listing the storage");
    let inst = storage(engine, spec.storage.as_deref())?;
    let secret = open_passphrase(engine, spec.passphrase.as_deref())?;
    let sess = session(engine, &inst).await?;
    let found = unknown_objects(engine, &inst.name, &sess, ctx).await?;
    ctx.log(
        LogLevel::Info,
        format!(
            "{} object(s) in {} the catalog does not know",
            found.len(),
            inst.name
        ),
    );
    ctx.totals(found.iter().map(|o| o.size).sum(), found.len() as u64);
    ctx.set_state(JobState::Running, "reading");
    let (mut added, mut refused) = (0usize, 0usize);
    for object in &found {
        ctx.check()?;
        ctx.phase(&format!("reading {}", object.key));
        let rescan = Rescan {
            engine,
            storage: &inst.name,
            session: &sess,
            ctx,
        };
        if rescan.admit(&object.key, secret.as_ref()).await? {
            added += 1;
        } else {
            refused += 1;
        }
        ctx.item_done();
    }
    Ok(format!(
        "{added} backup(s) added to the catalog from {}{}",
        inst.name,
        if refused > 0 {
            format!("; {refused} object(s) not added (see the log)")
        } else {
            String::new()
        }
    ))
}

/// The backup objects of the storage the catalog does not know, page by page.
async fn unknown_objects(
    engine: &Engine,
    storage: &str,
    sess: &Session,
    ctx: &JobCtx,
) -> Result<Vec<ObjectMeta>, EngineError> {
    let known: HashSet<String> = engine
        .store
        .backup_entries()
        .map_err(|e| EngineError::internal(&e))?
        .into_iter()
        .filter(|e| e.storage == storage)
        .map(|e| e.key)
        .collect();
    let mut found = Vec::new();
    let mut cursor = None;
    loop {
        ctx.check()?;
        let page = sess
            .list("", cursor.take(), PAGE)
            .await
            .map_err(EngineError::from)?;
        found.extend(
            page.objects
                .into_iter()
                .filter(|o| is_backup_key(&o.key) && !known.contains(&o.key)),
        );
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return Ok(found),
        }
    }
}

/// One storage being read back into the catalog.
struct Rescan<'a> {
    engine: &'a Engine,
    storage: &'a str,
    session: &'a Session,
    ctx: &'a JobCtx,
}

impl Rescan<'_> {
    /// Reads one object whole and enters it when it is an intact backup the catalog
    /// lacks; `false` (with the reason in the log) when it is not added.
    async fn admit(&self, key: &str, secret: Option<&Secret>) -> Result<bool, EngineError> {
        let ctx = self.ctx;
        let sealed = key.ends_with(".enc");
        if sealed && secret.is_none() {
            ctx.log(
                LogLevel::Warn,
                format!("{key}: encrypted; rescan with its passphrase to add it"),
            );
            return Ok(false);
        }
        let read = tokio::select! {
            r = read_stored(self.session, key, secret.cloned(), None, ctx, archive::check_part) => r,
            () = ctx.cancel.cancelled() => Err(ctx.cancelled()),
        };
        match read {
            Ok(walked) => self.enter(key, sealed, walked),
            Err(e) if e.kind() == berth_core::error::Kind::Cancelled => Err(e),
            Err(e) => {
                ctx.log(LogLevel::Warn, format!("{key}: not added: {e}"));
                Ok(false)
            }
        }
    }

    /// Enters a walked backup unless one with its id is catalogued already.
    fn enter(&self, key: &str, sealed: bool, walked: archive::Walked) -> Result<bool, EngineError> {
        let (store, ctx) = (&self.engine.store, self.ctx);
        let id = walked.manifest.id.clone();
        let exists = store.backup(&id).map_err(|e| EngineError::internal(&e))?;
        if let Some(other) = exists {
            ctx.log(
                LogLevel::Warn,
                format!(
                    "{key}: backup {id} is already in the catalog (as {} in {})",
                    other.entry.key, other.entry.storage
                ),
            );
            return Ok(false);
        }
        let origin = super::origin::origin(&self.engine.secret_key, &walked.manifest);
        let entry =
            super::upload::entry_of(&walked.manifest, self.storage, key, sealed, &walked, origin);
        store
            .put_backup(&CatalogRecord {
                entry,
                manifest: walked.manifest,
            })
            .map_err(|e| EngineError::internal(&e))?;
        let foreign = match origin {
            BackupOrigin::ThisInstallation => "",
            BackupOrigin::Foreign => {
                " (not written by this installation: restoring it needs an admin)"
            }
        };
        ctx.log(
            LogLevel::Info,
            format!("{key}: added as backup {id}{foreign}"),
        );
        Ok(true)
    }
}
