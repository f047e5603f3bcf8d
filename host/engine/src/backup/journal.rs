//! The crash journal: before a backup stops or pauses a container, it writes that down;
//! after starting or unpausing it again, it crosses it out. At start, Berth undoes
//! whatever is still written down — so a `kill -9` in the middle of a backup leaves no
//! container down that was running before.

use crate::EngineError;
use berth_protocol::api::backups::Consistency;
use berth_protocol::api::jobs::{Downtime, LogLevel};
use bollard::Docker;
use bollard::query_parameters::StopContainerOptionsBuilder;
use serde::{Deserialize, Serialize};

use crate::error::docker_err;
use crate::jobs::JobCtx;
use berth_core::records::RecordTable;
use berth_core::store::{Store, StoreError};

pub(crate) const JOURNAL: RecordTable<JournalEntry> = RecordTable::new("backup_journal", "journal");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Held {
    Stopped,
    Paused,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalEntry {
    pub container: String,
    pub name: String,
    pub held: Held,
    pub job: String,
    pub since_ms: u64,
}

pub trait JournalTable: berth_core::store::StoreAccess {
    fn journal_put(&self, e: &JournalEntry) -> Result<(), StoreError> {
        JOURNAL.put(self.db(), &e.container, e)
    }

    fn journal_remove(&self, container: &str) -> Result<(), StoreError> {
        JOURNAL.remove(self.db(), container).map(drop)
    }

    fn journal(&self) -> Result<Vec<JournalEntry>, StoreError> {
        JOURNAL.all(self.db())
    }
}

impl JournalTable for Store {}

/// A container the backup needs held still.
#[derive(Debug, Clone)]
pub struct Subject {
    pub id: String,
    pub name: String,
    pub running: bool,
    pub paused: bool,
}

/// Containers a job holds stopped or paused; [`Holding::release`] gives them back.
#[derive(Debug)]
pub struct Holding {
    docker: Docker,
    held: Vec<JournalEntry>,
}

fn store_err(e: StoreError) -> EngineError {
    EngineError::internal(&e)
}

/// Stops (or pauses) the running containers among `subjects`, in order, writing each
/// to the journal first. On failure, what was already held is released.
pub async fn hold(
    docker: &Docker,
    store: &Store,
    ctx: &JobCtx,
    subjects: &[Subject],
    how: Held,
) -> Result<Holding, EngineError> {
    let mut h = Holding {
        docker: docker.clone(),
        held: Vec::new(),
    };
    for s in subjects {
        // Only what runs is touched: a stopped container stays stopped, and a paused
        // one is already still.
        if !s.running || s.paused {
            continue;
        }
        let entry = JournalEntry {
            container: s.id.clone(),
            name: s.name.clone(),
            held: how,
            job: ctx.id.clone(),
            since_ms: berth_core::time::now_ms(),
        };
        if let Err(e) = store.journal_put(&entry).map_err(store_err) {
            h.release(ctx).await;
            return Err(e);
        }
        let what = format!("container {}", s.name);
        let done = match how {
            Held::Stopped => {
                ctx.phase(&format!("stopping {}", s.name));
                docker
                    .stop_container(&s.id, Some(StopContainerOptionsBuilder::default().build()))
                    .await
            }
            Held::Paused => {
                ctx.phase(&format!("pausing {}", s.name));
                docker.pause_container(&s.id).await
            }
        };
        h.held.push(entry);
        if let Err(e) = done {
            let err = docker_err(&e, &what);
            h.release(ctx).await;
            return Err(err);
        }
        ctx.log(
            LogLevel::Info,
            format!(
                "{} {}",
                match how {
                    Held::Stopped => "stopped",
                    Held::Paused => "paused",
                },
                s.name
            ),
        );
    }
    Ok(h)
}

impl Holding {
    /// Starts (or unpauses) every held container, in the reverse order of holding,
    /// and crosses each out of the journal once it runs. One that cannot be started
    /// stays in the journal, so it is tried again (before the next job, and at start).
    pub async fn release(mut self, ctx: &JobCtx) {
        while let Some(e) = self.held.pop() {
            ctx.phase(&format!("starting {}", e.name));
            let undone = undo(&self.docker, &e).await;
            match &undone {
                Ok(()) => ctx.held(Downtime {
                    container: e.name.clone(),
                    consistency: match e.held {
                        Held::Stopped => Consistency::Stop,
                        Held::Paused => Consistency::Pause,
                    },
                    ms: berth_core::time::now_ms().saturating_sub(e.since_ms),
                }),
                Err(err) => ctx.log(
                    LogLevel::Error,
                    format!(
                        "could not start {} again: {err}; Berth will keep trying",
                        e.name
                    ),
                ),
            }
            if settled(&undone)
                && let Err(err) = ctx_store(ctx).journal_remove(&e.container)
            {
                tracing::error!(container = e.name, error = %err, "cannot update the journal");
            }
        }
    }
}

fn ctx_store(ctx: &JobCtx) -> &Store {
    ctx.store()
}

async fn undo(docker: &Docker, e: &JournalEntry) -> Result<(), bollard::errors::Error> {
    let r = match e.held {
        Held::Stopped => docker.start_container(&e.container, None).await,
        Held::Paused => docker.unpause_container(&e.container).await,
    };
    match r {
        Ok(()) => Ok(()),
        // Already running (started by hand meanwhile): nothing to undo.
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 304, ..
        }) => Ok(()),
        // Unpausing a container that is not paused (unpaused by hand meanwhile).
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 409,
            message,
        }) if e.held == Held::Paused && message.contains("not paused") => Ok(()),
        Err(err) => Err(err),
    }
}

/// Whether a journal entry is done with: its container runs again, or is gone (removed
/// by someone meanwhile). Any other failure — the daemon away, a start refused (a port
/// taken for now) — keeps the entry, to be tried again.
fn settled(undone: &Result<(), bollard::errors::Error>) -> bool {
    matches!(
        undone,
        Ok(())
            | Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404,
                ..
            })
    )
}

/// Starts again whatever the journal still holds — left stopped or paused by a backup
/// that never finished (at start), or by one job that ended without releasing (`job`,
/// after a panic). Entries whose container cannot be started yet stay for the next
/// attempt. Returns how many entries were tried.
pub async fn reconcile(
    docker: &Docker,
    store: &Store,
    job: Option<&str>,
) -> Result<usize, StoreError> {
    let entries: Vec<JournalEntry> = store
        .journal()?
        .into_iter()
        .filter(|e| job.is_none_or(|j| e.job == j))
        .collect();
    for e in &entries {
        let undone = undo(docker, e).await;
        match &undone {
            Ok(()) => tracing::warn!(
                container = e.name,
                job = e.job,
                "started again a container an interrupted backup had {}",
                match e.held {
                    Held::Stopped => "stopped",
                    Held::Paused => "paused",
                }
            ),
            Err(err) if settled(&undone) => tracing::warn!(
                container = e.name,
                error = %err,
                "a container an interrupted backup held is gone"
            ),
            Err(err) => tracing::error!(
                container = e.name,
                error = %err,
                "cannot start a container an interrupted backup held; will retry"
            ),
        }
        if settled(&undone) {
            store.journal_remove(&e.container)?;
        }
    }
    Ok(entries.len())
}
