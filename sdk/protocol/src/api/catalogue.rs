//! The method and channel catalogue: the one place that says, for every method and
//! channel kind, its name, its parameter and result types, the least role allowed to
//! use it and whether it is audited.
//!
//! The host serves exactly these (its registry refuses to start with a method missing
//! a handler), the role-matrix test walks them, the client SDK calls them by type
//! (`client.call::<Whoami>(Empty {})`), and `docs/protocol.md`'s role table is
//! generated from them.

use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{
    Empty, audit, auth, backups, containers, events, hosts, images, jobs, networks, plugins,
    schedules, settings, stacks, streams, system, tokens, transfers, users, volumes,
};
use crate::role::Role;

/// A method: `{"t":"req","method":NAME,"p":Params}` → `{"t":"res","p":Result}`.
pub trait Method: 'static {
    const NAME: &'static str;
    /// The least role that may call it.
    const ROLE: Role;
    /// Whether each call is written to the audit log (every mutating method is).
    const AUDITED: bool;
    type Params: Serialize + DeserializeOwned + JsonSchema + Send + 'static;
    type Result: Serialize + DeserializeOwned + JsonSchema + Send + 'static;
}

/// What the server does when a channel's credit runs out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Overflow {
    /// Stop reading the source until credit returns.
    Backpressure,
    /// Buffer a bounded number of items, then close with `overflow` and a cursor.
    Bounded,
    /// Keep only the newest item.
    LatestValue,
}

/// A channel kind: `{"t":"open","kind":NAME,"p":Params}` → `data` messages of `Data`.
pub trait ChannelKind: 'static {
    const NAME: &'static str;
    const ROLE: Role;
    const OVERFLOW: Overflow;
    /// Binary channels count their window in bytes, JSON ones in messages.
    const BINARY: bool;
    /// Whether the client may send into it (stream-0 frames, `resize`, `eof`).
    const INPUT: bool;
    type Params: Serialize + DeserializeOwned + JsonSchema + Send + 'static;
    type Data: Serialize + DeserializeOwned + JsonSchema + Send + 'static;
}

/// A catalogue row, for tables, docs and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MethodInfo {
    pub name: &'static str,
    pub role: Role,
    pub audited: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ChannelInfo {
    pub name: &'static str,
    pub role: Role,
    pub overflow: Overflow,
    pub binary: bool,
    pub input: bool,
}

macro_rules! methods {
    ($( $(#[$doc:meta])* $ty:ident = $name:literal ($p:ty) -> $r:ty, $role:ident, audited = $a:literal; )*) => {
        $(
            $(#[$doc])*
            #[derive(Debug, Clone, Copy)]
            pub struct $ty;
            impl Method for $ty {
                const NAME: &'static str = $name;
                const ROLE: Role = Role::$role;
                const AUDITED: bool = $a;
                type Params = $p;
                type Result = $r;
            }
        )*
        /// Every method, in catalogue order.
        pub const METHODS: &[MethodInfo] = &[$(MethodInfo { name: $name, role: Role::$role, audited: $a }),*];

        /// `(name, params schema, result schema)` of every method.
        pub fn method_schemas() -> Vec<(&'static str, serde_json::Value, serde_json::Value)> {
            vec![$(($name, schema_value::<$p>(), schema_value::<$r>())),*]
        }
    };
}

macro_rules! channels {
    ($( $(#[$doc:meta])* $ty:ident = $name:literal ($p:ty) -> $d:ty, $role:ident, $overflow:ident, binary = $b:literal $(, input = $i:literal)?; )*) => {
        $(
            $(#[$doc])*
            #[derive(Debug, Clone, Copy)]
            pub struct $ty;
            impl ChannelKind for $ty {
                const NAME: &'static str = $name;
                const ROLE: Role = Role::$role;
                const OVERFLOW: Overflow = Overflow::$overflow;
                const BINARY: bool = $b;
                const INPUT: bool = false $(|| $i)?;
                type Params = $p;
                type Data = $d;
            }
        )*
        /// Every channel kind, in catalogue order.
        pub const CHANNELS: &[ChannelInfo] = &[$(ChannelInfo { name: $name, role: Role::$role, overflow: Overflow::$overflow, binary: $b, input: false $(|| $i)? }),*];

        /// `(name, params schema, data schema)` of every channel kind.
        pub fn channel_schemas() -> Vec<(&'static str, serde_json::Value, serde_json::Value)> {
            vec![$(($name, schema_value::<$p>(), schema_value::<$d>())),*]
        }
    };
}

fn schema_value<T: JsonSchema>() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(T)).expect("schema serialises")
}

methods! {
    /// The caller: user, effective role, credential.
    AuthWhoami = "auth.whoami" (Empty) -> auth::Whoami, Viewer, audited = false;
    /// Changes the caller's own password; other sessions of the user end.
    AuthChangePassword = "auth.change_password" (auth::ChangePassword) -> Empty, Viewer, audited = true;
    /// The caller's login sessions (admins: anyone's, with `user`).
    AuthSessionsList = "auth.sessions.list" (auth::ListSessions) -> auth::SessionList, Viewer, audited = false;
    /// Ends one of the caller's sessions (admins: anyone's).
    AuthSessionsRevoke = "auth.sessions.revoke" (auth::RevokeSession) -> auth::Revoked, Viewer, audited = true;
    /// Starts TOTP enrolment (needs the password): a new secret, active after
    /// `auth.totp.confirm`.
    AuthTotpEnroll = "auth.totp.enroll" (auth::ConfirmPassword) -> auth::TotpEnrollment, Viewer, audited = true;
    /// Activates the enrolled secret with a current code; returns recovery codes.
    AuthTotpConfirm = "auth.totp.confirm" (auth::TotpCode) -> auth::RecoveryCodes, Viewer, audited = true;
    /// Removes the caller's second factor (needs the password).
    AuthTotpDisable = "auth.totp.disable" (auth::ConfirmPassword) -> Empty, Viewer, audited = true;
    /// Creates an API token with a role at most the caller's; the secret is shown once.
    TokensCreate = "tokens.create" (tokens::CreateToken) -> tokens::CreatedToken, Viewer, audited = true;
    /// The caller's tokens (admins: everyone's, with `all`).
    TokensList = "tokens.list" (tokens::ListTokens) -> tokens::TokenList, Viewer, audited = false;
    /// Revokes one of the caller's tokens (admins: anyone's).
    TokensRevoke = "tokens.revoke" (tokens::RevokeToken) -> auth::Revoked, Viewer, audited = true;
    UsersList = "users.list" (Empty) -> users::UserList, Admin, audited = false;
    UsersCreate = "users.create" (users::CreateUser) -> users::UserSummary, Admin, audited = true;
    /// Role change, password reset, session revocation, TOTP reset.
    UsersUpdate = "users.update" (users::UpdateUser) -> users::UserSummary, Admin, audited = true;
    /// Deletes a user with their sessions and tokens (not the last admin).
    UsersDelete = "users.delete" (users::UserName) -> Empty, Admin, audited = true;
    AuditList = "audit.list" (audit::AuditQuery) -> audit::AuditPage, Admin, audited = false;
    AuditExport = "audit.export" (audit::AuditExport) -> audit::AuditExportPage, Admin, audited = false;
    /// Versions, uptime, data directory usage, Docker reachability.
    SystemInfo = "system.info" (Empty) -> system::SystemInfo, Viewer, audited = false;
    /// Berth's own state (store snapshot, installation key, installed plugins, stacks)
    /// to a storage instance, sealed with a passphrase; read back and checked.
    StateBackup = "state.backup" (system::StateBackupParams) -> system::StateBackupResult, Admin, audited = true;
    /// Disk use of images, containers, volumes and build cache.
    SystemDf = "system.df" (system::DfParams) -> system::SystemDf, Viewer, audited = false;
    /// The Docker hosts and their health.
    HostsList = "hosts.list" (Empty) -> hosts::HostList, Viewer, audited = false;
    /// Every container, grouped by compose project.
    ContainersList = "containers.list" (hosts::HostOnly) -> containers::ContainerList, Viewer, audited = false;
    /// Docker's inspect document; environment values redacted for viewers.
    ContainerInspect = "container.inspect" (containers::ContainerRef) -> containers::ContainerInspect, Viewer, audited = false;
    /// A standalone container from a local image: command, environment, ports,
    /// mounts, restart policy, network, labels (host paths and the host network: admin).
    ContainerCreate = "container.create" (containers::CreateContainer) -> containers::CreatedContainer, Operator, audited = true;
    ContainerEdit = "container.edit" (containers::EditContainer) -> containers::CreatedContainer, Operator, audited = true;
    ContainerStart = "container.start" (containers::ContainerRef) -> containers::ContainerState, Operator, audited = true;
    ContainerStop = "container.stop" (containers::StopContainer) -> containers::ContainerState, Operator, audited = true;
    ContainerKill = "container.kill" (containers::KillContainer) -> containers::ContainerState, Operator, audited = true;
    ContainerRestart = "container.restart" (containers::StopContainer) -> containers::ContainerState, Operator, audited = true;
    ContainerPause = "container.pause" (containers::ContainerRef) -> containers::ContainerState, Operator, audited = true;
    ContainerUnpause = "container.unpause" (containers::ContainerRef) -> containers::ContainerState, Operator, audited = true;
    ContainerRemove = "container.remove" (containers::RemoveContainer) -> containers::ContainerState, Admin, audited = true;
    ContainerRename = "container.rename" (containers::RenameContainer) -> containers::ContainerState, Operator, audited = true;
    /// Recreates the container with the same configuration (pulling its image when a
    /// registry answers, else reusing the local one) and starts it if it ran.
    ContainerRedeploy = "container.redeploy" (containers::ContainerRef) -> containers::Redeployed, Operator, audited = true;
    /// One action on many containers; one result per id (`remove` needs admin).
    ContainersBulk = "containers.bulk" (containers::BulkAction) -> containers::BulkResult, Operator, audited = true;
    ImagesList = "images.list" (hosts::HostOnly) -> images::ImageList, Viewer, audited = false;
    /// Names an image `repo:tag`; a name already on another image moves to this one.
    /// Admin: what a name points at is what the next redeploy or `compose up` runs.
    ImagesTag = "images.tag" (images::TagImage) -> images::Tagged, Admin, audited = true;
    ImagesRemove = "images.remove" (images::RemoveImage) -> images::RemovedImages, Admin, audited = true;
    /// Removes dangling images.
    ImagesPrune = "images.prune" (images::PruneImages) -> images::Pruned, Admin, audited = true;
    VolumesList = "volumes.list" (hosts::HostOnly) -> volumes::VolumeList, Viewer, audited = false;
    VolumesInspect = "volumes.inspect" (volumes::VolumeRef) -> volumes::VolumeInspect, Viewer, audited = false;
    /// Creates a named volume; `conflict` if the name is taken. Admin: a driver's
    /// options can mount any host path or share.
    VolumesCreate = "volumes.create" (volumes::CreateVolume) -> volumes::VolumeSummary, Admin, audited = true;
    /// Refused with `conflict` while a container uses the volume.
    VolumesRemove = "volumes.remove" (volumes::RemoveVolume) -> Empty, Admin, audited = true;
    VolumesBulkRemove = "volumes.bulk_remove" (volumes::BulkRemoveVolumes) -> containers::BulkResult, Admin, audited = true;
    /// Lists a directory inside a volume (read through a never-started helper).
    VolumeBrowse = "volume.browse" (volumes::BrowseVolume) -> volumes::Listing, Operator, audited = false;
    /// Reads part of a file inside a volume.
    VolumeReadFile = "volume.read_file" (volumes::ReadFile) -> volumes::FileChunk, Operator, audited = true;
    /// A ticket to download a file (its bytes) or a directory (a tar) from a volume
    /// over HTTP: `GET /api/v1/transfers/{ticket}`.
    VolumeDownloadTicket = "volume.download_ticket" (volumes::DownloadVolumePath) -> transfers::Ticket, Operator, audited = true;
    NetworksList = "networks.list" (hosts::HostOnly) -> networks::NetworkList, Viewer, audited = false;
    /// Creates a network; `conflict` if the name is taken. Admin: drivers such as
    /// macvlan attach to the host's interfaces.
    NetworksCreate = "networks.create" (networks::CreateNetwork) -> networks::NetworkSummary, Admin, audited = true;
    NetworkInspect = "network.inspect" (networks::NetworkRef) -> serde_json::Value, Viewer, audited = false;
    /// Refused with `conflict` while containers are attached; built-ins never.
    NetworkRemove = "network.remove" (networks::NetworkRef) -> Empty, Admin, audited = true;
    /// Attaches a container to a network (with optional aliases); Berth's own
    /// container is refused.
    NetworkConnect = "network.connect" (networks::ConnectContainer) -> Empty, Operator, audited = true;
    /// Detaches a container from a network; Berth's own container is refused.
    NetworkDisconnect = "network.disconnect" (networks::DisconnectContainer) -> Empty, Operator, audited = true;
    /// Queues a backup of the network's definition (as `backups.create` with a
    /// network target).
    NetworkBackup = "network.backup" (networks::NetworkRef) -> jobs::JobsQueued, Operator, audited = true;
    /// Queues the restore of a network backup (as `backups.restore`; `name` renames it).
    NetworkRestore = "network.restore" (backups::RestoreBackup) -> jobs::JobRef, Operator, audited = true;
    /// Every plugin with its kind, health and capabilities.
    PluginsList = "plugins.list" (Empty) -> plugins::PluginList, Viewer, audited = false;
    /// The configured storage instances.
    StorageList = "storage.list" (Empty) -> plugins::StorageInstances, Viewer, audited = false;
    /// Round-trips a small object through a storage instance and reports the timings.
    StorageTest = "storage.test" (plugins::StorageRef) -> plugins::StorageTestResult, Admin, audited = true;
    /// The uploads a storage instance holds that were begun and never completed (S3
    /// multipart uploads: stored and billed, part of no object), oldest first.
    StorageUploads = "storage.uploads" (plugins::StorageRef) -> plugins::IncompleteUploads, Admin, audited = false;
    /// Discards a storage instance's incomplete uploads begun `older_than_hours` ago
    /// or earlier (default 24).
    StorageAbortUploads = "storage.abort_uploads" (plugins::AbortUploads) -> plugins::UploadsAborted, Admin, audited = true;
    /// Makes a storage instance the default for backups.
    StorageSetDefault = "storage.set_default" (plugins::InstanceRef) -> Empty, Admin, audited = true;
    /// The server's run-time settings (job concurrency, audit retention, password
    /// minimum length, default storage) and which of them were changed here.
    SettingsGet = "settings.get" (Empty) -> settings::Settings, Admin, audited = false;
    /// Changes settings (validated, all or none), or returns them to the configuration.
    SettingsUpdate = "settings.update" (settings::SettingsUpdate) -> settings::Settings, Admin, audited = true;
    /// Enables a plugin (its instances are used again).
    PluginsEnable = "plugins.enable" (plugins::PluginRef) -> Empty, Admin, audited = true;
    /// Disables a plugin: its instances are kept but not used.
    PluginsDisable = "plugins.disable" (plugins::PluginRef) -> Empty, Admin, audited = true;
    /// Every configured instance with its configuration (secrets only by name).
    PluginsInstances = "plugins.instances" (Empty) -> plugins::InstanceList, Admin, audited = false;
    /// Creates or updates an instance: validated against the plugin's schema and by
    /// the plugin's `init`; secrets sealed, write-only.
    PluginsConfigure = "plugins.configure" (plugins::ConfigureInstance) -> plugins::PluginInstance, Admin, audited = true;
    /// Removes an instance (the default storage falls back to `local`).
    PluginsUnconfigure = "plugins.unconfigure" (plugins::InstanceRef) -> Empty, Admin, audited = true;
    /// Tests an instance: a storage round trip or a test notification.
    PluginsTest = "plugins.test" (plugins::InstanceRef) -> plugins::PluginTestResult, Admin, audited = true;
    /// A ticket to upload a plugin package (a tar of `plugin.toml` and its component):
    /// `PUT /api/v1/transfers/{ticket}` answers with a [`plugins::StagedPlugin`].
    PluginsUploadTicket = "plugins.upload_ticket" (Empty) -> transfers::Ticket, Admin, audited = false;
    /// Installs or upgrades a staged package once its capabilities are approved; it is
    /// compiled only now, and nothing changes if that fails.
    PluginsInstall = "plugins.install" (plugins::InstallPlugin) -> plugins::PluginInfo, Admin, audited = true;
    /// Removes an installed plugin; refused with `conflict` while instances of it
    /// exist, and for built-ins.
    PluginsUninstall = "plugins.uninstall" (plugins::PluginRef) -> Empty, Admin, audited = true;
    /// The notifier instances (names and health, no configuration).
    NotificationsList = "notifications.list" (Empty) -> plugins::NotifierList, Viewer, audited = false;
    /// Sends a test notification through an instance; reports attempts and time.
    NotificationsTest = "notifications.test" (plugins::InstanceRef) -> plugins::NotifyTestResult, Admin, audited = true;
    /// Which events go to which notifier instance.
    NotificationsRoutes = "notifications.routes" (Empty) -> plugins::NotifyRoutes, Admin, audited = false;
    /// Sets the events of the notifier instances named; the others keep theirs.
    NotificationsSetRoutes = "notifications.set_routes" (plugins::NotifyRoutes) -> plugins::NotifyRoutes, Admin, audited = true;
    /// Queues one backup job per target (a container with its volumes, or a volume).
    BackupsCreate = "backups.create" (backups::CreateBackup) -> jobs::JobsQueued, Operator, audited = true;
    /// The catalog, newest first.
    BackupsList = "backups.list" (backups::BackupQuery) -> backups::BackupList, Viewer, audited = false;
    /// Deletes a backup from its storage and the catalog.
    BackupsDelete = "backups.delete" (backups::BackupRef) -> Empty, Admin, audited = true;
    /// Deletes several backups; one result per id.
    BackupsBulkDelete = "backups.bulk_delete" (backups::BulkDeleteBackups) -> containers::BulkResult, Admin, audited = true;
    /// The manifest and every conflict a restore with these overrides would meet.
    BackupsPreview = "backups.preview" (backups::RestoreBackup) -> backups::RestorePreview, Operator, audited = false;
    /// A ticket to download the backup as stored (encrypted ones stay encrypted):
    /// `GET /api/v1/transfers/{ticket}`, `Range` supported.
    BackupsDownloadTicket = "backups.download_ticket" (backups::BackupRef) -> transfers::Ticket, Operator, audited = true;
    /// A ticket to download several backups as one plain tar (`GET`, streamed, with
    /// `Content-Length`): each object as stored, at `<kind>-<name>/<id>.tar.gz[.enc]`.
    BackupsBundleTicket = "backups.bundle_ticket" (backups::BundleBackups) -> transfers::Ticket, Operator, audited = true;
    /// A ticket to upload a backup file: `PUT /api/v1/transfers/{ticket}` streams it
    /// into the storage, checked as it arrives; it enters the catalog only if whole
    /// and intact (the response is its catalog entry), otherwise nothing is kept.
    BackupsUploadTicket = "backups.upload_ticket" (backups::UploadBackup) -> transfers::Ticket, Operator, audited = true;
    /// Queues a catalog rebuild: every backup object of the storage the catalog does
    /// not know is read whole and, if intact, added (backups are self-describing).
    BackupsRescan = "backups.rescan" (backups::RescanStorage) -> jobs::JobRef, Operator, audited = true;
    /// Queues a restore: the container (or volume) back on this host, with overrides.
    BackupsRestore = "backups.restore" (backups::RestoreBackup) -> jobs::JobRef, Operator, audited = true;
    /// Queues a verification: the stored object re-read, its checksum, structure and
    /// every volume's contents checked against the manifest.
    BackupsVerify = "backups.verify" (backups::VerifyBackup) -> jobs::JobRef, Operator, audited = true;
    /// Queues a copy: the backup streamed to another storage, read back there and
    /// checked against its sha256, then listed in the entry's `copies`.
    BackupsCopy = "backups.copy" (backups::CopyBackup) -> jobs::JobRef, Operator, audited = true;
    /// Pins a backup (never deleted by a retention policy) or unpins it.
    BackupsPin = "backups.pin" (backups::PinBackup) -> backups::BackupEntry, Operator, audited = true;
    /// Every schedule with its next runs, description and last run.
    SchedulesList = "schedules.list" (Empty) -> schedules::ScheduleList, Viewer, audited = false;
    /// Creates a schedule, validated fully (expression, zone, targets, storage,
    /// retention); the answer holds its next 5 runs.
    SchedulesCreate = "schedules.create" (schedules::ScheduleSpec) -> schedules::ScheduleInfo, Operator, audited = true;
    /// Replaces a schedule's definition (due times start over from now).
    SchedulesUpdate = "schedules.update" (schedules::ScheduleSpec) -> schedules::ScheduleInfo, Operator, audited = true;
    /// Deletes a schedule; its history stays.
    SchedulesDelete = "schedules.delete" (schedules::ScheduleRef) -> Empty, Operator, audited = true;
    /// Pauses (`enabled: false`) or resumes a schedule; resuming does not catch up.
    SchedulesEnable = "schedules.enable" (schedules::ScheduleEnable) -> schedules::ScheduleInfo, Operator, audited = true;
    /// Runs a schedule now (recorded as manual; skipped while its last run is active).
    SchedulesRunNow = "schedules.run_now" (schedules::ScheduleRef) -> schedules::ScheduleRun, Operator, audited = true;
    /// An expression's next runs and description, without saving anything.
    SchedulesPreview = "schedules.preview" (schedules::PreviewSchedule) -> schedules::SchedulePreview, Viewer, audited = false;
    /// What a selector matches on the host now (a schedule resolves it at each run).
    SchedulesMatches = "schedules.matches" (schedules::MatchSelector) -> schedules::SelectorMatches, Viewer, audited = false;
    /// Runs, newest first: one schedule's or all.
    SchedulesHistory = "schedules.history" (schedules::HistoryQuery) -> schedules::ScheduleHistory, Viewer, audited = false;
    /// What a retention policy would keep (and why) and delete of a schedule's
    /// backups now.
    SchedulesRetentionPreview = "schedules.retention_preview" (schedules::RetentionPreviewParams) -> schedules::RetentionPreview, Viewer, audited = false;
    /// Managed stacks (folders in the stacks directory) and external compose projects,
    /// each with its services' states.
    StacksList = "stacks.list" (Empty) -> stacks::StackList, Viewer, audited = false;
    /// The same, read afresh from the directory and Docker (`stacks.list` does too;
    /// kept for the contract).
    StacksScan = "stacks.scan" (Empty) -> stacks::StackList, Viewer, audited = false;
    /// A stack's compose file and `.env` (values redacted below operator).
    StacksGet = "stacks.get" (stacks::StackRef) -> stacks::StackDetail, Viewer, audited = false;
    /// Validates a compose file (YAML, the compose shape, then the compose CLI's
    /// `config` check) without saving it.
    StacksValidate = "stacks.validate" (stacks::StackFiles) -> stacks::Validation, Viewer, audited = false;
    /// Creates a stack's folder with its files (validated unless `draft`).
    StacksCreate = "stacks.create" (stacks::StackFiles) -> stacks::StackDetail, Admin, audited = true;
    /// Saves a stack's files (validated unless `draft`); the previous version is kept.
    StacksSave = "stacks.save" (stacks::StackFiles) -> stacks::StackDetail, Admin, audited = true;
    /// Deletes a stack's folder, optionally after `compose down`.
    StacksDelete = "stacks.delete" (stacks::StackDelete) -> Empty, Admin, audited = true;
    /// A stack's earlier versions, newest first.
    StacksHistory = "stacks.history" (stacks::StackRef) -> stacks::StackHistory, Admin, audited = false;
    /// Saves an earlier version as the current one (the current one is kept too).
    StacksRestoreVersion = "stacks.restore_version" (stacks::VersionRef) -> stacks::StackDetail, Admin, audited = true;
    /// Copies an external compose project's file (and `.env`) into a new stack of the
    /// same name; relative paths it names are listed in `validation.warnings`.
    StacksAdopt = "stacks.adopt" (stacks::StackRef) -> stacks::StackDetail, Admin, audited = true;
    /// Queues `compose up -d` on a managed stack; the job's log keeps the output
    /// (`stack.output` runs the same job and streams it).
    StacksUp = "stacks.up" (stacks::StackRef) -> jobs::JobRef, Operator, audited = true;
    /// Queues `compose down` (containers and networks go; volumes stay).
    StacksDown = "stacks.down" (stacks::StackRef) -> jobs::JobRef, Operator, audited = true;
    /// Queues `compose restart`.
    StacksRestart = "stacks.restart" (stacks::StackRef) -> jobs::JobRef, Operator, audited = true;
    /// Queues `compose pull` (then `stacks.up` updates the services).
    StacksPull = "stacks.pull" (stacks::StackRef) -> jobs::JobRef, Operator, audited = true;
    /// Queues `compose stop`.
    StacksStop = "stacks.stop" (stacks::StackRef) -> jobs::JobRef, Operator, audited = true;
    /// Queues `compose start`.
    StacksStart = "stacks.start" (stacks::StackRef) -> jobs::JobRef, Operator, audited = true;
    /// A `docker run …` command line as a compose service; flags compose cannot say
    /// are listed, never dropped. Nothing runs.
    ComposeFromDockerRun = "compose.from_docker_run" (stacks::ConvertRun) -> stacks::ConvertedRun, Viewer, audited = false;
    /// Jobs, newest first.
    JobsList = "jobs.list" (jobs::JobsQuery) -> jobs::JobList, Viewer, audited = false;
    /// One job with its log.
    JobsGet = "jobs.get" (jobs::JobRef) -> jobs::JobDetail, Viewer, audited = false;
    /// Cancels a queued or running job; what it stopped is started again and nothing
    /// partial is kept.
    JobsCancel = "jobs.cancel" (jobs::JobRef) -> jobs::JobInfo, Operator, audited = true;
}

channels! {
    /// Host CPU, memory, load and data-disk space, sampled every `interval_ms`.
    SystemStats = "system.stats" (system::SystemStatsParams) -> system::SystemStats, Viewer, LatestValue, binary = false;
    /// A speed test of the link to the server: `bytes` bytes of binary frames (stream
    /// 1), sent as fast as the client's byte credit allows; `close` carries `{bytes}`.
    DiagSpeedtest = "diag.speedtest" (system::SpeedtestParams) -> system::BinaryFrames, Viewer, Backpressure, binary = true;
    /// Docker events, normalised, replayable from a cursor.
    Events = "events" (events::EventsParams) -> events::Event, Viewer, Bounded, binary = false;
    /// A container's output: binary frames, stream 1 stdout, 2 stderr (TTY: 1).
    ContainerLogs = "container.logs" (streams::LogsParams) -> system::BinaryFrames, Viewer, Backpressure, binary = true;
    /// CPU, memory, network and block I/O of running containers, about once a second;
    /// latest value wins per container.
    ContainerStats = "container.stats" (streams::StatsParams) -> streams::ContainerStats, Viewer, LatestValue, binary = false;
    /// A process in a container: binary frames both ways, `resize`, `eof`; `close`
    /// carries `exit_code`.
    Exec = "exec" (streams::ExecParams) -> system::BinaryFrames, Operator, Backpressure, binary = true, input = true;
    /// Runs `up`, `down`, `restart`, `pull`, `stop` or `start` on a managed stack with
    /// the compose CLI (as a job, in a terminal) and streams its output; `close`
    /// carries `exit_code` and `job`. Closing the channel cancels the job.
    StackOutput = "stack.output" (stacks::StackOutputParams) -> system::BinaryFrames, Operator, Backpressure, binary = true;
    /// Progress of one job, or of every job: latest value wins per job.
    JobProgress = "job.progress" (jobs::JobProgressParams) -> jobs::JobProgress, Viewer, LatestValue, binary = false;
    /// Pulls an image from its registry, reporting each layer's progress (latest value
    /// wins per layer); `close` carries `{image, id}`. Closing the channel stops it.
    ImagePull = "image.pull" (images::PullImage) -> images::PullProgress, Admin, LatestValue, binary = false;
}

/// The role table of `docs/protocol.md`, generated from the catalogue.
pub fn role_table_markdown() -> String {
    let mut s = String::from(
        "| method / channel | kind | viewer | operator | admin | audited |\n|---|---|---|---|---|---|\n",
    );
    let mark = |role: Role, need: Role| if role.allows(need) { "✓" } else { "—" };
    for m in METHODS {
        s.push_str(&format!(
            "| `{}` | method | {} | {} | {} | {} |\n",
            m.name,
            mark(Role::Viewer, m.role),
            mark(Role::Operator, m.role),
            mark(Role::Admin, m.role),
            if m.audited { "yes" } else { "no" }
        ));
    }
    for c in CHANNELS {
        s.push_str(&format!(
            "| `{}` | channel ({}) | {} | {} | {} | no |\n",
            c.name,
            serde_json::to_value(c.overflow)
                .expect("enum")
                .as_str()
                .unwrap_or(""),
            mark(Role::Viewer, c.role),
            mark(Role::Operator, c.role),
            mark(Role::Admin, c.role),
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_noun_dot_verb() {
        let mut names: Vec<&str> = METHODS.iter().map(|m| m.name).collect();
        names.extend(CHANNELS.iter().map(|c| c.name));
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), names.len(), "duplicate names");
        for n in names {
            // Methods are noun.verb; channel kinds are nouns (`events`, `exec`).
            let is_method = METHODS.iter().any(|m| m.name == n);
            assert!(
                (n.contains('.') || !is_method)
                    && n.bytes()
                        .all(|b| b.is_ascii_lowercase() || b"._".contains(&b)),
                "{n}"
            );
        }
    }

    #[test]
    fn admin_only_areas_are_admin_only() {
        for m in METHODS {
            if m.name.starts_with("users.") || m.name.starts_with("audit.") {
                assert_eq!(m.role, Role::Admin, "{}", m.name);
            }
        }
    }
}
