//! Plugins and their configured instances: `plugins.*`, `storage.*`,
//! `notifications.*`.

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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
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
    /// False when an admin disabled it (its instances are then not used).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// From its manifest; `None` when it could not be loaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest: Option<PluginManifestInfo>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
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

/// One upload a storage instance holds that was begun and neither finished nor aborted
/// (an S3 multipart upload whose parts are stored, and billed, as no object).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct IncompleteUpload {
    /// The object key it would have written.
    pub key: String,
    /// When it began, milliseconds since the Unix epoch (0 when the server did not say).
    pub started_ms: u64,
}

/// `storage.uploads`: what a storage instance holds of uploads never completed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct IncompleteUploads {
    pub name: String,
    /// False when the backend cannot tell (a plugin built against `berth:plugin@0.1.0`);
    /// `uploads` is then empty.
    pub supported: bool,
    /// Oldest first, at most 1,000.
    pub uploads: Vec<IncompleteUpload>,
}

/// `storage.abort_uploads`: which incomplete uploads to discard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AbortUploads {
    /// The instance; the default one when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Those begun at least this many hours ago (1–8760, default 24): a backup
    /// running now keeps its upload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub older_than_hours: Option<u32>,
}

/// How many incomplete uploads `storage.abort_uploads` discarded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct UploadsAborted {
    pub name: String,
    pub aborted: u32,
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

/// What `plugins.list` adds from a plugin's manifest.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PluginManifestInfo {
    pub name: String,
    pub version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// `berth:plugin@MAJOR.MINOR` it was built against.
    pub api: String,
    /// JSON Schema (the supported subset, see docs/plugins.md) of an instance's
    /// configuration; the UI renders its form from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_schema: Option<serde_json::Value>,
    /// Configuration fields that are secrets (write-only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<String>,
    /// Origins the plugin may ever reach (`scheme://host[:port]` patterns).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub http: Vec<String>,
    /// Whether each instance gets a directory of its own.
    #[serde(default)]
    pub storage_dir: bool,
    /// Effective limits.
    pub memory_mib: u64,
    pub call_timeout_ms: u64,
}

/// One configured instance of a plugin. Secret fields never appear in `config`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PluginInstance {
    pub name: String,
    pub plugin: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<PluginKind>,
    /// The configuration without its secrets.
    pub config: serde_json::Value,
    /// Names of the secret fields that have a value.
    #[serde(default)]
    pub secrets_set: Vec<String>,
    /// Origins this instance may reach.
    #[serde(default)]
    pub egress: Vec<String>,
    /// Whether it may reach private and loopback addresses.
    #[serde(default)]
    pub allow_private: bool,
    /// A storage instance's directory on the host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// False while its plugin is disabled.
    pub enabled: bool,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct InstanceList {
    pub instances: Vec<PluginInstance>,
}

/// Creates or updates an instance (`plugins.configure`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfigureInstance {
    /// The plugin to configure.
    pub plugin: String,
    /// The instance's name: 1–40 of a-z, 0-9, '-', '_'. An existing name is updated
    /// (it must belong to the same plugin).
    pub name: String,
    /// The configuration, validated against the plugin's schema. Secret fields may be
    /// given here or in `secrets`; on update, a secret left out keeps its value.
    #[serde(default)]
    pub config: serde_json::Value,
    /// Secret fields: a value sets it, `null` clears it, absence keeps it.
    #[serde(default)]
    pub secrets: std::collections::BTreeMap<String, Option<String>>,
    /// Origins granted to this instance (`scheme://host[:port]`; within the
    /// manifest's). Empty: the origin of the configuration's `url`, if any.
    #[serde(default)]
    pub egress: Vec<String>,
    #[serde(default)]
    pub allow_private: bool,
    /// For a storage instance: an absolute directory on the host (default:
    /// `<data dir>/storage/<name>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct InstanceRef {
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PluginRef {
    pub id: String,
}

/// A notifier instance as everyone may see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct NotifierInfo {
    pub name: String,
    pub plugin: String,
    pub enabled: bool,
    pub health: PluginHealth,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct NotifierList {
    pub notifiers: Vec<NotifierInfo>,
}

/// A test notification's delivery.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct NotifyTestResult {
    pub name: String,
    /// 1 when it went through at once; more when the first tries failed transiently.
    pub attempts: u32,
    pub total_ms: f64,
}

/// `plugins.test`: the test of a storage or notifier instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PluginTestResult {
    Storage(StorageTestResult),
    Notifier(NotifyTestResult),
}

/// One capability a plugin asks for. `key` is what an admin approves:
/// `storage_dir`, `http:<pattern>` or `secret:<field>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Capability {
    pub key: String,
    /// In words, for the approval dialog.
    pub description: String,
}

/// A plugin package received and checked — shape, manifest, API version, sha256 —
/// but not compiled, and nothing installed yet: the answer to the `PUT` of a
/// `plugins.upload_ticket`. Install it with `plugins.install` before `expires_at`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct StagedPlugin {
    /// Names this package in `plugins.install`.
    pub staged: String,
    pub id: String,
    pub kind: PluginKind,
    pub sha256: String,
    pub manifest: PluginManifestInfo,
    /// Everything the plugin asks for.
    pub capabilities: Vec<Capability>,
    /// The version installed now, when this is an upgrade.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub installed_version: Option<String>,
    /// Keys that `plugins.install` must approve: all of them on a first install; on an
    /// upgrade, those the installed version was not granted.
    pub needs_approval: Vec<String>,
    pub expires_at: String,
}

/// `plugins.install`: installs (or upgrades) a staged package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InstallPlugin {
    /// From [`StagedPlugin::staged`].
    pub staged: String,
    /// Capability keys the admin approves; must cover
    /// [`StagedPlugin::needs_approval`].
    #[serde(default)]
    pub approve: Vec<String>,
}

/// Events Berth notifies about.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum NotifyEvent {
    BackupSucceeded,
    BackupFailed,
    RestoreSucceeded,
    RestoreFailed,
    ScheduleFailed,
    PluginUnhealthy,
}

impl NotifyEvent {
    pub const ALL: [NotifyEvent; 6] = [
        NotifyEvent::BackupSucceeded,
        NotifyEvent::BackupFailed,
        NotifyEvent::RestoreSucceeded,
        NotifyEvent::RestoreFailed,
        NotifyEvent::ScheduleFailed,
        NotifyEvent::PluginUnhealthy,
    ];

    /// What a new notifier receives until an admin chooses: the failures.
    pub const DEFAULT: [NotifyEvent; 4] = [
        NotifyEvent::BackupFailed,
        NotifyEvent::RestoreFailed,
        NotifyEvent::ScheduleFailed,
        NotifyEvent::PluginUnhealthy,
    ];

    /// The wire name (`backup_failed`), also the notification's `kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            NotifyEvent::BackupSucceeded => "backup_succeeded",
            NotifyEvent::BackupFailed => "backup_failed",
            NotifyEvent::RestoreSucceeded => "restore_succeeded",
            NotifyEvent::RestoreFailed => "restore_failed",
            NotifyEvent::ScheduleFailed => "schedule_failed",
            NotifyEvent::PluginUnhealthy => "plugin_unhealthy",
        }
    }

    /// In words, for the settings page.
    pub fn label(self) -> &'static str {
        match self {
            NotifyEvent::BackupSucceeded => "Backup succeeded",
            NotifyEvent::BackupFailed => "Backup failed",
            NotifyEvent::RestoreSucceeded => "Restore succeeded",
            NotifyEvent::RestoreFailed => "Restore failed",
            NotifyEvent::ScheduleFailed => "Schedule failed",
            NotifyEvent::PluginUnhealthy => "Plugin unhealthy",
        }
    }
}

/// Which events go to one notifier instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct NotifyRoute {
    /// The notifier instance.
    pub name: String,
    pub events: Vec<NotifyEvent>,
}

/// Every notifier instance's events (`notifications.routes`); also the params of
/// `notifications.set_routes`, where instances left out keep theirs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct NotifyRoutes {
    pub routes: Vec<NotifyRoute>,
}
