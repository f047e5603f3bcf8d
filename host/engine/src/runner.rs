//! The runner: the one task that takes queued jobs from the store and runs them
//! ([`run_job`] dispatches each kind to its code in `backup`), releases what a failed
//! job held, counts each for `/metrics` and tells the notifiers how it ended. It sits
//! above both the queue (`jobs`) and the jobs' code, so neither depends on the other.

use std::sync::{Arc, Weak};

use berth_protocol::api::jobs::{JobInfo, JobKind, JobState};
use futures_util::FutureExt;
use tokio_util::sync::CancellationToken;

use crate::backup::catalog::CatalogTable;
use crate::jobs::{HISTORY_MAX, JobCtx, JobRecord, JobSpec, JobsTable};
use crate::{Engine, EngineError, backup, schedule, stacks, state};

/// The runner: starts the oldest queued jobs, each on its own task, while fewer than
/// [`crate::jobs::Jobs::concurrency`] run; sleeps while the queue is empty or full.
/// Holds the state weakly so shutdown is not held up.
pub async fn runner(state: Weak<Engine>) {
    let Some(jobs) = state.upgrade().map(|s| Arc::clone(&s.jobs)) else {
        return;
    };
    // Undo what interrupted backups left (containers held, partial objects) before
    // the queue runs again — here rather than before listening, so a slow or absent
    // Docker daemon does not hold up the start.
    if let Some(st) = state.upgrade() {
        backup::reconcile(&st).await;
    }
    loop {
        let Some(st) = state.upgrade() else { return };
        let busy = jobs.running().len();
        // Read each turn: `settings.update` may change it while jobs run.
        let next = if busy >= jobs.concurrency() {
            None
        } else {
            match st.store.jobs() {
                Ok(all) => {
                    let running = jobs.running();
                    all.into_iter().find(|j| {
                        j.info.progress.state == JobState::Queued
                            && !running.contains_key(&j.info.id)
                    })
                }
                Err(e) => {
                    tracing::error!(error = %e, "cannot read the job queue");
                    None
                }
            }
        };
        let Some(rec) = next else {
            drop(st);
            jobs.wake.notified().await;
            continue;
        };
        if busy == 0 {
            // Containers a backup held while Docker was unreachable at the start —
            // only while no job runs, as a running one's holds are its own.
            backup::release_held(&st).await;
        }
        let token = CancellationToken::new();
        jobs.running().insert(rec.info.id.clone(), token.clone());
        let one = async move {
            let id = rec.info.id.clone();
            run_one(&st, rec, token).await;
            st.jobs.running().remove(&id);
            st.jobs.take_watcher(&id);
            if let Err(e) = st.store.trim_jobs(HISTORY_MAX) {
                tracing::warn!(error = %e, "cannot trim the job history");
            }
            st.jobs.wake.notify_one();
        };
        tokio::spawn(one);
    }
}

async fn run_one(engine: &Arc<Engine>, rec: JobRecord, token: CancellationToken) {
    let id = rec.info.id.clone();
    let ctx = JobCtx::new(
        Arc::clone(&engine.jobs),
        Arc::clone(&engine.store),
        rec.info.clone(),
        token.clone(),
    );
    ctx.set_state(JobState::Waiting, "waiting");
    tracing::info!(job = id, kind = ?rec.info.kind, title = rec.info.title, "job started");
    // A bug in one job (a panic) fails that job with the reason and the queue goes
    // on: without this, one panic stopped the runner until Berth restarted.
    let outcome = std::panic::AssertUnwindSafe(run_job(engine, &rec.spec, &ctx))
        .catch_unwind()
        .await
        .unwrap_or_else(|panic| Err(panicked(&id, panic.as_ref())));
    if outcome.is_err() {
        // Whatever the job still held stopped or paused (a panic skips its own
        // release) is started again now, not at the next start of Berth.
        backup::release_job(engine, &id).await;
    }
    let (state, message, code) = match outcome {
        Ok(message) => {
            tracing::info!(job = id, "job complete");
            (JobState::Complete, message, None)
        }
        Err(e) if e.kind() == berth_core::error::Kind::Cancelled || token.is_cancelled() => {
            tracing::info!(job = id, "job cancelled");
            (
                JobState::Cancelled,
                format!("cancelled: {}", e.public()),
                None,
            )
        }
        Err(e) => {
            let code = e.kind().name().to_owned();
            let message = e.public();
            tracing::warn!(job = id, code, error = message, "job failed");
            (JobState::Failed, message, Some(code))
        }
    };
    ctx.finish(state, message, code, || {
        schedule::scheduler::job_finished(engine, &id)
    });
    ctx.deliver_told().await;
    match engine.store.job(&id) {
        Ok(Some(rec)) => {
            count(engine, &rec.info);
            notify_outcome(engine, &rec.info);
        }
        Ok(None) => {}
        Err(e) => tracing::error!(job = id, error = %e, "cannot read a finished job"),
    }
    // What the job freed goes back to the system rather than into the next job's peak.
    let _ = tokio::task::spawn_blocking(berth_core::alloc::trim).await;
}

/// The error a panicked job ends with; the panic's text goes to the log and the job.
fn panicked(job: &str, panic: &(dyn std::any::Any + Send)) -> EngineError {
    let what = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned());
    tracing::error!(job, panic = what, "job panicked; the queue goes on");
    EngineError::failed(format!(
        "the job stopped on an internal error (a bug; please report it): {}",
        berth_core::text::head(&what, 500)
    ))
}

/// Counts the job for `/metrics`, with the volume data of the backup it made or read.
fn count(engine: &Engine, info: &JobInfo) {
    let data_bytes = info
        .backup
        .as_deref()
        .and_then(|b| engine.store.backup(b).ok().flatten())
        .map(|rec| rec.entry.data_bytes);
    engine.metrics.observe(info, data_bytes);
}

/// Tells the notifiers how a job ended (a cancelled job was someone's choice, and a
/// verification that passes is no news).
fn notify_outcome(engine: &Arc<Engine>, info: &JobInfo) {
    use berth_plugins::notifier::Level;
    use berth_protocol::api::plugins::NotifyEvent;
    let ok = match info.progress.state {
        JobState::Complete => true,
        JobState::Failed => false,
        _ => return,
    };
    let (event, level, title) = match (info.kind, ok) {
        (JobKind::Backup, true) => (
            NotifyEvent::BackupSucceeded,
            Level::Success,
            format!("{} succeeded", info.title),
        ),
        (JobKind::Backup, false) => (
            NotifyEvent::BackupFailed,
            Level::Error,
            format!("{} failed", info.title),
        ),
        (JobKind::Restore, true) => (
            NotifyEvent::RestoreSucceeded,
            Level::Success,
            format!("{} succeeded", info.title),
        ),
        (JobKind::Restore, false) => (
            NotifyEvent::RestoreFailed,
            Level::Error,
            format!("{} failed", info.title),
        ),
        (
            JobKind::Verify
            | JobKind::Rescan
            | JobKind::Copy
            | JobKind::Action
            | JobKind::Stack
            | JobKind::StateBackup,
            true,
        ) => return,
        // A failed action is reported with its schedule's run (`schedule_failed`); a
        // stack action's failure is in front of the user who asked for it.
        (JobKind::Action | JobKind::Stack, false) => return,
        (JobKind::Rescan, false) => return,
        // A backup that no longer verifies is a backup that is gone; a copy that
        // failed is a backup less off-site than asked; a state backup that failed
        // leaves Berth's own users, schedules and key without a copy.
        (JobKind::Verify | JobKind::Copy | JobKind::StateBackup, false) => (
            NotifyEvent::BackupFailed,
            Level::Error,
            format!("{} failed", info.title),
        ),
    };
    let mut fields = vec![
        ("job".to_owned(), info.id.clone()),
        ("actor".to_owned(), info.actor.clone()),
    ];
    if let Some(b) = &info.backup {
        fields.push(("backup".to_owned(), b.clone()));
    }
    if let Some(code) = &info.error_code {
        fields.push(("error_code".to_owned(), code.clone()));
    }
    engine.services.dispatch(
        event,
        level,
        title,
        info.progress.message.clone(),
        fields,
        None,
    );
}

/// Runs one job of the queue; the message says what came of it.
pub async fn run_job(
    engine: &Arc<Engine>,
    spec: &JobSpec,
    ctx: &JobCtx,
) -> Result<String, EngineError> {
    match spec {
        // Boxed: each job's state machine is large and runs once.
        JobSpec::Backup(s) => {
            let message = Box::pin(backup::create::run(engine, s, ctx)).await?;
            // Retention only after a success, in the same job (its log shows both).
            let pruned = match &s.schedule {
                Some(by) => schedule::prune::after_backup(engine, &s.target, by, ctx).await,
                None => String::new(),
            };
            Ok(message + &pruned)
        }
        JobSpec::Restore(s) => Box::pin(backup::restore::run(engine, s, ctx)).await,
        JobSpec::Verify(s) => Box::pin(backup::verify(engine, s, ctx)).await,
        JobSpec::Rescan(s) => Box::pin(backup::rescan::run(engine, s, ctx)).await,
        JobSpec::Copy(s) => Box::pin(backup::copy::run(engine, s, ctx)).await,
        JobSpec::Action(s) => Box::pin(schedule::action::run(engine, s, ctx)).await,
        JobSpec::Stack(s) => Box::pin(stacks::actions::run(engine, s, ctx)).await,
        JobSpec::State(s) => {
            let written = Box::pin(state::job::run(engine, s, ctx)).await?;
            let pruned = match &s.schedule {
                Some(by) => {
                    schedule::state_prune::after_state_backup(engine, &written.storage, by, ctx)
                        .await
                }
                None => String::new(),
            };
            Ok(state::job::summary(&written) + &pruned)
        }
    }
}
