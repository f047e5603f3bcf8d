//! `settings.get|update`: what an admin may change while Berth runs, in one place.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The server's settings as they apply now.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Settings {
    /// Jobs run at once (1–8); jobs never hold the same container or volume together.
    pub job_concurrency: u32,
    /// Audit entries older than this many days are pruned (1–3650).
    pub audit_retention_days: u32,
    /// The shortest password accepted for new and changed passwords (10–128).
    pub password_min_length: u32,
    /// The storage instance backups go to when they name none.
    pub default_storage: String,
    /// The settings changed here, by name; the others are the server's configuration
    /// (flags, environment, built-in defaults), to which `reset` returns them.
    pub changed: Vec<String>,
}

/// `settings.update`: the settings to change (absent ones stay as they are), and those
/// to return to the server's configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SettingsUpdate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_concurrency: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit_retention_days: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_min_length: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_storage: Option<String>,
    /// Names of settings to return to the configuration (`job_concurrency`,
    /// `audit_retention_days`, `password_min_length`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reset: Vec<String>,
}
