//! Plugins and the storage instances they provide: `plugins.list`, `storage.list`,
//! `storage.test`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PluginKind {
    /// Only the lifecycle (the built-in self-test).
    Base,
    /// Keeps backups (`berth:plugin/storage`).
    Storage,
    /// Sends notifications (`berth:plugin/notification`).
    Notifier,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PluginHealth {
    Healthy,
    /// A recent call failed; the next call gets a fresh instance.
    Degraded,
    /// Several calls in a row failed, or the plugin cannot load.
    Unhealthy,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PluginInfo {
    pub id: String,
    /// `None` when the plugin could not be loaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<PluginKind>,
    /// Embedded in the binary (always present) rather than installed.
    pub builtin: bool,
    /// sha256 of the component.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    pub health: PluginHealth,
    /// Why it is not healthy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// What the plugin may touch, in words (`one directory: …`, `no network`).
    pub capabilities: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PluginList {
    pub plugins: Vec<PluginInfo>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StorageInfo {
    /// The instance's name (`local` for the built-in default).
    pub name: String,
    pub plugin: String,
    /// Backups go here unless another instance is chosen.
    pub default: bool,
    /// Where it keeps objects, in words (a directory, later a bucket).
    pub location: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StorageInstances {
    pub storage: Vec<StorageInfo>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StorageRef {
    /// The instance; the default one when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// The outcome of a round trip: write, stat, read back, compare, list, delete.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct StorageTestResult {
    pub name: String,
    /// Bytes written and read back.
    pub bytes: u64,
    pub write_ms: f64,
    pub read_ms: f64,
    pub total_ms: f64,
}
