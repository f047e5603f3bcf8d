//! The `schedules` and `schedule_runs` tables. A schedule's record carries its state
//! (the last due time handled, failures in a row, the last run), so the scheduler
//! resumes after a restart exactly where it stopped; runs are kept per schedule,
//! keyed `<name>/<time>/<id>` so one schedule's history is one key range.

use berth_core::records::RecordTable;
use berth_core::store::{StoreAccess, StoreError};
use berth_protocol::api::schedules::{ScheduleRun, ScheduleSpec};
use serde::{Deserialize, Serialize};

pub(crate) const SCHEDULES: RecordTable<ScheduleRecord> = RecordTable::new("schedules", "schedule");
pub(crate) const RUNS: RecordTable<ScheduleRun> = RecordTable::new("schedule_runs", "schedule run");

/// Runs kept per schedule; older ones go as new ones come.
pub const RUNS_KEPT: usize = 500;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScheduleRecord {
    pub spec: ScheduleSpec,
    pub created_ms: u64,
    pub updated_ms: u64,
    /// Due times up to here are handled (run, skipped or missed) — for the main
    /// expression and for a sleep window's end.
    pub checked_ms: u64,
    #[serde(default)]
    pub until_checked_ms: u64,
    #[serde(default)]
    pub failures: u32,
    #[serde(default)]
    pub last_run: Option<ScheduleRun>,
    /// The last run that queued jobs: the one a new run waits for (overlap), and the
    /// one whose outcome its jobs settle.
    #[serde(default)]
    pub last_queued: Option<ScheduleRun>,
    /// The backups' passphrase, sealed with the installation key (the spec never
    /// holds it at rest).
    #[serde(default)]
    pub passphrase: Option<String>,
}

fn run_key(run: &ScheduleRun) -> String {
    format!("{}/{:016}/{}", run.schedule, run.at_ms, run.id)
}

pub trait SchedulesTable: StoreAccess {
    fn schedule(&self, name: &str) -> Result<Option<ScheduleRecord>, StoreError> {
        SCHEDULES.get(self.db(), name)
    }

    fn put_schedule(&self, rec: &ScheduleRecord) -> Result<(), StoreError> {
        SCHEDULES.put(self.db(), &rec.spec.name, rec)
    }

    fn update_schedule(
        &self,
        name: &str,
        change: impl FnOnce(&mut ScheduleRecord),
    ) -> Result<Option<ScheduleRecord>, StoreError> {
        SCHEDULES.update(self.db(), name, change)
    }

    /// Deletes the schedule; its history stays.
    fn delete_schedule(&self, name: &str) -> Result<bool, StoreError> {
        SCHEDULES.remove(self.db(), name)
    }

    fn schedules(&self) -> Result<Vec<ScheduleRecord>, StoreError> {
        SCHEDULES.all(self.db())
    }

    /// Records a run (new or updated: same schedule, time and id), dropping the
    /// schedule's oldest beyond [`RUNS_KEPT`].
    fn put_run(&self, run: &ScheduleRun) -> Result<(), StoreError> {
        RUNS.put_in_group(self.db(), &run.schedule, &run_key(run), run, RUNS_KEPT)
    }

    /// Runs newest first: one schedule's, or every schedule's.
    fn runs(&self, schedule: Option<&str>, limit: usize) -> Result<Vec<ScheduleRun>, StoreError> {
        if let Some(name) = schedule {
            return RUNS.group_newest(self.db(), name, limit);
        }
        let mut runs = RUNS.all(self.db())?;
        runs.sort_by_key(|run: &ScheduleRun| std::cmp::Reverse(run.at_ms));
        runs.truncate(limit);
        Ok(runs)
    }
}

impl SchedulesTable for berth_core::store::Store {}
