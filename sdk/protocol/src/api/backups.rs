//! Backups: what is backed up, the catalog, restores. A backup is one `.tar.gz`
//! (optionally encrypted) in a storage instance; its layout is in
//! `docs/backup-format.md`.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The newest archive layout version this Berth reads, and the one it writes:
/// [`FORMAT_STREAMED`].
pub const FORMAT_VERSION: u32 = 3;

/// The layout version of a backup holding host directories (a stack's folder, bind
/// mounts): entries with `host_path` set, which a Berth that knows only format 1
/// would take for volumes.
pub const FORMAT_HOST_PATHS: u32 = 2;

/// The layout version whose volumes are read once: each volume's tar is stored in
/// parts as it streams, and the figures only its end knows (sizes, checksums,
/// content digests, the seal) follow in a trailing `index.json`. Berth writes it for
/// every backup; formats 1 and 2 keep restoring.
pub const FORMAT_STREAMED: u32 = 3;

/// How a container is held still while its volumes are read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Consistency {
    /// Stopped for the read and started again (only if it was running): the default.
    #[default]
    Stop,
    /// Frozen (cgroup freezer) for the read: crash-consistent, no restart.
    Pause,
    /// Read while running; a volume that changes during the backup fails it.
    Hot,
}

/// What one backup holds.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BackupTarget {
    /// A container's configuration and its named volumes.
    Container { name: String },
    /// One volume.
    Volume { name: String },
    /// A network's definition (driver, IPAM, options, labels).
    Network { name: String },
    /// A compose project as one backup: every container of it (configuration), the
    /// named volumes they mount or the project labels as its own, and the project's
    /// networks — held and restored together in dependency order.
    Project { name: String },
}

impl BackupTarget {
    pub fn name(&self) -> &str {
        match self {
            Self::Container { name }
            | Self::Volume { name }
            | Self::Network { name }
            | Self::Project { name } => name,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Self::Container { .. } => "container",
            Self::Volume { .. } => "volume",
            Self::Network { .. } => "network",
            Self::Project { .. } => "project",
        }
    }
}

/// Who started a backup.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    #[default]
    Manual,
    Scheduled,
}

/// `backups.create`: one job per target, queued in order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CreateBackup {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    pub targets: Vec<BackupTarget>,
    /// Default: `stop`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consistency: Option<Consistency>,
    /// A storage instance; the default storage when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<String>,
    /// Encrypts the backup with a key derived from this passphrase (argon2id). It is
    /// kept sealed only until the job has run, and never returned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passphrase: Option<String>,
    /// Commands run inside a container before and after its backup; each field
    /// overrides the container's `berth.backup.*` label.
    #[serde(default, skip_serializing_if = "Hooks::is_empty")]
    pub hooks: Hooks,
    /// Container targets: carry the image too (`docker save`), for images that
    /// cannot be pulled again; a restore loads it when the host lacks it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub include_image: bool,
}

/// Pre/post backup hooks: shell commands run inside the (running) container with
/// `sh -c`, before it is stopped or paused and after it runs again. Labels on the
/// container set them too: `berth.backup.pre`, `berth.backup.post`,
/// `berth.backup.hook_timeout` (seconds), `berth.backup.hook_mode`
/// (`essential`|`optional`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Hooks {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pre: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post: Option<String>,
    /// Seconds each hook may take (default 60, at most 3,600).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_s: Option<u32>,
    /// Essential (default): a failing hook fails the backup. Optional: it is logged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub essential: Option<bool>,
}

impl Hooks {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// Who made a backup, as far as this Berth can tell: its manifest carries a MAC keyed
/// by the installation key of the Berth that wrote it. Anything else — an uploaded file
/// from elsewhere, a hand-made archive, a backup catalogued before Berth recorded
/// this — is foreign, and restoring it needs an admin's approval.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BackupOrigin {
    /// Written by this installation (its MAC verifies with this installation's key).
    ThisInstallation,
    /// Anything else.
    #[default]
    Foreign,
}

/// The MAC that proves which installation wrote a manifest: HMAC-SHA256 over the
/// manifest's JSON without this field, keyed by a key derived from the installation
/// key (`docs/backup-format.md`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ManifestSeal {
    /// Names the key (a hash of it), so another installation's backups can be told apart
    /// from damaged ones.
    pub key_id: String,
    pub hmac_sha256: String,
}

/// A setting in a backup's configuration that reaches past its own container onto the
/// host — privileged mode, host namespaces, bind mounts, devices, added capabilities,
/// unconfined security profiles, sysctls, another container's namespaces or volumes, a
/// network driver or option bound to host interfaces. Restoring one needs an admin who
/// approves its `key`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Privilege {
    /// What `backups.restore` must list in `approve`, e.g. `container:web:privileged`.
    pub key: String,
    /// `container web`, `network shop_default`, `volume data`.
    pub object: String,
    /// The setting (`Privileged`, `Binds`, `PidMode`, …) and its value, in words.
    pub setting: String,
    pub value: String,
}

/// Where a backup stands in the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BackupStatus {
    /// Being written or verified; not yet usable.
    Pending,
    /// Written, re-read and checked.
    Complete,
}

/// One backup in the catalog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BackupEntry {
    pub id: String,
    pub target: BackupTarget,
    pub host: String,
    pub trigger: Trigger,
    pub consistency: Consistency,
    /// The storage instance holding it, and its object key there.
    pub storage: String,
    pub key: String,
    /// Bytes as stored.
    pub size: u64,
    pub created_ms: u64,
    pub encrypted: bool,
    /// SHA-256 of the object as stored (hex).
    pub sha256: String,
    pub status: BackupStatus,
    /// The volumes inside, by their original names.
    pub volumes: Vec<String>,
    /// Bytes of volume data (tar streams) before compression.
    pub data_bytes: u64,
    /// Whether this installation wrote it (entries catalogued before Berth recorded
    /// this read as foreign).
    #[serde(default)]
    pub origin: BackupOrigin,
    /// Further verified copies on other storages (`backups.copy`), besides `storage`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub copies: Vec<StoredCopy>,
    /// The schedule that made it (its retention applies to it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    /// Never deleted by a retention policy (`backups.pin`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pinned: bool,
}

/// `backups.pin`: keep a backup whatever the retention policies say (or stop).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PinBackup {
    pub id: String,
    pub pinned: bool,
}

impl BackupEntry {
    /// Every storage instance holding the backup: its own, then its copies'.
    pub fn storages(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.storage.as_str()).chain(self.copies.iter().map(|c| c.storage.as_str()))
    }
}

/// A copy of a backup on another storage, byte for byte (same size and sha256),
/// read back and checked there before it was recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StoredCopy {
    pub storage: String,
    pub key: String,
    pub copied_ms: u64,
}

/// `backups.copy`: sends a backup to another storage as a job (local → S3 after the
/// fact, a second bucket); it counts once read back intact there.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CopyBackup {
    pub id: String,
    /// The storage instance to copy to.
    pub storage: String,
}

/// `backups.list`: newest first, filtered.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BackupQuery {
    /// Only backups of targets with this name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<Trigger>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BackupList {
    pub backups: Vec<BackupEntry>,
}

/// `backups.upload_ticket`: where an uploaded backup goes, and the passphrase that
/// checks an encrypted one (it is stored as uploaded, still encrypted).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct UploadBackup {
    /// A storage instance (the default one when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passphrase: Option<String>,
}

/// `backups.bundle_ticket`: several backups downloaded as one tar.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BundleBackups {
    /// 1 to 100 complete backups, each once.
    pub ids: Vec<String>,
}

/// `backups.rescan`: the storage to read, and the passphrase for its encrypted objects
/// (those it does not open are reported, not added).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RescanStorage {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passphrase: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BackupRef {
    pub id: String,
}

/// `backups.verify`: re-reads a backup as a job.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct VerifyBackup {
    pub id: String,
    /// Needed for an encrypted backup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passphrase: Option<String>,
}

/// What happens to a volume that already exists under the name a restore wants.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExistingVolume {
    /// The restore is refused with `conflict` naming the volume (default).
    #[default]
    Refuse,
    /// The volume's contents are replaced; refused while a container uses it, and only
    /// for admins (replacing data is deleting it). The old contents are kept aside until
    /// the restored ones are verified, and put back if the restore fails.
    Overwrite,
}

/// `backups.restore`: a backup back onto this host, with overrides.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RestoreBackup {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passphrase: Option<String>,
    /// The container's (or network's) name; the original name when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Volume names: original → name to restore into. Unnamed volumes keep their
    /// name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub volumes: BTreeMap<String, String>,
    #[serde(default)]
    pub existing: ExistingVolume,
    /// Host ports: `"<container port>/<proto>"` (e.g. `80/tcp`) → the host port to
    /// publish it on instead (0: a free port Docker picks).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub ports: BTreeMap<String, u16>,
    /// Start the restored container; by default it starts if it was running when
    /// backed up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<bool>,
    /// An existing network the restored container(s) join instead of the networks
    /// they were on (keeping their aliases); by default they rejoin theirs, and a
    /// project's own networks are recreated where missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    /// What an admin approves: every key of `RestorePreview::needs_approval` (the
    /// privileges the configuration asks for, and `origin:foreign` for a backup this
    /// installation did not write). Only admins may restore such a backup.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approve: Vec<String>,
}

/// One volume inside a backup (`volumes/<name>.tar.part-…`; formats 1 and 2:
/// `volumes/<name>.tar`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ManifestVolume {
    pub name: String,
    /// Where the container mounted it (container backups).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
    /// Bytes of the volume's tar (its parts joined).
    pub tar_bytes: u64,
    /// SHA-256 of the volume's tar (hex).
    pub sha256: String,
    /// A digest of the volume's contents independent of the tar's order: every entry's
    /// path, type, mode, owner, size, link target and data (see
    /// `docs/backup-format.md`). A restore re-reads the volume and compares it.
    pub content_digest: String,
    /// Files, directories and links.
    pub entries: u64,
    /// The volume's driver and labels, to recreate it alike.
    pub driver: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Set when the entry is a host directory rather than a volume (format 2): its
    /// path on the Docker host when backed up. Such entries are named `@stack` (the
    /// stack's folder) or `@bind-<n>` (a bind mount's source), names no volume can
    /// have.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_path: Option<String>,
}

impl ManifestVolume {
    /// The entry holding a stack's folder (its compose files and what it
    /// bind-mounts relatively).
    pub const STACK_FOLDER: &'static str = "@stack";

    pub fn is_host_path(&self) -> bool {
        self.host_path.is_some()
    }

    /// The names of the Docker volumes among `entries` (what a catalog entry lists).
    pub fn volume_names(entries: &[Self]) -> Vec<String> {
        entries
            .iter()
            .filter(|v| !v.is_host_path())
            .map(|v| v.name.clone())
            .collect()
    }
}

/// `manifest.json`, the first entry of every backup; in format 3, complete once the
/// figures and seal of the trailing `index.json` are filled in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Manifest {
    pub format: u32,
    pub berth_version: String,
    pub id: String,
    /// The Docker host's name.
    pub host: String,
    pub created_ms: u64,
    pub trigger: Trigger,
    pub consistency: Consistency,
    pub target: BackupTarget,
    /// Docker's inspect document of the container, whole (container backups).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<serde_json::Value>,
    /// Docker's inspect document of the network (network backups).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<serde_json::Value>,
    /// Whether the container was running when backed up.
    #[serde(default)]
    pub was_running: bool,
    /// The image's id (digest) at backup time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_id: Option<String>,
    pub volumes: Vec<ManifestVolume>,
    /// The image, when the backup carries it (`image.tar.part-…`, right after the
    /// manifest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<ManifestImage>,
    /// Bind mounts not backed up, each with the reason (outside the stack's folder
    /// and every `backup_bind_roots` directory, a file rather than a directory…),
    /// listed so a restore can say what it does not bring back.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub binds_not_included: Vec<String>,
    /// Project backups: every container of the project, in the order they start.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<ManifestMember>,
    /// Project backups: Docker's inspect documents of the project's own networks
    /// (those labelled with the project), recreated by a restore where missing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub networks: Vec<serde_json::Value>,
    /// Which installation wrote it (absent: written before Berth sealed manifests, or
    /// not by Berth).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seal: Option<ManifestSeal>,
}

/// One container of a project backup.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ManifestMember {
    /// Its name when backed up.
    pub name: String,
    /// The compose service it runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// Docker's inspect document of the container, whole.
    pub container: serde_json::Value,
    pub was_running: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_id: Option<String>,
}

/// The image a backup carries: a `docker save` of it, loadable with `docker load`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ManifestImage {
    /// The reference the container was created from (`nginx:1.27`).
    pub reference: String,
    /// The image's id.
    pub id: String,
    /// Bytes of the saved tar, and their SHA-256 (hex).
    pub tar_bytes: u64,
    pub sha256: String,
    /// Project backups: the other images in the same saved tar.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub others: Vec<ImageName>,
}

/// An image by the reference a container was created from and its id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ImageName {
    pub reference: String,
    pub id: String,
}

/// What stands in a restore's way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConflictKind {
    /// A container with the restore's name exists.
    NameInUse,
    /// A volume with a target name exists (and `existing` is `refuse`).
    VolumeExists,
    /// A volume to overwrite is used by a container.
    VolumeInUse,
    /// A host port the container would publish is taken by a running container.
    PortTaken,
    /// The image is not on this host (and the backup does not carry it).
    ImageMissing,
    /// A network the container was on does not exist here (not blocking: the
    /// container joins the default network).
    NetworkMissing,
    /// The network chosen for the restore does not exist.
    NetworkNotFound,
    /// A host directory the restore would write (a stack's folder, a bind mount's
    /// source) is not empty, or lies outside every `backup_bind_roots` directory.
    HostPath,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Conflict {
    pub kind: ConflictKind,
    /// The name in the way (container, volume, port, image, network).
    pub name: String,
    pub message: String,
}

/// `backups.preview`: what a restore with these overrides would do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RestorePreview {
    pub backup: BackupEntry,
    pub manifest: Manifest,
    /// Empty: the restore can run. `network_missing` alone does not stop it.
    pub conflicts: Vec<Conflict>,
    /// Settings of the configuration that reach onto the host.
    #[serde(default)]
    pub privileges: Vec<Privilege>,
    /// The keys `backups.restore` must approve (by an admin): the privileges' keys, and
    /// `origin:foreign` when this installation did not write the backup. Empty: an
    /// operator may restore it as it is.
    #[serde(default)]
    pub needs_approval: Vec<String>,
    /// Volumes that exist and would be replaced (`existing: overwrite`): replacing data
    /// needs an admin, like deleting it.
    #[serde(default)]
    pub overwrites: Vec<String>,
}

/// `backups.bulk_delete`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BulkDeleteBackups {
    pub ids: Vec<String>,
}
