//! `schedules.*`: cron schedules that queue backups (with retention) and lifecycle
//! actions, their next runs, their history.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::backups::{BackupTarget, Consistency, Hooks};

/// What a schedule does when it fires.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ScheduleAction {
    /// One backup job per target (the existing queue and options).
    #[default]
    Backup,
    Start,
    Stop,
    Restart,
    Pause,
    Unpause,
    /// Recreate each container from its configuration, pulling nothing.
    Redeploy,
    /// Berth's own state to a storage (admin only; no targets): `backup.storage`,
    /// `backup.passphrase` (at least 12 characters, required) and `backup.retention`
    /// (over every state backup on that storage) are its options.
    StateBackup,
}

impl ScheduleAction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Backup => "backup",
            Self::Start => "start",
            Self::Stop => "stop",
            Self::Restart => "restart",
            Self::Pause => "pause",
            Self::Unpause => "unpause",
            Self::Redeploy => "redeploy",
            Self::StateBackup => "state_backup",
        }
    }

    /// What ends a sleep window begun by this action.
    pub fn undo(self) -> Option<Self> {
        match self {
            Self::Stop => Some(Self::Start),
            Self::Pause => Some(Self::Unpause),
            _ => None,
        }
    }
}

/// Targets found when the schedule runs, so new containers are covered without
/// editing it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "select", rename_all = "snake_case")]
pub enum Selector {
    /// Containers labelled `berth.schedule=<value>`.
    Label { value: String },
    /// Every compose project on the host.
    AllProjects,
    /// Every container, except those labelled `berth.backup.skip=true`.
    AllContainers,
}

/// Which backups a schedule keeps (restic `forget` semantics: in each period the
/// newest backup counts; periods in the schedule's time zone). Pinned backups are
/// never deleted, nor the newest backup of a target.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Retention {
    /// The newest N.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<u32>,
    /// Every backup within this long of the newest: `36h`, `7d`, `2w`, `6m`, `1y6m`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub within: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hourly: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daily: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weekly: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monthly: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub yearly: Option<u32>,
    /// Apply to the target's manual backups too (by default only this schedule's
    /// own backups are candidates).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub include_manual: bool,
}

/// One target's own retention policy within a backup schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TargetRetention {
    pub target: BackupTarget,
    pub retention: Retention,
}

impl ScheduleBackup {
    /// The policy for `target`'s backups: its own, else the schedule's.
    pub fn retention_for(&self, target: &BackupTarget) -> Option<&Retention> {
        self.target_retention
            .iter()
            .find(|t| t.target == *target)
            .map(|t| &t.retention)
            .or(self.retention.as_ref())
    }
}

/// A backup schedule's options: those of `backups.create`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ScheduleBackup {
    /// Default: `stop`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consistency: Option<Consistency>,
    /// A storage instance; the default storage at run time when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<String>,
    #[serde(default, skip_serializing_if = "Hooks::is_empty")]
    pub hooks: Hooks,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub include_image: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<Retention>,
    /// Targets with a policy of their own, in place of `retention` for their backups
    /// (keep a database longer than the rest); a target found by a selector counts by
    /// its kind and name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub target_retention: Vec<TargetRetention>,
    /// Encrypts each backup with a key derived from it (at least 8 characters). Write
    /// only: kept sealed, never returned (`encrypted` says whether one is set). On
    /// update, absent keeps the one set; empty removes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passphrase: Option<String>,
}

/// A schedule as created or updated.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ScheduleSpec {
    /// Letters, digits, `-`, `_`, `.`; 1–64 characters; unique.
    pub name: String,
    /// Default: true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// 5 fields, 6 with seconds first, or `@hourly`, `@daily`, `@weekly`, `@monthly`,
    /// `@yearly`.
    pub cron: String,
    /// A sleep window's end: when the opposite action runs (`stop` → `start`,
    /// `pause` → `unpause`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
    /// An IANA time zone name; the host's when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    /// Each run is delayed by up to this many seconds (the same delay for the same
    /// due time), to spread a fleet of schedules. At most 3,600.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jitter_s: Option<u32>,
    /// How late a run missed while Berth was down may still happen (seconds; default
    /// 1 h for actions, 24 h for backups; at most 7 days).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace_s: Option<u32>,
    #[serde(default)]
    pub action: ScheduleAction,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<BackupTarget>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<Selector>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<ScheduleBackup>,
}

/// A schedule as listed: its definition, what it means and how it is doing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ScheduleInfo {
    pub spec: ScheduleSpec,
    /// The zone its times are read in (the host's when the spec names none).
    pub zone: String,
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until_description: Option<String>,
    /// The next 5 runs (ms since the epoch, jitter included); empty when paused.
    pub next_runs: Vec<u64>,
    /// A sleep window's next 5 ends.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub next_until: Vec<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_run: Option<ScheduleRun>,
    /// Runs that failed in a row, up to now.
    pub failures: u32,
    /// Whether its backups are encrypted (a passphrase is set).
    #[serde(default)]
    pub encrypted: bool,
    pub created_ms: u64,
    pub updated_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ScheduleList {
    pub schedules: Vec<ScheduleInfo>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ScheduleRef {
    pub name: String,
}

/// `schedules.enable`: pause (false) or resume (true).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ScheduleEnable {
    pub name: String,
    pub enabled: bool,
}

/// `schedules.preview`: an expression's next runs, without saving anything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PreviewSchedule {
    pub cron: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    /// Default 5, at most 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SchedulePreview {
    pub zone: String,
    pub description: String,
    pub next_runs: Vec<u64>,
}

/// Why a run happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunTrigger {
    /// Its time came.
    Due,
    /// It was due while Berth was down, and ran late within its grace period.
    CatchUp,
    /// `schedules.run_now`.
    Manual,
}

/// How a run went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunOutcome {
    /// Its jobs are queued or running.
    Running,
    Succeeded,
    Failed,
    /// Not run: its previous run was still active.
    Skipped,
    /// Not run: due while Berth was down, and past its grace period at start.
    Missed,
}

/// One run of a schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ScheduleRun {
    pub id: String,
    pub schedule: String,
    pub trigger: RunTrigger,
    /// What ran: the schedule's action, or its sleep window's end.
    pub action: ScheduleAction,
    /// When it was due (ms since the epoch).
    pub due_ms: u64,
    /// When it ran (or was found skipped or missed).
    pub at_ms: u64,
    pub outcome: RunOutcome,
    /// In words: why skipped, missed or failed; what it queued.
    pub message: String,
    /// The jobs it queued.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub jobs: Vec<String>,
}

/// `schedules.history`: newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct HistoryQuery {
    /// One schedule's runs (every schedule's when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Default 100, at most 1,000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ScheduleHistory {
    pub runs: Vec<ScheduleRun>,
}

/// `schedules.matches`: what a selector finds on the host now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct MatchSelector {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    pub selector: Selector,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SelectorMatches {
    pub targets: Vec<BackupTarget>,
}

/// `schedules.retention_preview`: what `retention` would keep of the backups of
/// `schedule`'s targets (or of one target), now.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RetentionPreviewParams {
    pub schedule: String,
    /// The policy to try (the schedule's own when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<Retention>,
    /// The targets' own policies to try (the schedule's when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_retention: Option<Vec<TargetRetention>>,
}

/// One backup and the policy's verdict on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RetentionDecision {
    pub id: String,
    pub created_ms: u64,
    pub keep: bool,
    /// The rules keeping it: `last`, `within`, `hourly` … `yearly`, `pinned`, `newest`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
}

/// The verdicts for one target's backups, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RetentionGroup {
    pub target: BackupTarget,
    /// The target's own policy applied (`target_retention`), not the schedule's.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub own_policy: bool,
    pub backups: Vec<RetentionDecision>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RetentionPreview {
    pub groups: Vec<RetentionGroup>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_target_policy_wins_over_the_schedules_for_that_target_only() {
        let keep = |n| Retention {
            last: Some(n),
            ..Default::default()
        };
        let db = BackupTarget::Container { name: "db".into() };
        let web = BackupTarget::Container { name: "web".into() };
        let options = ScheduleBackup {
            retention: Some(keep(7)),
            target_retention: vec![TargetRetention {
                target: db.clone(),
                retention: keep(30),
            }],
            ..Default::default()
        };
        assert_eq!(options.retention_for(&db), Some(&keep(30)));
        assert_eq!(options.retention_for(&web), Some(&keep(7)));
        assert_eq!(ScheduleBackup::default().retention_for(&web), None);
    }
}
