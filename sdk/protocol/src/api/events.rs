//! The `events` channel: Docker events, normalised, from one subscription per host.

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
    #[serde(default)]
    pub filters: EventFilters,
}

/// Empty lists match everything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct EventFilters {
    /// container, image, volume, network, host.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub types: Vec<String>,
    /// Container ids (full) or names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub containers: Vec<String>,
}

/// One event. `type` `host` with action `connected` / `disconnected` is Berth's own:
/// after `connected` (the daemon came back) clients refetch the lists, since events
/// were missed while it was away.
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
