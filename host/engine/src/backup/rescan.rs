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

use berth_protocol::api::jobs::{JobState, LogLevel};
use serde::{Deserialize, Serialize};

use super::catalog::CatalogRecord;
use super::{archive, open_passphrase, read_stored, session, storage};
use crate::Engine;
use crate::jobs::JobCtx;

/// A catalog rebuild, as queued.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RescanSpec {
    /// `None`: the default storage when the job runs.
    #[serde(default)]
    pub storage: Option<String>,
    /// Sealed with the installation key; opens the encrypted objects it fits.
    #[serde(default)]
    pub passphrase: Option<String>,
}

/// Object keys that can hold a backup.
fn is_backup_key(key: &str) -> bool {
    key.ends_with(".tar.gz") || key.ends_with(".tar.gz.enc")
}

/// Most objects listed per page.
const PAGE: u32 = 1_000;

pub async fn run(st: &Arc<Engine>, spec: &RescanSpec, ctx: &JobCtx) -> Result<String, EngineError> {
    ctx.set_state(JobState::Starting, "listing the storage");
    let inst = storage(st, spec.storage.as_deref())?;
    let secret = open_passphrase(st, spec.passphrase.as_deref())?;
    let sess = session(st, &inst).await?;
    let known: HashSet<String> = st
        .store
        .backups()
        .map_err(|e| EngineError::internal(&e))?
        .into_iter()
        .filter(|r| r.entry.storage == inst.name)
        .map(|r| r.entry.key)
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
            None => break,
        }
    }
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
    for o in &found {
        ctx.check()?;
        ctx.phase(&format!("reading {}", o.key));
        let sealed = o.key.ends_with(".enc");
        if sealed && secret.is_none() {
            ctx.log(
                LogLevel::Warn,
                format!("{}: encrypted; rescan with its passphrase to add it", o.key),
            );
            refused += 1;
            ctx.item_done();
            continue;
        }
        let read = tokio::select! {
            r = read_stored(&sess, &o.key, secret.clone(), ctx, archive::check_part) => r,
            () = ctx.cancel.cancelled() => Err(ctx.cancelled()),
        };
        match read {
            Ok(w) => {
                let id = w.manifest.id.clone();
                let exists = st
                    .store
                    .backup(&id)
                    .map_err(|e| EngineError::internal(&e))?;
                if let Some(other) = exists {
                    ctx.log(
                        LogLevel::Warn,
                        format!(
                            "{}: backup {id} is already in the catalog (as {} in {})",
                            o.key, other.entry.key, other.entry.storage
                        ),
                    );
                    refused += 1;
                } else {
                    let origin = super::origin::origin(&st.secret_key, &w.manifest);
                    let entry = super::upload::entry_of(
                        &w.manifest,
                        &inst.name,
                        &o.key,
                        sealed,
                        &w,
                        origin,
                    );
                    st.store
                        .put_backup(&CatalogRecord {
                            entry,
                            manifest: w.manifest,
                        })
                        .map_err(|e| EngineError::internal(&e))?;
                    ctx.log(
                        LogLevel::Info,
                        format!(
                            "{}: added as backup {id}{}",
                            o.key,
                            match origin {
                                berth_protocol::api::backups::BackupOrigin::ThisInstallation => "",
                                berth_protocol::api::backups::BackupOrigin::Foreign =>
                                    " (not written by this installation: restoring it needs an admin)",
                            }
                        ),
                    );
                    added += 1;
                }
            }
            Err(e) if e.kind() == berth_core::error::Kind::Cancelled => return Err(e),
            Err(e) => {
                ctx.log(LogLevel::Warn, format!("{}: not added: {}", o.key, e));
                refused += 1;
            }
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
