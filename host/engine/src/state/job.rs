//! A state backup as a job of the queue: `state.backup` and `state_backup` schedules
//! queue one, so it runs in turn with the backups and restores (never beside a
//! restore that is rewriting what it copies), shows its progress and log on the Jobs
//! page, counts in `/metrics` and notifies a failure like any backup. A scheduled
//! one's retention is applied by the runner afterwards (`schedule::state_prune`), as
//! for backups.

use std::sync::Arc;

use berth_protocol::api::jobs::LogLevel;

use super::{Places, Written};
use crate::jobs::spec::StateSpec;
use crate::jobs::{JobCtx, JobSpec, Output, Watcher};
use crate::{Engine, EngineError, backup};

/// Checks the request and queues a state backup; `watcher` learns what it wrote (or
/// why it failed) when it ends. Returns the job's id.
pub fn queue(
    engine: &Engine,
    storage: Option<&str>,
    passphrase: &str,
    actor: String,
    watcher: Option<Watcher>,
) -> Result<String, EngineError> {
    super::check_passphrase(passphrase)?;
    // Named now rather than as a failed job.
    backup::storage(engine, storage)?;
    let sealed = backup::seal_passphrase(engine, Some(passphrase))?
        .ok_or_else(|| EngineError::bad("passphrase", "a passphrase is required"))?;
    let spec = JobSpec::State(StateSpec {
        storage: storage.map(str::to_owned),
        passphrase: sealed,
        schedule: None,
    });
    engine.jobs.enqueue_watched(
        &engine.store,
        spec,
        "Back up Berth's state".to_owned(),
        actor,
        watcher,
    )
}

/// Runs a queued state backup (the runner's entry point); a watcher receives what
/// it wrote, or why it failed, once the job's end is recorded.
pub async fn run(
    engine: &Arc<Engine>,
    spec: &StateSpec,
    ctx: &JobCtx,
) -> Result<Written, EngineError> {
    let watcher = ctx.take_watcher();
    let outcome = write(engine, spec, ctx).await;
    if let Some(w) = watcher {
        let told = match &outcome {
            Ok(written) => Output::StateBackup(written.clone()),
            Err(e) => Output::Failed {
                kind: e.kind(),
                message: e.public(),
            },
        };
        ctx.tell_at_end(w, told);
    }
    outcome
}

/// The job's message.
pub fn summary(written: &Written) -> String {
    format!(
        "state backed up to {} as {} ({} bytes, {} tables)",
        written.storage, written.key, written.size, written.tables
    )
}

async fn write(
    engine: &Arc<Engine>,
    spec: &StateSpec,
    ctx: &JobCtx,
) -> Result<Written, EngineError> {
    let passphrase = match backup::open_passphrase(engine, Some(&spec.passphrase))? {
        Some(backup::crypt::Secret::Passphrase(p)) => p,
        _ => return Err(EngineError::internal(&"the job's passphrase does not open")),
    };
    let places = Places::of(engine);
    let written = super::backup(engine, &places, spec.storage.as_deref(), passphrase, ctx).await?;
    ctx.log(
        LogLevel::Info,
        format!(
            "{} written to {} ({} bytes, sha256 {})",
            written.key, written.storage, written.size, written.sha256
        ),
    );
    Ok(written)
}
