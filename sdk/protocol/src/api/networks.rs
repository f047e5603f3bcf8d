//! Networks: list with container counts, create, inspect, remove.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct NetworkRef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Id or name.
    pub id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct NetworkList {
    pub networks: Vec<NetworkSummary>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct NetworkSummary {
    pub id: String,
    pub name: String,
    pub driver: String,
    pub scope: String,
    pub internal: bool,
    /// `bridge`, `host`, `none`: Docker's own, never removed.
    pub builtin: bool,
    pub subnets: Vec<String>,
    pub containers_running: u32,
    pub containers_stopped: u32,
    /// Names of the attached containers.
    pub containers: Vec<String>,
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack: Option<String>,
}

/// `networks.create`. The name must be new (Docker 20.10 would make a second network
/// of the same name); labels under Berth's own `dev.berth.` prefix are refused.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CreateNetwork {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    pub name: String,
    /// Absent: `bridge`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    /// CIDR such as `172.30.0.0/24`; absent: Docker picks a free one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet: Option<String>,
    /// An address inside `subnet` (needs it); absent: the subnet's first address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<String>,
    /// No route to the outside: containers reach only each other.
    #[serde(default)]
    pub internal: bool,
    /// Standalone containers may join (overlay networks).
    #[serde(default)]
    pub attachable: bool,
    /// The driver's options (bridge: `com.docker.network.bridge.name`, MTU, …).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub options: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// `network.connect`: attaches a container (running or not) to a network, under
/// extra DNS `aliases` on it if given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ConnectContainer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// The network's id or name.
    pub network: String,
    /// The container's id or name.
    pub container: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
}

/// `network.disconnect`: detaches a container from a network.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DisconnectContainer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    pub network: String,
    pub container: String,
}
