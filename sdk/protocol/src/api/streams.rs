//! The binary stream channels: `container.logs` and `exec`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LogsParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    pub id: String,
    /// Keep streaming new output until the container stops or the channel closes.
    #[serde(default)]
    pub follow: bool,
    /// Only the last N lines of the existing log (all when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tail: Option<u64>,
    /// Only lines after this time (Unix seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<i64>,
    /// Prefix every line with its RFC 3339 nanosecond timestamp and a space.
    #[serde(default)]
    pub timestamps: bool,
}

/// A `container.logs` line opened with `timestamps`: a key that sorts as time (Docker
/// drops trailing zeros of the nanoseconds, so the text itself does not), and the text
/// after the stamp. Lines of several containers interleave by this key.
pub fn log_sort_key(line: &str) -> (String, String) {
    let Some((stamp, text)) = line.split_once(' ') else {
        return (String::new(), line.to_owned());
    };
    let stamp = stamp.trim_end_matches('Z');
    let (seconds, fraction) = stamp.split_once('.').unwrap_or((stamp, ""));
    (format!("{seconds}.{fraction:0<9}"), text.to_owned())
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ExecParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    pub container: String,
    /// `["/bin/sh"]` when empty.
    #[serde(default)]
    pub cmd: Vec<String>,
    #[serde(default)]
    pub tty: bool,
    /// Initial terminal size (with `tty`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cols: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<u16>,
    /// `user`, `user:group`, or a uid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// `KEY=value` entries.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<String>,
}

/// `close` payload of an `exec` channel whose process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ExitStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i64>,
}

/// `container.stats` open params.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StatsParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Container ids or names; empty = every running container.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ids: Vec<String>,
}

/// One container's figures at one moment (`container.stats` data). Latest value wins
/// per container: a client that reads slowly gets each container's newest sample,
/// never a backlog.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ContainerStats {
    /// The full container id.
    pub id: String,
    pub name: String,
    /// RFC 3339 time of the sample, and the same in Unix milliseconds.
    pub time: String,
    pub ts_ms: u64,
    /// Share of one CPU × 100 (like `docker stats`: 200 = two CPUs busy).
    pub cpu_percent: f64,
    /// Memory in use without the page cache (`usage - inactive_file`, like `docker
    /// stats`), and the limit (the host's memory when the container has none).
    pub mem_bytes: u64,
    pub mem_limit: u64,
    /// Bytes received / sent over all the container's networks since it started.
    pub net_rx: u64,
    pub net_tx: u64,
    /// Bytes read / written on block devices since it started.
    pub blk_read: u64,
    pub blk_write: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pids: Option<u64>,
}
