//! The `events` channel: Docker events, normalised, from one subscription per host,
//! and Berth's own (`job`, `backup`, `plugin`, `schedule`) in the same stream.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct EventsParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Reopen after this event (the `cursor` of the last event seen, or of an
    /// `overflow` close): events still in the host's log are replayed first. A cursor
    /// older than the log closes the channel with `overflow` at once — refetch state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    /// Without `since`: first the last `replay` logged events that match the filters
    /// (oldest first, at most 1,000), so a page that opens shows what happened just
    /// before it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay: Option<u32>,
    #[serde(default)]
    pub filters: EventFilters,
}

/// Empty lists match everything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct EventFilters {
    /// container, image, volume, network, host; Berth's own: job, backup, plugin,
    /// schedule.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub types: Vec<String>,
    /// Container ids (full) or names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub containers: Vec<String>,
    /// Leave out the events of Berth's helper containers (see [`Event::helper`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub exclude_helpers: bool,
}

/// One event. `type` `host` with action `connected` / `disconnected` is Berth's own:
/// after `connected` (the daemon came back) clients refetch the lists, since events
/// were missed while it was away. Berth's work comes as further types:
/// - `job`: `queued`, `started`, `finished` (`state` complete, failed or cancelled;
///   `message` the outcome); `id` the job, `name` its title, `kind` its kind;
/// - `backup`: `created`, `deleted`; `id` the backup, `name` and `kind` its target,
///   `job` the job that did it (none for a deletion by hand or an upload);
/// - `plugin`: `unhealthy` (`message` why), `recovered`;
/// - `schedule`: `fired`, `skipped`, `missed`, `failed` (queueing failed) and
///   `finished` when a run's jobs have ended (`state` succeeded or failed); `id` and
///   `name` the schedule, `kind` its action, `message` the run's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Event {
    #[serde(rename = "type")]
    pub typ: String,
    pub action: String,
    /// The object's id (container id, image id, volume or network name).
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack: Option<String>,
    /// For containers: the state the action leaves it in (running, paused, exited…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// For `die`: the exit code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i64>,
    /// A job's kind, or what a backup or a schedule acts on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The job behind a `backup` event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
    /// An outcome in words (a failed job's error, a schedule run's result).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// One of Berth's helper containers (volume reads and writes for backups and the
    /// volume browser), or a volume or network event caused by one: noise on an
    /// activity list.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub helper: bool,
    /// RFC 3339.
    pub time: String,
    /// Opaque; reopen with `since` = this to continue after this event.
    pub cursor: String,
}

/// `close` payload of an `events` channel that overflowed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct EventsCursor {
    pub cursor: String,
}
