//! The engine's handle on what it works with, passed explicitly instead of the server's
//! state: the store, the Docker hosts, the plugins and their instances, the installation
//! key, and the job queue's live side.

use std::sync::Arc;

use berth_core::secrets::SecretKey;
use berth_core::store::Store;
use berth_docker::hosts::Hosts;
use berth_plugins::{PluginRuntime, PluginServices};

use crate::jobs::Jobs;

/// Everything a job reaches.
#[derive(Debug)]
pub struct Engine {
    pub store: Arc<Store>,
    pub hosts: Arc<Hosts>,
    pub plugins: Arc<PluginRuntime>,
    /// The configured storages and notifiers.
    pub services: Arc<PluginServices>,
    pub secret_key: Arc<SecretKey>,
    pub jobs: Arc<Jobs>,
    /// The audit log (the server's requests and the scheduler's runs write to it).
    pub audit: Arc<berth_identity::audit::AuditLog>,
    /// Wakes the scheduler task: a schedule changed, so its next due time is to be
    /// computed again (`notify_one` keeps the wake-up if the task is busy).
    pub scheduler: Arc<tokio::sync::Notify>,
    /// The data directory (the store, the installation key, installed plugins): what
    /// a state backup copies.
    pub data_dir: std::path::PathBuf,
    /// The stacks directory: one folder per compose stack.
    pub stacks_dir: std::path::PathBuf,
    /// Host directories whose bind mounts backups include (`backup_bind_roots`).
    pub backup_bind_roots: Vec<std::path::PathBuf>,
    /// Whether a backup that holds containers reads their volumes ahead into the
    /// spool (`backup_spool`), so they run again before the archive is written.
    pub backup_spool: bool,
    /// Jobs counted as they end, for `/metrics`.
    pub metrics: crate::metrics::JobMetrics,
}
