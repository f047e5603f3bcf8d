//! Retention applied to Berth's own state backups: after a `state_backup` schedule's
//! job succeeds, the schedule's policy over every state backup on that storage (they
//! are not in the catalogue: the storage's listing is their record, each dated by its
//! key), the same [`super::retention::plan`] as for backups, the newest always kept.

use berth_protocol::api::jobs::LogLevel;
use berth_protocol::api::schedules::Retention;
use chrono::NaiveDateTime;

use super::retention::{self, Candidate};
use crate::jobs::JobCtx;
use crate::jobs::spec::ScheduledBy;
use crate::state::{KEY_NAME, KEY_TIME, PREFIX, SUFFIX};
use crate::{Engine, EngineError, backup};

/// Keys listed per page.
const PAGE: u32 = 1_000;

/// Prunes the state backups on `storage` by the schedule's policy; the summary for
/// the job's message. A failure is logged: the backup itself stands.
pub async fn after_state_backup(
    engine: &Engine,
    storage: &str,
    by: &ScheduledBy,
    ctx: &JobCtx,
) -> String {
    let Some(policy) = &by.retention else {
        return String::new();
    };
    match prune(engine, storage, by, policy, ctx).await {
        Ok((0, 0)) => "; retention: nothing to delete".to_owned(),
        Ok((deleted, 0)) => format!("; retention deleted {deleted} state backup(s)"),
        Ok((deleted, failed)) => format!(
            "; retention deleted {deleted} state backup(s), {failed} could not be (see the log)"
        ),
        Err(e) => {
            let reason = e.public();
            ctx.log(LogLevel::Warn, format!("retention not applied: {reason}"));
            format!("; retention not applied: {reason}")
        }
    }
}

async fn prune(
    engine: &Engine,
    storage: &str,
    by: &ScheduledBy,
    policy: &Retention,
    ctx: &JobCtx,
) -> Result<(usize, usize), EngineError> {
    let instance = backup::storage(engine, Some(storage))?;
    let session = backup::session(engine, &instance).await?;
    let mut candidates = Vec::new();
    let mut cursor = None;
    loop {
        let page = session.list(PREFIX, cursor, PAGE).await?;
        candidates.extend(
            page.objects
                .iter()
                .filter_map(|o| candidate(&o.key, o.modified_ms)),
        );
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    let zone = super::timing::zone(Some(&by.zone)).unwrap_or(chrono_tz::Tz::UTC);
    let doomed: Vec<String> = retention::plan(&candidates, policy, zone)
        .into_iter()
        .filter(|d| !d.keep)
        .map(|d| d.id)
        .collect();
    let (mut deleted, mut failed) = (0, 0);
    for (key, result) in doomed.iter().zip(session.delete_many(&doomed).await) {
        match result {
            Ok(()) => {
                deleted += 1;
                ctx.log(LogLevel::Info, format!("retention deleted {key}"));
            }
            Err(e) => {
                failed += 1;
                ctx.log(
                    LogLevel::Error,
                    format!("retention could not delete {key}: {e}"),
                );
            }
        }
    }
    Ok((deleted, failed))
}

/// A state backup found on a storage, dated by its key (the time it was written);
/// other objects under the prefix are not Berth's and are left alone.
fn candidate(key: &str, modified_ms: u64) -> Option<Candidate> {
    let stamp = key
        .strip_prefix(PREFIX)?
        .strip_prefix(KEY_NAME)?
        .strip_suffix(SUFFIX)?;
    let created_ms = NaiveDateTime::parse_from_str(stamp, KEY_TIME)
        .ok()
        .and_then(|t| u64::try_from(t.and_utc().timestamp_millis()).ok())
        .unwrap_or(modified_ms);
    Some(Candidate {
        id: key.to_owned(),
        created_ms,
        pinned: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_backups_are_dated_by_their_key_and_nothing_else_is_a_candidate() {
        let c = candidate("state/berth-state-20261206T031500123Z.berth-state", 7).unwrap();
        assert_eq!(c.created_ms, 1_796_526_900_123);
        assert!(candidate("state/notes.txt", 7).is_none());
        assert!(candidate("backups/berth-state-20261206T031500123Z.berth-state", 7).is_none());
        // A key Berth did not date keeps the storage's time.
        let odd = candidate("state/berth-state-copy.berth-state", 7).unwrap();
        assert_eq!(odd.created_ms, 7);
    }
}
