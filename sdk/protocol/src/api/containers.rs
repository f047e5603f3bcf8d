//! Containers: the grouped list, inspect, lifecycle actions and bulk actions.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::ErrorBody;

/// Names one container: `id` is an id, an id prefix or a name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ContainerRef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    pub id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ContainerList {
    /// Compose projects first (by name), then the standalone containers (`stack`
    /// absent).
    pub groups: Vec<ContainerGroup>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ContainerGroup {
    /// The compose project (`com.docker.compose.project`); absent for standalone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack: Option<String>,
    pub status: StackStatus,
    pub containers: Vec<ContainerSummary>,
}

/// Whether a group's containers run: all, none, or some.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StackStatus {
    Running,
    Stopped,
    Partial,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ContainerSummary {
    pub id: String,
    pub name: String,
    pub image: String,
    /// created, running, paused, restarting, removing, exited, dead.
    pub state: String,
    /// Docker's status text ("Up 3 minutes (healthy)").
    pub status: String,
    /// healthy, unhealthy, starting; absent without a health check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<String>,
    pub ports: Vec<PortMapping>,
    pub ips: Vec<String>,
    /// RFC 3339.
    pub created: String,
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// Berth's own container: stop and remove are refused.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub protected: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PortMapping {
    pub private: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// tcp, udp, sctp.
    pub proto: String,
}

/// `container.inspect`: Docker's inspect document. For viewers every environment
/// value is replaced by `"<redacted>"` and `redacted` is true.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ContainerInspect {
    pub inspect: serde_json::Value,
    pub redacted: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StopContainer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    pub id: String,
    /// Seconds to wait after SIGTERM before SIGKILL (Docker's default when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_s: Option<u32>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct KillContainer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    pub id: String,
    /// `SIGKILL` when absent; a name (`SIGHUP`, `HUP`) or a number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RemoveContainer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    pub id: String,
    /// Remove even when running (killed first).
    #[serde(default)]
    pub force: bool,
    /// Also remove the container's anonymous volumes.
    #[serde(default)]
    pub volumes: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RenameContainer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    pub id: String,
    /// The new name: `[a-zA-Z0-9][a-zA-Z0-9_.-]*`.
    pub name: String,
}

/// `container.create`: a standalone container from an image already on the host
/// (pull it first with `image.pull`), started unless `start` is false. A failed start
/// removes what was created, so nothing half-made is left behind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CreateContainer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    pub image: String,
    /// `[a-zA-Z0-9][a-zA-Z0-9_.-]*`; absent: Docker picks one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Replaces the image's command (its `CMD`); empty: the image's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// `private` the container's port; `public` the host's (absent: Docker picks one);
    /// `ip` the host address to bind (absent: every address).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<PortMapping>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mounts: Vec<NewMount>,
    /// `no` (absent), `always`, `unless-stopped`, `on-failure`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart: Option<String>,
    /// The network to join instead of the default bridge; `host` needs admin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    /// None under Berth's own `dev.berth.` prefix.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default = "yes")]
    pub start: bool,
}

fn yes() -> bool {
    true
}

/// `container.edit`: container `id` recreated under its name with these settings (the
/// same fields as `container.create`; `name` absent or unchanged). What the fields do
/// not cover — health check, limits, user, capabilities — and its volumes, anonymous
/// ones included, are kept; a failure puts the old container back as it was. A
/// compose project's containers are refused (edit the compose file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct EditContainer {
    pub id: String,
    #[serde(flatten)]
    pub settings: CreateContainer,
}

/// One mount of a new container: `source` a volume's name (created by Docker when
/// new) or, for admins only, an absolute path on the host.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct NewMount {
    pub source: String,
    /// An absolute path inside the container.
    pub target: String,
    #[serde(default)]
    pub read_only: bool,
}

/// `container.create`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CreatedContainer {
    pub id: String,
    pub name: String,
    /// `running`, or `created` when not started.
    pub state: String,
    /// What Docker warned about (a memory limit the kernel cannot enforce, …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// What a lifecycle action left behind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ContainerState {
    /// The container's id (after `redeploy`, the new container's).
    pub id: String,
    /// Its state afterwards; `removed` after `container.remove`.
    pub state: String,
}

/// `container.redeploy`'s answer: the new container and where its image came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Redeployed {
    pub id: String,
    pub state: String,
    /// Whether the image was pulled (false: the local image was reused).
    pub pulled: bool,
    /// Why a pull was not done or failed, when it was tried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BulkVerb {
    Start,
    Stop,
    Restart,
    Kill,
    Pause,
    Unpause,
    /// Needs the admin role, like `container.remove`.
    Remove,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BulkAction {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    pub action: BulkVerb,
    /// 1 to 500 containers.
    pub ids: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_s: Option<u32>,
    /// For `remove`: remove running containers too.
    #[serde(default)]
    pub force: bool,
}

/// One result per id, in the order given; the call itself succeeds even when some
/// actions fail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct BulkResult {
    pub results: Vec<BulkItem>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct BulkItem {
    pub id: String,
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorBody>,
}
