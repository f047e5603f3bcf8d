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
