//! Retention applied: after a scheduled backup succeeds, the policy's verdict on the
//! target's backups (the same [`super::retention::plan`] the preview shows) and the
//! deletions, batched per storage, each logged in the job. Never after a failed
//! backup (the runner only calls this on success), never the newest, never a pinned
//! one or one a job is using.

use std::collections::BTreeMap;

use berth_core::activity::{Notice, Subject};
use berth_protocol::api::backups::BackupTarget;
use berth_protocol::api::jobs::LogLevel;

use super::retention;
use crate::jobs::JobCtx;
use crate::jobs::spec::ScheduledBy;
use crate::prelude::*;
use crate::{Engine, EngineError};

/// Prunes `target`'s backups by the schedule's policy; the summary for the job's
/// message. Failures are logged and summarised: the backup itself stands.
pub async fn after_backup(
    engine: &Engine,
    target: &BackupTarget,
    by: &ScheduledBy,
    ctx: &JobCtx,
) -> String {
    let Some(policy) = &by.retention else {
        return String::new();
    };
    match prune(engine, target, by, policy, ctx).await {
        Ok((0, 0)) => "; retention: nothing to delete".to_owned(),
        Ok((deleted, 0)) => format!("; retention deleted {deleted} backup(s)"),
        Ok((deleted, failed)) => {
            format!("; retention deleted {deleted} backup(s), {failed} could not be (see the log)")
        }
        Err(e) => {
            ctx.log(
                LogLevel::Warn,
                format!("retention not applied: {}", e.public()),
            );
            format!("; retention not applied: {}", e.public())
        }
    }
}

async fn prune(
    engine: &Engine,
    target: &BackupTarget,
    by: &ScheduledBy,
    policy: &berth_protocol::api::schedules::Retention,
    ctx: &JobCtx,
) -> Result<(usize, usize), EngineError> {
    let zone = super::timing::zone(Some(&by.zone)).unwrap_or(chrono_tz::Tz::UTC);
    let include_manual = |_: &BackupTarget| policy.include_manual;
    let groups = super::manage::candidates(engine, &by.name, &include_manual, Some(target))?;
    let in_use = engine.jobs.backups_in_use(&engine.store)?;
    let mut doomed = Vec::new();
    for (_, candidates) in groups {
        for d in retention::plan(&candidates, policy, zone) {
            if d.keep {
                ctx.log(
                    LogLevel::Info,
                    format!("retention keeps {} ({})", d.id, d.reasons.join(", ")),
                );
            } else if in_use.contains(&d.id) {
                ctx.log(
                    LogLevel::Warn,
                    format!("retention keeps {} for now: a job is using it", d.id),
                );
            } else {
                doomed.push(d.id);
            }
        }
    }
    // storage → (backup id, object key); copies on other storages go one by one.
    let mut by_storage: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    let mut failed = 0;
    for id in &doomed {
        let Some(rec) = engine.store.backup(id)? else {
            continue;
        };
        for copy in &rec.entry.copies {
            by_storage
                .entry(copy.storage.clone())
                .or_default()
                .push((id.clone(), copy.key.clone()));
        }
        by_storage
            .entry(rec.entry.storage.clone())
            .or_default()
            .push((id.clone(), rec.entry.key.clone()));
    }
    let mut gone: BTreeMap<String, bool> = doomed.iter().map(|id| (id.clone(), true)).collect();
    for (storage, items) in by_storage {
        let results = delete_batch(engine, &storage, &items).await;
        for ((id, key), r) in items.iter().zip(results) {
            if let Err(e) = r {
                ctx.log(
                    LogLevel::Error,
                    format!(
                        "retention could not delete {id} ({key} in {storage}): {}",
                        e.public()
                    ),
                );
                gone.insert(id.clone(), false);
            }
        }
    }
    let mut deleted = 0;
    for (id, ok) in gone {
        if ok {
            engine.store.delete_backup(&id)?;
            ctx.log(LogLevel::Info, format!("retention deleted {id}"));
            ctx.announce(
                Notice::new(Subject::Backup, "deleted", id)
                    .name(target.name())
                    .kind(target.kind()),
            );
            deleted += 1;
        } else {
            failed += 1;
        }
    }
    Ok((deleted, failed))
}

async fn delete_batch(
    engine: &Engine,
    storage: &str,
    items: &[(String, String)],
) -> Vec<Result<(), EngineError>> {
    let session = match crate::backup::storage(engine, Some(storage)) {
        Ok(inst) => crate::backup::session(engine, &inst).await,
        Err(e) => Err(e),
    };
    match session {
        Ok(s) => {
            let keys: Vec<String> = items.iter().map(|(_, k)| k.clone()).collect();
            s.delete_many(&keys)
                .await
                .into_iter()
                .map(|r| r.map_err(EngineError::from))
                .collect()
        }
        Err(e) => items
            .iter()
            .map(|_| Err(EngineError::failed(e.public())))
            .collect(),
    }
}
