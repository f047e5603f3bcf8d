//! What a failure means to whoever asked, shared by the domain crates' own error
//! types: the server maps a [`Kind`] to a protocol error code in one place, and the job
//! queue records its name. The domain crates never name the wire's error types.

/// Logs an unexpected failure (a bug) with its cause under a fresh trace id, and
/// returns the id: users get the id, never the cause.
pub fn log_internal(cause: &dyn std::fmt::Display) -> String {
    let mut id = [0u8; 8];
    getrandom::fill(&mut id).expect("the OS random source works");
    let trace_id = hex::encode(id);
    tracing::error!(trace_id, error = %cause, "internal error");
    trace_id
}

/// The meaning of a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The request is wrong (a bad name, a bad value): retrying it as is will not help.
    BadRequest,
    NotFound,
    /// Something is in the way (in use, exists already, a job holds it).
    Conflict,
    /// The caller may not do this.
    Forbidden,
    /// Something needed is away (Docker, a plugin, a storage): retrying may help.
    Unavailable,
    Timeout,
    Cancelled,
    RateLimited,
    /// A stream lost data.
    Overflow,
    /// A bug or an unexpected state.
    Internal,
}

impl Kind {
    /// The protocol's name of the matching error code (`not_found`), also what a job
    /// records.
    pub fn name(self) -> &'static str {
        match self {
            Kind::BadRequest => "bad_request",
            Kind::NotFound => "not_found",
            Kind::Conflict => "conflict",
            Kind::Forbidden => "forbidden",
            Kind::Unavailable => "unavailable",
            Kind::Timeout => "timeout",
            Kind::Cancelled => "cancelled",
            Kind::RateLimited => "rate_limited",
            Kind::Overflow => "overflow",
            Kind::Internal => "internal",
        }
    }
}
