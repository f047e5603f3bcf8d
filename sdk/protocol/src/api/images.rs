//! Images: list, pull, tag, remove, prune.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ImageList {
    pub images: Vec<ImageSummary>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ImageSummary {
    pub id: String,
    /// `repo:tag`; empty for a dangling image.
    pub tags: Vec<String>,
    pub size: i64,
    /// RFC 3339.
    pub created: String,
    pub dangling: bool,
    /// Names of the containers (running or not) created from it.
    pub used_by: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RemoveImage {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Id, `repo:tag`.
    pub id: String,
    /// Remove even if tagged several times or used by stopped containers.
    #[serde(default)]
    pub force: bool,
}

/// `images.tag`: one more name for an image (`repo:tag`), e.g. before pushing it or to
/// keep the current `:latest` as `:previous` before a pull.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TagImage {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Id or `repo:tag` of the image to name.
    pub id: String,
    /// `[registry[:port]/]name`, lower case.
    pub repo: String,
    /// Absent: `latest`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Tagged {
    /// The new name, `repo:tag`.
    pub reference: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RemovedImages {
    pub untagged: Vec<String>,
    pub deleted: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Pruned {
    /// What was removed — or, for a dry run, what would be (tags, or ids of untagged
    /// images).
    pub deleted: Vec<String>,
    /// Bytes freed; for a dry run, the most it would free (layers shared with images
    /// that stay are not freed).
    pub space_reclaimed: i64,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
}

/// `images.prune`: dangling images (untagged, unused) — or with `unused` every image no
/// container uses, tagged or not. `dry_run` removes nothing and says what would go.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PruneImages {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unused: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
}

/// `image.pull` params: the image to fetch from its registry. Without a tag or a
/// digest, `latest` (never every tag of the repository).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PullImage {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// `[registry/]repo[:tag][@digest]`.
    pub image: String,
}

/// One `image.pull` message: a layer's progress (`layer` its short id), or the pull's
/// own status line (`layer` empty: "Pulling from …", "Digest: …", "Status: …"). Latest
/// value wins per layer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PullProgress {
    pub layer: String,
    /// Docker's words: `Waiting`, `Downloading`, `Extracting`, `Pull complete`,
    /// `Already exists`, …
    pub status: String,
    /// Bytes done and in all, while downloading or extracting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
}

/// `close` payload of an `image.pull` that succeeded.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Pulled {
    /// The reference pulled, with the tag it defaulted to.
    pub image: String,
    /// The image's id now on the host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}
