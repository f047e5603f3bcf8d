//! The scheduler: cron schedules that queue backups (pruned by their retention
//! policy) and lifecycle actions as jobs of the one queue.
//!
//! - `cron`, `describe`, `timing`: expressions, their words, their instants in a zone.
//! - `retention`: restic `forget`'s rules, a pure function; `prune` applies it after a
//!   scheduled backup succeeds, `state_prune` after a scheduled state backup.
//! - `store`: the schedules (with their state) and their runs.
//! - `targets`: explicit targets checked, selectors resolved at run time.
//! - `manage`: create, update, delete, pause, preview — what the API calls.
//! - `scheduler`: the task that sleeps until the next due time and fires.

pub mod action;
pub mod cron;
mod describe;
pub mod manage;
pub mod prune;
pub mod retention;
pub mod scheduler;
pub mod state_prune;
pub mod store;
pub mod targets;
pub mod timing;

use berth_protocol::api::schedules::{ScheduleAction, ScheduleSpec};
use chrono_tz::Tz;

pub use store::{ScheduleRecord, SchedulesTable};

use crate::EngineError;
use cron::Cron;

/// Default grace for a missed run: a backup a day late is still worth having, a
/// lifecycle action an hour late may do harm.
pub const GRACE_BACKUP_S: u32 = 86_400;
pub const GRACE_ACTION_S: u32 = 3_600;
pub const GRACE_MAX_S: u32 = 7 * 86_400;
pub const JITTER_MAX_S: u32 = 3_600;

/// A schedule's expressions parsed and its zone found.
#[derive(Debug, Clone)]
pub struct Compiled {
    pub cron: Cron,
    pub until: Option<Cron>,
    pub zone: Tz,
}

impl Compiled {
    /// Parses what a spec says about time; every error names its field.
    pub fn of(spec: &ScheduleSpec) -> Result<Self, EngineError> {
        let cron = Cron::parse(&spec.cron).map_err(|e| EngineError::bad("cron", e.to_string()))?;
        let until = match &spec.until {
            None => None,
            Some(u) => {
                if spec.action.undo().is_none() {
                    return Err(EngineError::bad(
                        "until",
                        "a sleep window's end belongs to a stop or pause schedule",
                    ));
                }
                Some(Cron::parse(u).map_err(|e| EngineError::bad("until", e.to_string()))?)
            }
        };
        let zone = timing::zone(spec.zone.as_deref()).map_err(|e| EngineError::bad("zone", e))?;
        Ok(Self { cron, until, zone })
    }
}

/// How late a missed run may still happen, in ms.
pub fn grace_ms(spec: &ScheduleSpec) -> u64 {
    let default = match spec.action {
        ScheduleAction::Backup | ScheduleAction::StateBackup => GRACE_BACKUP_S,
        _ => GRACE_ACTION_S,
    };
    u64::from(spec.grace_s.unwrap_or(default)) * 1000
}

/// The actor a schedule's jobs and records name.
pub fn actor(name: &str) -> String {
    format!("schedule:{name}")
}

/// Schedule names: 1–64 of letters, digits, `-`, `_`, `.` (they appear in keys, in
/// job actors and in labels).
pub fn validate_name(name: &str) -> Result<(), EngineError> {
    let ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        && !name.starts_with('.');
    if ok {
        Ok(())
    } else {
        Err(EngineError::bad(
            "name",
            "1 to 64 letters, digits, '-', '_' or '.', not starting with '.'",
        ))
    }
}
