//! What a running job holds: its progress (published at most every
//! [`PUBLISH_EVERY`] for byte counts, at once for state changes), its log and its
//! cancel token.

use crate::EngineError;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use berth_core::activity::Notice;
use berth_protocol::api::jobs::{
    Downtime, JobInfo, JobKind, JobLogLine, JobProgress, JobState, LogLevel,
};
use tokio_util::sync::CancellationToken;

use super::{Jobs, JobsTable, LOG_MAX};
use berth_core::store::Store;
use berth_core::time::now_ms;

/// Byte-count updates closer together than this are coalesced: smooth for a progress
/// bar, cheap for the socket.
pub const PUBLISH_EVERY: Duration = Duration::from_millis(200);

#[derive(Debug)]
struct Inner {
    progress: JobProgress,
    last_publish: Option<Instant>,
    /// When `running` began, for the rate.
    running_since: Option<Instant>,
}

/// Handed to the code that runs a job. It holds the queue and the store, not the
/// engine: the queue knows nothing of what its jobs do.
#[derive(Debug, Clone)]
pub struct JobCtx {
    jobs: Arc<Jobs>,
    store: Arc<Store>,
    pub id: String,
    title: String,
    kind: JobKind,
    inner: Arc<Mutex<Inner>>,
    /// Bytes moved in the current phase (updated lock-free from the data path).
    bytes: Arc<AtomicU64>,
    pub cancel: CancellationToken,
    /// An answer held until the job's end is recorded ([`JobCtx::tell_at_end`]).
    told: Arc<Mutex<Option<(super::Watcher, super::Output)>>>,
}

impl JobCtx {
    pub fn new(
        jobs: Arc<Jobs>,
        store: Arc<Store>,
        info: JobInfo,
        cancel: CancellationToken,
    ) -> Self {
        Self {
            jobs,
            store,
            id: info.id.clone(),
            title: info.title.clone(),
            kind: info.kind,
            inner: Arc::new(Mutex::new(Inner {
                progress: info.progress,
                last_publish: None,
                running_since: None,
            })),
            bytes: Arc::new(AtomicU64::new(0)),
            cancel,
            told: Arc::default(),
        }
    }

    /// Whoever watches this job's output (see [`super::Jobs::enqueue_watched`]).
    pub fn take_watcher(&self) -> Option<super::Watcher> {
        self.jobs.take_watcher(&self.id)
    }

    /// Tells `watcher` `output` once the job's end is recorded (the runner calls
    /// [`JobCtx::deliver_told`] after [`JobCtx::finish`]): a caller answered with it
    /// then finds the job finished when it looks, not in its last phase.
    pub fn tell_at_end(&self, watcher: super::Watcher, output: super::Output) {
        *self
            .told
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some((watcher, output));
    }

    /// Sends what [`JobCtx::tell_at_end`] held.
    pub async fn deliver_told(&self) {
        let held = self
            .told
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some((watcher, output)) = held {
            let _ = watcher.send(output).await;
        }
    }

    /// The store the job's state is written to.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The error a job returns when it notices it was cancelled.
    pub fn cancelled(&self) -> EngineError {
        EngineError::cancelled("cancelled by a user")
    }

    /// Fails fast when cancelled (between steps).
    pub fn check(&self) -> Result<(), EngineError> {
        if self.cancel.is_cancelled() {
            Err(self.cancelled())
        } else {
            Ok(())
        }
    }

    /// Holds these Docker objects for the rest of the job (until the guard drops),
    /// waiting — in state `waiting`, cancellable — while another job holds any.
    pub async fn hold_objects(&self, keys: Vec<String>) -> Result<super::locks::Held, EngineError> {
        let locks = Arc::clone(&self.jobs.locks);
        let (was, phase) = {
            let i = self.inner();
            (i.progress.state, i.progress.phase.clone())
        };
        let mut told = false;
        let me = format!("job {} ({})", self.id, self.title);
        let wait = locks.take(&keys, &me, |busy| {
            if !told {
                told = true;
                let what: Vec<String> =
                    busy.iter().map(|(k, h)| format!("{h} holds {k}")).collect();
                let what = what.join("; ");
                self.log(LogLevel::Info, format!("waiting: {what}"));
                self.set_state(JobState::Waiting, &format!("waiting: {what}"));
            }
        });
        let held = tokio::select! {
            h = wait => h,
            () = self.cancel.cancelled() => return Err(self.cancelled()),
        };
        if told {
            self.log(LogLevel::Info, "the other job is done; going on");
            self.set_state(was, &phase);
        }
        Ok(held)
    }

    /// A new state and phase: published and persisted at once.
    pub fn set_state(&self, state: JobState, phase: &str) {
        let p = {
            let mut i = self.inner();
            i.progress.state = state;
            i.progress.phase = phase.to_owned();
            if state == JobState::Running && i.running_since.is_none() {
                i.running_since = Some(Instant::now());
            }
            i.last_publish = Some(Instant::now());
            i.progress.clone()
        };
        let started = matches!(state, JobState::Waiting);
        self.persist(|r| {
            r.info.progress = p.clone();
            if started {
                r.info.started_ms = Some(now_ms());
            }
        });
        if started {
            self.jobs.activity.publish(self.notice("started", &p));
        }
        self.jobs.publish(&p);
    }

    /// A `job.<action>` notice about this job at progress `p`.
    fn notice(&self, action: &'static str, p: &JobProgress) -> Notice {
        super::job_notice(action, &self.id, &self.title, self.kind, p)
    }

    /// Tells the activity broadcast of something this job did (a `backup.created`).
    pub fn announce(&self, notice: Notice) {
        self.jobs.activity.publish(notice.job(&self.id));
    }

    /// A new phase in the same state (`volume data`, `verifying logs`).
    pub fn phase(&self, phase: &str) {
        let p = {
            let mut i = self.inner();
            i.progress.phase = phase.to_owned();
            i.last_publish = Some(Instant::now());
            i.progress.clone()
        };
        self.jobs.publish(&p);
    }

    /// Sets the totals for the byte and item counters (and resets the bytes done).
    pub fn totals(&self, bytes_total: u64, items_total: u64) {
        self.bytes.store(0, Ordering::Relaxed);
        let mut i = self.inner();
        i.progress.bytes_total = bytes_total;
        i.progress.items_total = items_total;
        i.progress.bytes_done = 0;
        i.running_since = Some(Instant::now());
    }

    pub fn item_done(&self) {
        let p = {
            let mut i = self.inner();
            i.progress.items_done += 1;
            i.progress.clone()
        };
        self.jobs.publish(&p);
    }

    /// A counter the data path adds to; [`JobCtx::tick`] publishes it.
    pub fn byte_counter(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.bytes)
    }

    /// Publishes the byte counter if the last publication is old enough.
    pub fn tick(&self) {
        let p = {
            let mut i = self.inner();
            if i.last_publish.is_some_and(|t| t.elapsed() < PUBLISH_EVERY) {
                return;
            }
            let done = self.bytes.load(Ordering::Relaxed);
            i.progress.bytes_done = done;
            let secs = i
                .running_since
                .map(|t| t.elapsed().as_secs_f64())
                .unwrap_or(0.0);
            if secs > 0.05 {
                i.progress.rate_bps = (done as f64 / secs) as u64;
            }
            i.progress.eta_s = (i.progress.rate_bps > 0 && i.progress.bytes_total >= done)
                .then(|| (i.progress.bytes_total - done) / i.progress.rate_bps);
            i.last_publish = Some(Instant::now());
            i.progress.clone()
        };
        self.jobs.publish(&p);
    }

    /// Adds a line to the job's log (kept in the store) and to the host's log.
    pub fn log(&self, level: LogLevel, message: impl Into<String>) {
        let message = message.into();
        match level {
            LogLevel::Info => tracing::info!(job = self.id, message),
            LogLevel::Warn => tracing::warn!(job = self.id, message),
            LogLevel::Error => tracing::error!(job = self.id, message),
        }
        let line = JobLogLine {
            time_ms: now_ms(),
            level,
            message,
        };
        self.persist(|r| {
            if r.log.len() >= LOG_MAX {
                // Keep the beginning (what was asked) and the end (how it ended).
                r.log.remove(LOG_MAX / 2);
            }
            r.log.push(line);
        });
    }

    /// Records the backup this job made or read.
    pub fn set_backup(&self, id: &str) {
        self.persist(|r| r.info.backup = Some(id.to_owned()));
    }

    /// Records how long the job held a container still (a backup in `stop` or
    /// `pause` mode), and says so in its log.
    pub fn held(&self, downtime: Downtime) {
        self.log(
            LogLevel::Info,
            format!(
                "{} runs again after {:.1} s {}",
                downtime.container,
                downtime.ms as f64 / 1000.0,
                downtime.held_as()
            ),
        );
        self.persist(|r| r.info.downtime.push(downtime));
    }

    /// The terminal state: persisted, published, and logged.
    /// Records the job's end, runs `settle` and only then announces the end: what
    /// `settle` records (a schedule run's outcome) is in the store by the time a
    /// client that saw the job end asks for it.
    pub fn finish(
        &self,
        state: JobState,
        message: String,
        code: Option<String>,
        settle: impl FnOnce(),
    ) {
        let p = {
            let mut i = self.inner();
            i.progress.state = state;
            i.progress.phase = state.as_str().to_owned();
            i.progress.message = message.clone();
            i.progress.eta_s = None;
            if state == JobState::Complete {
                i.progress.bytes_done = i.progress.bytes_done.max(i.progress.bytes_total);
                i.progress.items_done = i.progress.items_done.max(i.progress.items_total);
            }
            i.progress.clone()
        };
        let level = match state {
            JobState::Complete => LogLevel::Info,
            JobState::Cancelled => LogLevel::Warn,
            _ => LogLevel::Error,
        };
        self.log(level, format!("{}: {message}", state.as_str()));
        self.persist(|r| {
            r.info.progress = p.clone();
            r.info.finished_ms = Some(now_ms());
            r.info.error_code = code.clone();
        });
        settle();
        self.jobs.activity.publish(self.notice("finished", &p));
        self.jobs.publish(&p);
    }

    fn persist(&self, f: impl FnOnce(&mut super::JobRecord)) {
        if let Err(e) = self.store.update_job(&self.id, f) {
            tracing::error!(job = self.id, error = %e, "cannot record the job's progress");
        }
    }
}
