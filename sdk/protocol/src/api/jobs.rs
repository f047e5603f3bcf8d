//! The job queue: backups, restores and verifications run one after another, survive
//! a restart of the host, and report their progress on the `job.progress` channel.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Where a job is. `queued → waiting → starting → running → verifying` and then one of
/// the three terminal states.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Accepted, behind other jobs.
    Queued,
    /// First in line, waiting for a resource (Docker, the storage) to be free.
    Waiting,
    /// Preparing: hooks, stopping or pausing containers, opening the storage.
    Starting,
    /// Moving data.
    Running,
    /// Re-reading what was written and checking it.
    Verifying,
    Complete,
    Failed,
    Cancelled,
}

impl JobState {
    pub const ALL: [Self; 8] = [
        Self::Queued,
        Self::Waiting,
        Self::Starting,
        Self::Running,
        Self::Verifying,
        Self::Complete,
        Self::Failed,
        Self::Cancelled,
    ];

    /// Whether the job has ended (nothing changes any more).
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Complete | Self::Failed | Self::Cancelled)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Waiting => "waiting",
            Self::Starting => "starting",
            Self::Running => "running",
            Self::Verifying => "verifying",
            Self::Complete => "complete",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }
}

/// What a job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    Backup,
    Restore,
    Verify,
    /// A catalog rebuild from a storage (`backups.rescan`).
    Rescan,
    /// A backup sent to another storage (`backups.copy`).
    Copy,
    /// A scheduled start, stop, restart, pause or unpause.
    Action,
    /// A compose action on a managed stack (`stacks.up` …, `stack.output`).
    Stack,
    /// Berth's own state to a storage (`state.backup`, or a `state_backup` schedule).
    StateBackup,
}

impl JobKind {
    /// The name on the wire (`state_backup`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Backup => "backup",
            Self::Restore => "restore",
            Self::Verify => "verify",
            Self::Rescan => "rescan",
            Self::Copy => "copy",
            Self::Action => "action",
            Self::Stack => "stack",
            Self::StateBackup => "state_backup",
        }
    }
}

/// One `job.progress` message, also each job's last known progress.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct JobProgress {
    pub job: String,
    pub state: JobState,
    /// What the job is doing now, e.g. `stopping web`, `volume data`, `verifying`.
    pub phase: String,
    pub bytes_done: u64,
    /// 0 while unknown.
    pub bytes_total: u64,
    pub items_done: u64,
    pub items_total: u64,
    /// Bytes per second over the last few seconds.
    pub rate_bps: u64,
    /// Seconds left, once the rate and total are known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eta_s: Option<u64>,
    /// The failure or the result, in words.
    pub message: String,
}

/// A job as listed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct JobInfo {
    pub id: String,
    pub kind: JobKind,
    /// In words: `Back up container web`.
    pub title: String,
    /// Who asked (a user, a token's name, later `scheduler`).
    pub actor: String,
    pub progress: JobProgress,
    pub created_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_ms: Option<u64>,
    /// The error code of a failed job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// The backup a backup job produced, or the one a restore or verify job read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<String>,
    /// A backup job in `stop` or `pause` mode: how long it held each running
    /// container, in the order they ran again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub downtime: Vec<Downtime>,
}

/// How long a backup held one container: from asking Docker to stop (or pause) it to
/// its running again — what the container's users saw as downtime.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Downtime {
    pub container: String,
    /// `stop` or `pause`.
    pub consistency: super::backups::Consistency,
    pub ms: u64,
}

impl Downtime {
    /// How it was held, in words: `stopped` or `paused`.
    pub fn held_as(&self) -> &'static str {
        match self.consistency {
            super::backups::Consistency::Pause => "paused",
            _ => "stopped",
        }
    }
}

/// `jobs.list`: newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct JobsQuery {
    /// Only jobs in these states (all when empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub states: Vec<JobState>,
    /// At most this many (default 200, at most 1,000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct JobList {
    pub jobs: Vec<JobInfo>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct JobRef {
    pub id: String,
}

/// Several jobs queued by one request, in queue order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct JobsQueued {
    pub jobs: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LogLevel {
    Info,
    Warn,
    Error,
}

/// One line of a job's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct JobLogLine {
    pub time_ms: u64,
    pub level: LogLevel,
    pub message: String,
}

/// `jobs.get`: the job and its whole log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct JobDetail {
    pub job: JobInfo,
    pub log: Vec<JobLogLine>,
}

/// `job.progress`: one job, or every job when `job` is absent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct JobProgressParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kind_names_itself_as_it_serialises() {
        for kind in [
            JobKind::Backup,
            JobKind::Restore,
            JobKind::Verify,
            JobKind::Rescan,
            JobKind::Copy,
            JobKind::Action,
            JobKind::Stack,
            JobKind::StateBackup,
        ] {
            assert_eq!(serde_json::json!(kind), kind.as_str());
        }
    }
}
