//! Berth's engine: the job queue ([`jobs`]) and what it runs — backups, restores,
//! verifications, catalog rebuilds ([`backup`]), schedules ([`schedule`]) and compose
//! stacks' files ([`stacks`]) — on the Docker hosts, the plugins'
//! storages and the store, through the narrow [`Engine`] handle. It never sees the
//! wire: errors are [`EngineError`], mapped to protocol errors by the server.

// Needs no unsafe code; forbid (the workspace only denies) keeps it that way.
#![forbid(unsafe_code)]
// Host functions stay short enough to read whole (threshold in clippy.toml);
// a longer one is split by phase, or carries a reasoned `#[expect]`.
#![warn(clippy::too_many_lines)]

pub mod backup;
mod engine;
pub mod error;
pub mod jobs;
pub mod metrics;
pub mod runner;
pub mod schedule;
pub mod stack_folder;
pub mod stacks;
pub mod state;

pub use engine::Engine;

/// The engine's record traits on the store, for `use crate::prelude::*`.
pub mod prelude {
    pub use crate::backup::catalog::CatalogTable;
    pub use crate::backup::journal::JournalTable;
    pub use crate::jobs::JobsTable;
    pub use berth_plugins::InstancesTable;
}

/// Creates this crate's tables (see `berth_core::store::Tables`).
pub fn tables(tx: &redb::WriteTransaction) -> Result<(), redb::TableError> {
    tx.open_table(jobs::JOBS.definition())?;
    backup::catalog::tables(tx)?;
    tx.open_table(backup::journal::JOURNAL.definition())?;
    tx.open_table(schedule::store::SCHEDULES.definition())?;
    tx.open_table(schedule::store::RUNS.definition())?;
    tx.open_table(stacks::versions::VERSIONS.definition())?;
    Ok(())
}
pub use error::EngineError;
