use berth_protocol::error::ErrorBody;

/// Everything a client call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server could not be reached, or refused the upgrade.
    #[error("cannot connect: {0}")]
    Connect(String),
    /// The server answered the request (or the channel) with an error.
    #[error("{}: {}", code_str(.0), .0.message)]
    Server(ErrorBody),
    /// The connection closed (code and reason from the close frame, if any).
    #[error("connection closed ({code}{})", if reason.is_empty() { String::new() } else { format!(": {reason}") })]
    Closed { code: u16, reason: String },
    /// The server sent something this client does not understand.
    #[error("protocol error: {0}")]
    Protocol(String),
}

fn code_str(e: &ErrorBody) -> String {
    serde_json::to_value(e.code)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

impl ClientError {
    /// The protocol error body, for server errors.
    pub fn body(&self) -> Option<&ErrorBody> {
        match self {
            Self::Server(b) => Some(b),
            _ => None,
        }
    }

    /// Whether retrying later may succeed (a retryable server error or a lost connection).
    pub fn retryable(&self) -> bool {
        match self {
            Self::Server(b) => b.retryable,
            Self::Connect(_) | Self::Closed { .. } => true,
            Self::Protocol(_) => false,
        }
    }
}
