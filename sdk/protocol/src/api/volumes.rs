//! Volumes: list, inspect, remove, and reading their contents.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Whether `name` is one Docker gave an anonymous volume (64 hex digits): the image's
/// `VOLUME`, made afresh for each container, never named by a user.
pub fn is_anonymous_name(name: &str) -> bool {
    name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit())
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct VolumeRef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct VolumeList {
    pub volumes: Vec<VolumeSummary>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct VolumeSummary {
    pub name: String,
    pub driver: String,
    pub mountpoint: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    pub labels: BTreeMap<String, String>,
    /// Names of the containers (running or not) that mount it.
    pub used_by: Vec<String>,
    /// Bytes, from the host's last measurement (`system.df`); absent before one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<i64>,
    /// Berth's own helpers and anonymous volumes are marked so the UI can say so.
    pub anonymous: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct VolumeInspect {
    pub inspect: serde_json::Value,
    pub used_by: Vec<String>,
}

/// `volumes.create`: a named volume. The name must be new (Docker would hand back an
/// existing volume of that name, options ignored); labels under Berth's own
/// `dev.berth.` prefix are refused.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CreateVolume {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    pub name: String,
    /// Absent: `local`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    /// The driver's options (`local`: `type`, `device`, `o` — an NFS share, a tmpfs).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub options: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RemoveVolume {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    pub name: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BulkRemoveVolumes {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    pub names: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BrowseVolume {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    pub name: String,
    /// A directory inside the volume; `/` is its root. `..` may not leave the volume.
    #[serde(default = "root")]
    pub path: String,
}

fn root() -> String {
    "/".to_owned()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Listing {
    /// The normalised path that was listed.
    pub path: String,
    pub entries: Vec<Entry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Entry {
    pub name: String,
    /// file, dir, symlink, other.
    pub kind: String,
    pub size: u64,
    /// Unix permission bits, e.g. 0o644 = 420.
    pub mode: u32,
    /// RFC 3339.
    pub mtime: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_target: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ReadFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    pub name: String,
    pub path: String,
    #[serde(default)]
    pub offset: u64,
    /// At most 1 MiB (the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FileChunk {
    pub path: String,
    /// The file's whole size.
    pub size: u64,
    pub offset: u64,
    /// `text` (valid UTF-8) or `base64`.
    pub encoding: String,
    pub data: String,
    /// Whether bytes follow this chunk.
    pub more: bool,
}

/// `volume.download_ticket`: a file (its bytes) or a directory (a tar of it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DownloadVolumePath {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    pub name: String,
    #[serde(default = "root")]
    pub path: String,
}
