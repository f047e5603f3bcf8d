//! `system.info` and the `system.stats` channel.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SystemInfo {
    pub version: String,
    pub uptime_s: u64,
    pub data_dir: String,
    /// Bytes used by the data directory (store, plugin cache, local backups).
    pub data_dir_bytes: u64,
    pub store_schema: u64,
    /// `PRETTY_NAME` from /etc/os-release, and the kernel release.
    pub host_os: String,
    pub kernel: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub docker: Option<DockerVersion>,
    /// Why Docker is not reachable, when it is not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub docker_error: Option<String>,
    /// The compose CLI stacks run with; absent when neither `docker compose` nor
    /// `docker-compose` runs here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compose: Option<super::stacks::ComposeCli>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DockerVersion {
    pub version: String,
    pub api_version: String,
    /// The engine host's OS and counts, from Docker's `info`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counts: Option<DockerCounts>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DockerCounts {
    pub containers_running: u64,
    pub containers_paused: u64,
    pub containers_stopped: u64,
    pub images: u64,
}

/// `system.df` params.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DfParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Measure the volumes again now, even if the last measurement is fresh (less than
    /// a minute old).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub refresh: bool,
}

/// `system.df`: disk use by kind, and each volume's size.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SystemDf {
    pub images: DfRow,
    pub containers: DfRow,
    pub volumes: DfRow,
    pub build_cache: DfRow,
    /// Bytes per volume name, as the engine measured them (it walks every volume).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub volume_sizes: std::collections::BTreeMap<String, i64>,
    /// When the volumes were measured (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volumes_measured: Option<String>,
    /// Why the volumes could not be measured (their sizes then count as 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volumes_error: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DfRow {
    pub count: u64,
    /// Of `count`, how many are in use.
    pub active: u64,
    pub size: i64,
    /// What removing the unused ones would free.
    pub reclaimable: i64,
}

/// `state.backup`: where to, and the passphrase that seals it (mandatory, at least
/// 12 characters: the backup holds the key that unseals every stored secret).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StateBackupParams {
    /// A storage instance (the default, `local`, when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<String>,
    pub passphrase: String,
}

/// A state backup as stored: restore it with `berth state restore` into an empty data
/// directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StateBackupResult {
    pub storage: String,
    /// The object's key on the storage (`state/berth-state-<time>.berth-state`).
    pub key: String,
    pub size: u64,
    /// SHA-256 of the object as stored, checked by reading it back.
    pub sha256: String,
    /// Store tables in the snapshot.
    pub tables: u32,
    /// The job that wrote it (the queue runs it in turn with the other jobs; its log
    /// is on the Jobs page).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
}

/// `system.stats` open params.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SystemStatsParams {
    /// Docker host name; only `local` in v1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
}

/// One `system.stats` sample, taken every second while anyone watches (latest value
/// wins: a slow reader never sees stale ones).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SystemStats {
    pub time: String,
    /// `time` in milliseconds since the epoch.
    pub ts_ms: u64,
    /// All CPUs, 0–100.
    pub cpu_percent: f64,
    pub cpus: u32,
    pub mem_total: u64,
    pub mem_used: u64,
    pub mem_available: u64,
    pub load: [f64; 3],
    /// The file system holding the data directory.
    pub disk_total: u64,
    pub disk_free: u64,
}

/// `diag.speedtest` open params: how many bytes the server should send.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SpeedtestParams {
    /// 1 byte to 1 GiB.
    pub bytes: u64,
}

/// Marks a binary channel in the catalogue: its data travels as binary frames
/// (`frame::DataFrame`), never as JSON `data` messages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BinaryFrames {}
