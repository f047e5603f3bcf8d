//! `hosts.list`: the Docker endpoints Berth manages and their health. v1 ships one
//! host, `local`; every Docker method and channel already takes `host`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The host every Docker method uses when `host` is omitted.
pub const LOCAL: &str = "local";

/// Params of methods that only name a host.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct HostOnly {
    /// Docker host name; `local` when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct HostList {
    pub hosts: Vec<HostStatus>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct HostStatus {
    pub name: String,
    /// `unix:///var/run/docker.sock`, `tcp://…`.
    pub endpoint: String,
    pub healthy: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine_version: Option<String>,
    /// The API version negotiated with the engine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// Why the host is unhealthy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}
