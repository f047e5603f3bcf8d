//! `audit.list` / `audit.export` (admin): who did what, when, from where.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One audit record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AuditEntry {
    /// Increasing; also the paging cursor.
    pub id: u64,
    pub time: String,
    /// A user name, `scheduler`, or the name tried at a failed login.
    pub actor: String,
    /// The API token used, by name, when one was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Client address.
    pub client: String,
    /// A method name, or `auth.login` / `auth.logout` for the HTTP endpoints.
    pub method: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// `ok` or an error code.
    pub outcome: String,
    /// Repeated failures of one kind from one source within a short window are one
    /// entry with a count (absent: once).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// More about what happened: an `exec` session's command, duration and exit code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// Filters shared by `audit.list` and `audit.export`; all optional, combined with AND.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AuditFilter {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// Exact name, or a prefix ending in `.`/`*` (`users.` matches every users method).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// `ok`, `error` (any failure) or one error code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    /// RFC 3339, inclusive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    /// RFC 3339, exclusive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
}

/// `audit.list` params: newest first; pass `next_cursor` back as `cursor` for more.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AuditQuery {
    #[serde(flatten)]
    pub filter: AuditFilter,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<u64>,
    /// 1–1000, default 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExportFormat {
    Jsonl,
    Csv,
}

/// `audit.export` params: like `audit.list`, as text; page with the cursor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AuditExport {
    pub format: ExportFormat,
    #[serde(flatten)]
    pub query: AuditQuery,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AuditExportPage {
    pub format: ExportFormat,
    /// JSON lines, or CSV (with a header row on the first page only).
    pub content: String,
    pub count: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<u64>,
}

/// The CSV header `audit.export` writes.
pub const CSV_HEADER: &str = "id,time,actor,token,client,method,target,outcome,count,detail";
