//! The job queue: backups, restores and verifications, persisted in the store and run
//! oldest first by one runner task — one at a time by default (one job touching Docker
//! and the storage at once keeps a host responsive and makes "stop, read, start"
//! windows short and ordered), up to `job_concurrency` at once when configured; jobs
//! running together never hold the same container or volume (`locks`).
//!
//! A job is written to the `jobs` table before it is acknowledged, so a queued job
//! survives a restart; a job that was running when Berth stopped is marked `failed`
//! at the next start (its side effects are undone by the backup journal, see
//! `backup::journal`). Progress goes to `job.progress` subscribers as it happens and
//! to the store only on state changes (a byte counter is not worth a disk write); a
//! job's queueing, start and end also go to the activity broadcast (`job.*` events).

pub mod locks;
pub mod progress;
pub mod spec;

pub use spec::JobSpec;

use crate::EngineError;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use berth_protocol::api::jobs::{
    JobInfo, JobKind, JobLogLine, JobProgress, JobState, JobsQuery, LogLevel,
};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use berth_core::activity::{Activity, Notice, Subject};
use berth_core::fanout::{Fanout, Sink};
use berth_core::records::RecordTable;
use berth_core::store::{Store, StoreError};
use berth_core::time::now_ms;

pub use progress::JobCtx;

pub(crate) const JOBS: RecordTable<JobRecord> = RecordTable::new("jobs", "job");

/// A job's log keeps its first lines and its last ones.
pub const LOG_MAX: usize = 1_000;
/// Finished jobs kept in the table.
pub const HISTORY_MAX: usize = 2_000;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobRecord {
    pub info: JobInfo,
    pub spec: JobSpec,
    pub log: Vec<JobLogLine>,
}

pub trait JobsTable: berth_core::store::StoreAccess {
    fn put_job(&self, rec: &JobRecord) -> Result<(), StoreError> {
        JOBS.put(self.db(), &rec.info.id, rec)
    }

    fn job(&self, id: &str) -> Result<Option<JobRecord>, StoreError> {
        JOBS.get(self.db(), id)
    }

    /// Read-modify-write of one job in one transaction; `None` when it does not exist.
    fn update_job(
        &self,
        id: &str,
        f: impl FnOnce(&mut JobRecord),
    ) -> Result<Option<JobRecord>, StoreError> {
        JOBS.update(self.db(), id, f)
    }

    /// Every job, oldest first (ids sort by creation time).
    fn jobs(&self) -> Result<Vec<JobRecord>, StoreError> {
        JOBS.all(self.db())
    }

    /// Forgets the oldest finished jobs beyond `keep`.
    fn trim_jobs(&self, keep: usize) -> Result<usize, StoreError> {
        let finished: Vec<String> = self
            .jobs()?
            .into_iter()
            .filter(|j| j.info.progress.state.is_terminal())
            .map(|j| j.info.id)
            .collect();
        let excess = finished.len().saturating_sub(keep);
        if excess == 0 {
            return Ok(0);
        }
        let tx = self.db().begin_write()?;
        {
            let mut t = tx.open_table(JOBS.definition())?;
            for id in &finished[..excess] {
                t.remove(id.as_str())?;
            }
        }
        tx.commit()?;
        Ok(excess)
    }
}

impl JobsTable for Store {}

/// A new id that sorts by creation time: `j-<ms>-<random>`.
///
/// The millisecond part is strictly increasing within the process: the queue runs
/// jobs in id order, and two jobs enqueued in the same millisecond would otherwise
/// be ordered by their random suffix — one request's targets could run out of order.
pub fn new_id(prefix: &str) -> String {
    let mut r = [0u8; 4];
    let _ = getrandom::fill(&mut r);
    format!(
        "{prefix}-{:013}-{}",
        next_id_ms(),
        data_encoding::HEXLOWER.encode(&r)
    )
}

/// `now_ms()`, bumped past the last value handed out when the clock has not moved on.
fn next_id_ms() -> u64 {
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = now_ms();
    let prev = LAST
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |last| {
            Some(now.max(last + 1))
        })
        .unwrap_or_else(|last| last);
    now.max(prev + 1)
}

/// A `job.<action>` notice about job `id` at progress `p` (with the outcome in words
/// once it has ended).
pub(crate) fn job_notice(
    action: &'static str,
    id: &str,
    title: &str,
    kind: JobKind,
    p: &JobProgress,
) -> Notice {
    Notice::new(Subject::Job, action, id)
        .name(title)
        .kind(kind.as_str())
        .state(p.state.as_str())
        .message(if p.state.is_terminal() {
            p.message.as_str()
        } else {
            ""
        })
}

fn info_notice(info: &JobInfo, action: &'static str) -> Notice {
    job_notice(action, &info.id, &info.title, info.kind, &info.progress)
}

fn store_err(e: StoreError) -> EngineError {
    EngineError::internal(&e)
}

/// The queue's live side: the running job's cancel token, progress subscribers, and
/// the runner's wake-up.
#[derive(Debug, Default)]
pub struct Jobs {
    pub(crate) progress: Fanout<Option<String>>,
    pub(crate) wake: Notify,
    /// Running jobs and their cancel tokens.
    running: Mutex<HashMap<String, CancellationToken>>,
    /// The Docker objects running jobs hold.
    pub locks: Arc<locks::Locks>,
    /// The latest progress of jobs not yet finished (what a new subscriber sees first).
    pub(crate) live: Mutex<HashMap<String, JobProgress>>,
    /// Who watches a job's raw output (a `stack.output` channel), by job id: taken
    /// by the job when it runs, dropped when it ends.
    watchers: Mutex<HashMap<String, Watcher>>,
    /// Told when a job is queued, starts and ends (and by the jobs, of what they made):
    /// the `job.*` and `backup.*` events.
    pub activity: Activity,
    /// Jobs run at once (0 reads as 1); changed at run time by `settings.update`.
    concurrency: AtomicUsize,
}

/// The setting (`settings.update`) for how many jobs run at once.
pub const CONCURRENCY_SETTING: &str = "job_concurrency";
/// The most jobs that may run at once.
pub const MAX_CONCURRENCY: usize = 8;

/// What a job that runs a command sends whoever watches it: the command's output as
/// it comes, then its exit code — or why the job failed before it got that far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    Bytes(bytes::Bytes),
    Exit(Option<i32>),
    Failed {
        kind: berth_core::error::Kind,
        message: String,
    },
    /// What a state backup wrote (for `state.backup`, which answers with it).
    StateBackup(spec::StateWritten),
}

/// The receiving end is the watcher's; a full buffer slows the command down.
pub type Watcher = tokio::sync::mpsc::Sender<Output>;

impl Jobs {
    pub(crate) fn running(&self) -> std::sync::MutexGuard<'_, HashMap<String, CancellationToken>> {
        self.running
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn watchers(&self) -> std::sync::MutexGuard<'_, HashMap<String, Watcher>> {
        self.watchers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The watcher of job `id`, now the caller's (a job takes it when it runs; the
    /// runner drops what a job left when it ends).
    pub(crate) fn take_watcher(&self, id: &str) -> Option<Watcher> {
        self.watchers().remove(id)
    }

    pub(crate) fn live(&self) -> std::sync::MutexGuard<'_, HashMap<String, JobProgress>> {
        self.live
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// How many jobs run at once.
    pub fn concurrency(&self) -> usize {
        self.concurrency
            .load(Ordering::Relaxed)
            .clamp(1, MAX_CONCURRENCY)
    }

    /// Changes how many jobs run at once; a higher limit starts queued jobs now, a
    /// lower one lets running jobs finish.
    pub fn set_concurrency(&self, n: usize) {
        self.concurrency
            .store(n.clamp(1, MAX_CONCURRENCY), Ordering::Relaxed);
        self.wake.notify_one();
    }

    /// Subscribes `sink` to the progress of job `job` (or of all jobs): first the
    /// current progress of the running ones, then every change.
    pub fn subscribe(&self, sink: Sink, job: Option<String>) {
        // Under the lock `publish` takes, so no change falls between the two.
        let live = self.live();
        for p in live
            .values()
            .filter(|p| job.as_ref().is_none_or(|j| *j == p.job))
        {
            let json: Arc<str> = serde_json::to_string(p)
                .expect("progress serialises")
                .into();
            let _ = sink.replace_keyed(&p.job.as_str().into(), json);
        }
        self.progress.join_with(sink, job);
    }

    /// Pushes `p` to the subscribers of its job (and of all jobs).
    pub fn publish(&self, p: &JobProgress) {
        let json: Arc<str> = serde_json::to_string(p)
            .expect("progress serialises")
            .into();
        let key: Arc<str> = p.job.as_str().into();
        // The live map and the delivery change under one lock, so a subscriber that
        // joins (under the same lock) never sees an older value after a newer one.
        let mut live = self.live();
        if p.state.is_terminal() {
            live.remove(&p.job);
        } else {
            live.insert(p.job.clone(), p.clone());
        }
        self.progress.deliver(|sink, filter| match filter {
            Some(j) if *j != p.job => Ok(()),
            _ => sink.replace_keyed(&key, Arc::clone(&json)),
        });
    }

    /// Writes a new job and wakes the runner.
    pub fn enqueue(
        &self,
        store: &Store,
        spec: JobSpec,
        title: String,
        actor: String,
    ) -> Result<String, EngineError> {
        self.enqueue_watched(store, spec, title, actor, None)
    }

    /// Writes a new job whose output `watcher` receives (attached before the runner
    /// can start it, so nothing it prints is missed) and wakes the runner.
    pub fn enqueue_watched(
        &self,
        store: &Store,
        spec: JobSpec,
        title: String,
        actor: String,
        watcher: Option<Watcher>,
    ) -> Result<String, EngineError> {
        let id = new_id("j");
        if let Some(w) = watcher {
            self.watchers().insert(id.clone(), w);
        }
        let progress = JobProgress {
            job: id.clone(),
            state: JobState::Queued,
            phase: "queued".into(),
            bytes_done: 0,
            bytes_total: 0,
            items_done: 0,
            items_total: 0,
            rate_bps: 0,
            eta_s: None,
            message: String::new(),
        };
        let rec = JobRecord {
            info: JobInfo {
                id: id.clone(),
                kind: spec.kind(),
                title,
                actor,
                progress: progress.clone(),
                created_ms: now_ms(),
                started_ms: None,
                finished_ms: None,
                error_code: None,
                backup: None,
                downtime: Vec::new(),
            },
            spec,
            log: Vec::new(),
        };
        if let Err(e) = store.put_job(&rec) {
            self.watchers().remove(&id);
            return Err(store_err(e));
        }
        self.activity.publish(info_notice(&rec.info, "queued"));
        self.publish(&progress);
        self.wake.notify_one();
        Ok(id)
    }

    /// Jobs newest first, filtered.
    pub fn list(&self, store: &Store, q: &JobsQuery) -> Result<Vec<JobInfo>, EngineError> {
        let limit = q.limit.unwrap_or(200).clamp(1, 1_000) as usize;
        let live = self.live().clone();
        Ok(store
            .jobs()
            .map_err(store_err)?
            .into_iter()
            .rev()
            .map(|r| with_live(r.info, &live))
            .filter(|j| q.states.is_empty() || q.states.contains(&j.progress.state))
            .take(limit)
            .collect())
    }

    pub fn get(&self, store: &Store, id: &str) -> Result<JobRecord, EngineError> {
        let mut rec = store
            .job(id)
            .map_err(store_err)?
            .ok_or_else(|| EngineError::not_found(format!("no job {id}")))?;
        rec.info = with_live(rec.info, &self.live());
        Ok(rec)
    }

    /// Cancels a queued job at once; asks a running one to stop (it undoes what it did
    /// and ends `cancelled`). Finished jobs are left as they are (`conflict`).
    pub fn cancel(&self, store: &Store, id: &str) -> Result<JobInfo, EngineError> {
        if let Some(token) = self.running().get(id) {
            token.cancel();
            return self.get(store, id).map(|r| r.info);
        }
        let mut refused = None;
        let rec = store
            .update_job(id, |rec| {
                let p = &mut rec.info.progress;
                if p.state.is_terminal() {
                    refused = Some(p.state);
                    return;
                }
                p.state = JobState::Cancelled;
                p.phase = "cancelled".into();
                p.message = "cancelled before it started".into();
                rec.info.finished_ms = Some(now_ms());
            })
            .map_err(store_err)?
            .ok_or_else(|| EngineError::not_found(format!("no job {id}")))?;
        self.take_watcher(id);
        if let Some(state) = refused {
            return Err(EngineError::conflict(format!(
                "job {id} has already ended ({})",
                state.as_str()
            )));
        }
        self.activity.publish(info_notice(&rec.info, "finished"));
        self.publish(&rec.info.progress);
        Ok(rec.info)
    }

    /// Whether a job not yet ended reads or writes backup `id`.
    pub fn uses_backup(&self, store: &Store, id: &str) -> Result<bool, EngineError> {
        Ok(self.backups_in_use(store)?.contains(id))
    }

    /// Every backup a job not yet ended reads or writes (one pass over the jobs, for
    /// a caller asking about many backups).
    pub fn backups_in_use(
        &self,
        store: &Store,
    ) -> Result<std::collections::HashSet<String>, EngineError> {
        let mut used = std::collections::HashSet::new();
        for j in store.jobs().map_err(store_err)? {
            if j.info.progress.state.is_terminal() {
                continue;
            }
            used.extend(j.info.backup);
            used.extend(match j.spec {
                JobSpec::Restore(r) => Some(r.request.id),
                JobSpec::Verify(v) => Some(v.backup),
                JobSpec::Copy(c) => Some(c.backup),
                JobSpec::Backup(_)
                | JobSpec::Rescan(_)
                | JobSpec::Action(_)
                | JobSpec::Stack(_)
                | JobSpec::State(_) => None,
            });
        }
        Ok(used)
    }

    /// Marks jobs that were running when Berth stopped as failed. Queued jobs stay
    /// queued and run.
    pub fn reconcile(&self, store: &Store) -> Result<usize, StoreError> {
        let mut n = 0;
        for rec in store.jobs()? {
            let s = rec.info.progress.state;
            if s.is_terminal() || s == JobState::Queued {
                continue;
            }
            n += 1;
            store.update_job(&rec.info.id, |r| {
                r.info.progress.state = JobState::Failed;
                r.info.progress.message =
                    "interrupted: Berth stopped while the job ran; what it had stopped was started again and nothing partial was kept".into();
                r.info.error_code = Some("internal".into());
                r.info.finished_ms = Some(now_ms());
                r.log.push(JobLogLine {
                    time_ms: now_ms(),
                    level: LogLevel::Error,
                    message: r.info.progress.message.clone(),
                });
            })?;
        }
        Ok(n)
    }
}

fn with_live(mut info: JobInfo, live: &HashMap<String, JobProgress>) -> JobInfo {
    if let Some(p) = live.get(&info.id) {
        info.progress = p.clone();
    }
    info
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_made_in_the_same_millisecond_sort_in_creation_order() {
        // Many ids in a tight loop share a clock millisecond; the queue runs jobs in
        // id order, so each must sort after the one made before it.
        let ids: Vec<String> = (0..2_000).map(|_| new_id("j")).collect();
        for w in ids.windows(2) {
            assert!(w[0] < w[1], "{} then {}", w[0], w[1]);
        }
    }
}
