//! What a job is asked to do, as queued and persisted: plain data, so the queue
//! (`jobs`) knows the kinds of job without depending on the code that runs them
//! (`backup`, dispatched by `runner`).

use berth_protocol::api::backups::{BackupTarget, Consistency, RestoreBackup, Trigger};
use berth_protocol::api::jobs::JobKind;
use serde::{Deserialize, Serialize};

/// What a job does, with everything it needs to run after a restart. Passphrases are
/// sealed with the installation key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "do", rename_all = "snake_case")]
pub enum JobSpec {
    Backup(BackupSpec),
    Restore(RestoreSpec),
    Verify(VerifySpec),
    Rescan(RescanSpec),
    Copy(CopySpec),
    Action(ActionSpec),
    Stack(StackSpec),
    State(StateSpec),
}

impl JobSpec {
    pub fn kind(&self) -> JobKind {
        match self {
            Self::Backup(_) => JobKind::Backup,
            Self::Restore(_) => JobKind::Restore,
            Self::Verify(_) => JobKind::Verify,
            Self::Rescan(_) => JobKind::Rescan,
            Self::Copy(_) => JobKind::Copy,
            Self::Action(_) => JobKind::Action,
            Self::Stack(_) => JobKind::Stack,
            Self::State(_) => JobKind::StateBackup,
        }
    }
}

/// A backup job, as queued.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackupSpec {
    #[serde(default)]
    pub host: Option<String>,
    pub target: BackupTarget,
    pub consistency: Consistency,
    /// `None`: the default storage at the time the job runs.
    #[serde(default)]
    pub storage: Option<String>,
    /// Sealed with the installation key.
    #[serde(default)]
    pub passphrase: Option<String>,
    #[serde(default)]
    pub trigger: Trigger,
    #[serde(default)]
    pub hooks: berth_protocol::api::backups::Hooks,
    /// Carry the image (container targets).
    #[serde(default)]
    pub include_image: bool,
    /// The schedule that queued it, and the retention to apply after it succeeds.
    #[serde(default)]
    pub schedule: Option<ScheduledBy>,
}

/// A scheduled backup's origin: the schedule's name, and its retention policy with
/// the zone its periods are counted in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScheduledBy {
    pub name: String,
    #[serde(default)]
    pub retention: Option<berth_protocol::api::schedules::Retention>,
    #[serde(default)]
    pub zone: String,
}

/// A lifecycle action on containers and projects (a schedule's).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionSpec {
    #[serde(default)]
    pub host: Option<String>,
    pub action: berth_protocol::api::schedules::ScheduleAction,
    pub targets: Vec<BackupTarget>,
}

/// A compose action on a managed stack.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StackSpec {
    pub stack: String,
    pub action: berth_protocol::api::stacks::StackAction,
}

/// A copy job: backup `backup` to the storage instance `storage`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CopySpec {
    pub backup: String,
    pub storage: String,
}

/// A verification job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerifySpec {
    pub backup: String,
    /// Sealed with the installation key.
    #[serde(default)]
    pub passphrase: Option<String>,
}

/// A restore job, as queued: the request with its passphrase sealed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RestoreSpec {
    pub request: RestoreBackup,
    /// Whether an admin asked for it: only an admin's restore may replace existing
    /// volumes or grant what the backup's configuration asks of the host.
    #[serde(default)]
    pub admin: bool,
}

/// A catalog rebuild, as queued.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RescanSpec {
    /// `None`: the default storage when the job runs.
    #[serde(default)]
    pub storage: Option<String>,
    /// Sealed with the installation key; opens the encrypted objects it fits.
    #[serde(default)]
    pub passphrase: Option<String>,
}

/// A backup of Berth's own state (`crate::state`), as queued.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateSpec {
    /// `None`: the default storage when the job runs.
    #[serde(default)]
    pub storage: Option<String>,
    /// Sealed with the installation key; a state backup is always encrypted.
    pub passphrase: String,
    /// The schedule that queued it, and the retention to apply after it succeeds.
    #[serde(default)]
    pub schedule: Option<ScheduledBy>,
}

/// What a state backup wrote: the job's result, sent to whoever waits for it
/// (`state.backup`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateWritten {
    pub storage: String,
    pub key: String,
    pub size: u64,
    pub sha256: String,
    pub tables: usize,
}
