//! Backups and jobs: the vault (filter, restore with overrides, verify, download,
//! upload by drag and drop, delete) and the jobs page (the queue with live progress
//! from `job.progress`, cancel, per-job log and its download).

mod jobs;
mod restore;
mod table;
mod upload;
mod vault;

pub use jobs::JobsPage;
pub use vault::BackupsPage;
