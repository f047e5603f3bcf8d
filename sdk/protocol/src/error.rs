//! Protocol errors (`shared/spec/protocol-v1.md` §4).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Stable, snake_case error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    BadRequest,
    ProtocolError,
    Unauthenticated,
    Forbidden,
    NotFound,
    Conflict,
    Cancelled,
    Timeout,
    Unsupported,
    HelloTimeout,
    DuplicateChannel,
    RateLimited,
    TooManyChannels,
    SlowConsumer,
    Overflow,
    Unavailable,
    Internal,
    /// A code from a newer server; clients treat it like `internal`.
    #[serde(other)]
    Unknown,
}

impl ErrorCode {
    /// Whether retrying the same request later may succeed.
    pub fn retryable(self) -> bool {
        matches!(
            self,
            Self::Unavailable
                | Self::Timeout
                | Self::RateLimited
                | Self::Overflow
                | Self::SlowConsumer
        )
    }
}

/// `{"code","message","retryable","details"?}`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ErrorBody {
    pub code: ErrorCode,
    pub message: String,
    pub retryable: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<Value>,
}

impl ErrorBody {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            retryable: code.retryable(),
            details: None,
        }
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    /// With typed `details` (one of [`details`]' structs).
    pub fn with(self, details: &impl Serialize) -> Self {
        match serde_json::to_value(details) {
            Ok(v) => self.with_details(v),
            Err(_) => self,
        }
    }
}

/// The typed `details` of errors, where a detail is part of the contract: clients
/// read them to point at a form field, list what stands in the way, or ask for an
/// approval. Each is an object; an error carries at most one.
pub mod details {
    use schemars::JsonSchema;
    use serde::{Deserialize, Serialize};

    /// `bad_request` / `not_found` about one request field.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
    pub struct Field {
        pub field: String,
    }

    /// A restore meets `conflicts` things in its way; the message names the first.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
    pub struct Conflicts {
        pub field: String,
        pub conflicts: usize,
    }

    /// Replacing these volumes' contents needs an admin (`forbidden`).
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
    pub struct Overwrites {
        pub field: String,
        pub overwrites: Vec<String>,
    }

    /// Host-level settings (or a foreign origin) an admin must approve by key.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
    pub struct NeedsApproval {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub field: Option<String>,
        pub needs_approval: Vec<String>,
    }

    /// The containers using a volume or network that cannot be removed.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
    pub struct UsedBy {
        pub used_by: Vec<String>,
    }

    /// The plugin a failure is about.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
    pub struct Plugin {
        pub plugin: String,
    }

    /// `internal`: the server log has the cause under this id.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
    pub struct Trace {
        pub trace_id: String,
    }
}

/// WebSocket close codes the server uses.
pub mod close {
    /// Server shutting down (`bye` precedes it).
    pub const GOING_AWAY: u16 = 1001;
    /// A text message over `max_text_bytes`.
    pub const MESSAGE_TOO_BIG: u16 = 1009;
    /// Socket writes stalled past the deadline.
    pub const SLOW_CONSUMER: u16 = 4008;
    /// Framing violation.
    pub const PROTOCOL_ERROR: u16 = 4400;
    /// No or expired credentials.
    pub const UNAUTHENTICATED: u16 = 4401;
    /// No `hello` in time.
    pub const HELLO_TIMEOUT: u16 = 4408;
    /// A channel id reused.
    pub const DUPLICATE_CHANNEL: u16 = 4409;
}
