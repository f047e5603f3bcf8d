//! `stacks.*`: compose stacks kept as folders in the stacks directory (one folder per
//! stack: a compose file, an optional `.env`, and what the stack bind-mounts
//! relatively), beside compose projects found on the host by their labels.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A stack by name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StackRef {
    pub name: String,
}

/// A stack's files, as saved or validated.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StackFiles {
    /// The stack (its folder's name): 1–63 of `a-z`, `0-9`, `-`, `_`, starting with a
    /// letter or digit — a compose project name.
    pub name: String,
    /// The compose file's text.
    pub compose: String,
    /// The `.env` file's text; absent or empty: no `.env`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
    /// Save even though it does not validate (a draft); the problems are answered.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub draft: bool,
}

/// Where a problem was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProblemSource {
    /// Not YAML.
    Yaml,
    /// YAML, but not the shape of a compose file.
    Schema,
    /// The compose CLI's own `config` check.
    Compose,
}

/// One reason a compose file does not validate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Problem {
    pub source: ProblemSource,
    /// 1-based, where known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
    pub message: String,
}

/// A validation's outcome: valid when there are no problems.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Validation {
    pub valid: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<Problem>,
    /// Warnings the compose CLI printed for a valid file (an unset variable, say).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// A stack's files and where they live.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StackDetail {
    pub name: String,
    /// The stack's folder (absolute).
    pub dir: String,
    /// The compose file's name within it (`compose.yaml`, `docker-compose.yml`, …).
    pub compose_file: String,
    pub compose: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
    /// The `.env` values were replaced by `<redacted>` (viewers see names only).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub env_redacted: bool,
    /// The last save did not validate.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub draft: bool,
    /// What the last validation found (a draft's problems, the CLI's warnings).
    pub validation: Validation,
    /// Earlier versions kept (`stacks.history`).
    pub versions: u32,
}

/// A service's state as Docker tells it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ServiceState {
    Running,
    /// Some of its containers run.
    Partial,
    Stopped,
    /// In the compose file, no container yet.
    NotCreated,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ServiceStatus {
    pub name: String,
    pub state: ServiceState,
    pub containers: u32,
    pub running: u32,
}

/// A stack in the list: a managed one (a folder in the stacks directory) or an
/// external compose project found by its containers' labels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StackSummary {
    pub name: String,
    pub managed: bool,
    /// Running when every service runs, stopped when none does, partial between;
    /// not created when no container exists.
    pub state: ServiceState,
    pub services: Vec<ServiceStatus>,
    /// Where compose ran an external project (its label), or the managed folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dir: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub draft: bool,
    /// Why the compose file could not be read, for a folder that holds a broken one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The compose CLI Berth runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ComposeCli {
    /// `docker compose` (v2) or `docker-compose` (v1).
    pub command: String,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StackList {
    /// The stacks directory (absolute).
    pub stacks_dir: String,
    /// Absent: neither `docker compose` nor `docker-compose` runs here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compose: Option<ComposeCli>,
    pub stacks: Vec<StackSummary>,
}

/// Deleting a stack's folder.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StackDelete {
    pub name: String,
    /// `compose down` first (its containers and networks go).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub down: bool,
    /// With `down`: keep the named volumes (default: they go with `down -v`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub keep_volumes: bool,
}

/// An earlier version of a stack's files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StackVersion {
    /// Its id within the stack (the time it was replaced, ms, as text).
    pub id: String,
    /// When the save that replaced it happened (ms).
    pub replaced_ms: u64,
    /// Who saved over it.
    pub by: String,
    pub compose: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StackHistory {
    /// Newest first (at most the last 20 of each stack are kept).
    pub versions: Vec<StackVersion>,
}

/// One version of one stack.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct VersionRef {
    pub name: String,
    pub id: String,
}

/// What `stack.output` runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StackAction {
    /// `up -d --remove-orphans`: create and start what the file says.
    #[default]
    Up,
    /// `down`: stop and remove the containers and networks (volumes stay).
    Down,
    Restart,
    /// Pull the images (then `up` updates the services).
    Pull,
    Stop,
    Start,
}

impl StackAction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Up => "up",
            Self::Down => "down",
            Self::Restart => "restart",
            Self::Pull => "pull",
            Self::Stop => "stop",
            Self::Start => "start",
        }
    }
}

/// Opens `stack.output`: runs the action on a managed stack and streams the compose
/// CLI's output (binary frames: stream 1 stdout, 2 stderr); `close` carries
/// `{exit_code}`. Closing the channel stops the CLI.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StackOutputParams {
    pub stack: String,
    pub action: StackAction,
}

/// `compose.from_docker_run`: a `docker run …` command line (split as a shell would;
/// `sudo` and backslash-continued lines allowed).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ConvertRun {
    pub command: String,
}

/// The command as one compose service.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ConvertedRun {
    /// The service's name (the container's `--name`, else the image's).
    pub service: String,
    /// A whole `compose.yaml`: the service, and the volumes and networks it names.
    pub compose: String,
    /// Flags compose has no key for, each with what to do instead.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unsupported: Vec<String>,
    /// Mapped, with a difference worth knowing (a relative `--env-file`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// The same command for the "New container" form (`container.create`).
    #[serde(default)]
    pub form: RunForm,
}

/// The fields of a `docker run` line a plain container takes, written as `docker run`
/// takes them (`8080:80`, `data:/data:ro`, `KEY=value`), and the flags it has no
/// field for (a stack keeps those).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RunForm {
    pub image: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mounts: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    /// `no` is absent; `always`, `unless-stopped` or `on-failure`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart: Option<String>,
    /// Absent: Docker's default bridge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    /// `--flag value` for each flag left out, with why when the form has the field
    /// but not that value.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub left_out: Vec<String>,
}
